// The accuracy profile file (schema/profile.fbs): an EnsembleProfile with the members it
// was measured for, so a master can use it without measuring accuracy itself.
#ifndef SHOAL_PROFILE_FILE_H_
#define SHOAL_PROFILE_FILE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "shoal/scheduler.h"

namespace shoal {

struct ProfileMember {
  std::string name, file;
  std::vector<std::string> subnets;
  std::vector<float> widths;
  std::vector<uint64_t> macs;
};

struct AccuracyProfile {
  std::string images;  // what it was measured on
  uint32_t count = 0;
  std::vector<ProfileMember> members;
  EnsembleProfile table;  // over `members`, in that order
};

std::vector<uint8_t> serialize_profile(const AccuracyProfile& profile);
Result<AccuracyProfile> read_profile(const std::string& path);

// What one worker serves: its model's name and its subnets' names.
struct ServedModel {
  std::string name;
  std::vector<std::string> subnets;
};
// The profile re-indexed to these workers (matched by model name, subnets by name). Fails,
// saying which, when a worker's model or subnet is not in the profile or a model is served
// twice (the profile holds each member once).
Result<EnsembleProfile> profile_for_workers(const AccuracyProfile& profile, const std::vector<ServedModel>& workers);

}  // namespace shoal

#endif  // SHOAL_PROFILE_FILE_H_
