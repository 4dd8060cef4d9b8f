// Every subnet of every member run over the same labelled images: the class probabilities
// that `shoal profile` turns into an ensemble profile and `shoal experiment` into figures.
#ifndef SHOAL_APPS_MEMBER_OUTPUTS_H_
#define SHOAL_APPS_MEMBER_OUTPUTS_H_

#include <string>
#include <vector>

#include "command.h"
#include "shoal/dataset.h"
#include "shoal/profile_file.h"
#include "svg_chart.h"

namespace shoal::cli {

struct MemberOutputs {
  std::vector<ProfileMember> members;  // name (distinct), file, subnets, widths, MACs
  // probabilities[m][s]: count x classes, member m at subnet s, image by image.
  std::vector<std::vector<std::vector<float>>> probabilities;
  uint32_t classes = 0;

  std::vector<std::vector<uint64_t>> macs() const;
};

// An ensemble's answers: the members' probabilities averaged (config: a subnet per member,
// -1 where unused), 1 per image it gets right.
std::vector<uint8_t> ensemble_correct(const MemberOutputs& outputs, const Config& config, const uint8_t* labels,
                                      uint32_t count);

// AdaEnsemble Fig. 3: for each number of members and total width, the most accurate
// configuration of a profile.
struct Fig3Point {
  uint32_t members = 0;
  double total_width = 0, accuracy = 0;
  std::string config;  // "s1@w0.5 + s5@w0.5"
};
std::vector<Fig3Point> fig3_points(const AccuracyProfile& profile);
// "a@w0.5 + b@w1.0" for a configuration (a subnet per member, -1 unused).
std::string describe_config(const AccuracyProfile& profile, const int8_t* choice);
// The figure: a line per number of members; with `images` > 0, 95 % intervals as error bars.
Chart fig3_chart(const std::vector<Fig3Point>& points, uint32_t members, uint32_t images, const std::string& title);

// Runs images first .. first + count - 1 through every subnet of every file's model (with
// the fastest kernels of this CPU), showing progress unless `quiet`.
Result<MemberOutputs> run_members(const std::vector<std::string>& files, const Images& images, uint32_t first,
                                  uint32_t count, bool quiet);

}  // namespace shoal::cli

#endif  // SHOAL_APPS_MEMBER_OUTPUTS_H_
