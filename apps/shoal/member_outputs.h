// Every subnet of every member run over the same labelled images: the class probabilities
// that `shoal profile` turns into an ensemble profile and `shoal experiment` into figures.
#ifndef SHOAL_APPS_MEMBER_OUTPUTS_H_
#define SHOAL_APPS_MEMBER_OUTPUTS_H_

#include <string>
#include <vector>

#include "command.h"
#include "shoal/dataset.h"
#include "shoal/profile_file.h"

namespace shoal::cli {

struct MemberOutputs {
  std::vector<ProfileMember> members;  // name (distinct), file, subnets, widths, MACs
  // probabilities[m][s]: count x classes, member m at subnet s, image by image.
  std::vector<std::vector<std::vector<float>>> probabilities;
  uint32_t classes = 0;

  std::vector<std::vector<uint64_t>> macs() const;
  // Whether member m at subnet s got image i right.
  bool correct(size_t m, size_t s, size_t i, uint8_t label) const;
};

// Runs images first .. first + count - 1 through every subnet of every file's model (with
// the fastest kernels of this CPU), showing progress unless `quiet`.
Result<MemberOutputs> run_members(const std::vector<std::string>& files, const Images& images, uint32_t first,
                                  uint32_t count, bool quiet);

}  // namespace shoal::cli

#endif  // SHOAL_APPS_MEMBER_OUTPUTS_H_
