// The accuracy profile file (schema/profile.fbs): an EnsembleProfile with the members it
// was measured for, so a master can use it without measuring accuracy itself.
#ifndef SHOAL_PROFILE_FILE_H_
#define SHOAL_PROFILE_FILE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "shoal/ensemble_profile.h"
#include "shoal/policy.h"

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

// What one worker serves: its member's name (by default its model's), its model's name,
// and its subnets' names and costs.
struct ServedModel {
  std::string member, model;
  std::vector<std::string> subnets;
  std::vector<uint64_t> macs;
};
// One worker's role against the profile: which member it serves (matched by member name,
// else model name; workers serving the same member are replicas of it) and where each of its
// subnets is; kNotFound, saying which, when its member or a subnet is not in the profile.
Result<WorkerRole> role_for_worker(const AccuracyProfile& profile, const ServedModel& worker);

}  // namespace shoal

#endif  // SHOAL_PROFILE_FILE_H_
