#include "shoal/profile_file.h"

#include <algorithm>
#include <fstream>
#include <iterator>

#include "shoal/schema/profile_generated.h"

namespace shoal {

std::vector<uint8_t> serialize_profile(const AccuracyProfile& p) {
  flatbuffers::FlatBufferBuilder fbb(4096);
  std::vector<flatbuffers::Offset<fb::ProfileMember>> members;
  for (const ProfileMember& m : p.members) {
    std::vector<flatbuffers::Offset<flatbuffers::String>> subnets;
    for (const std::string& s : m.subnets) subnets.push_back(fbb.CreateString(s));
    members.push_back(fb::CreateProfileMemberDirect(fbb, m.name.c_str(), m.file.c_str(), &subnets, &m.widths, &m.macs));
  }
  const auto profile = fb::CreateProfileDirect(fbb, 1, p.images.c_str(), p.count, &members, &p.table.accuracy_by_code());
  fb::FinishProfileBuffer(fbb, profile);
  return std::vector<uint8_t>(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
}

Result<AccuracyProfile> read_profile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(StatusCode::kNotFound, "cannot open profile " + path);
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
  const auto corrupt = [&](const std::string& why) {
    return Status(StatusCode::kCorrupt,
                  path + " is not a usable accuracy profile: " + why + " (make one with 'shoal profile accuracy')");
  };
  flatbuffers::Verifier verifier(bytes.data(), bytes.size());
  if (bytes.size() < 8 || !fb::ProfileBufferHasIdentifier(bytes.data()) || !fb::VerifyProfileBuffer(verifier)) {
    return corrupt("not a shoal profile, or damaged");
  }
  const fb::Profile* p = fb::GetProfile(bytes.data());
  if (p->version() != 1) return corrupt("version " + std::to_string(p->version()) + " (this shoal reads 1)");
  AccuracyProfile out;
  out.images = p->images() ? p->images()->str() : "";
  out.count = p->count();
  std::vector<uint32_t> subnets;
  std::vector<std::vector<uint64_t>> macs;
  for (const fb::ProfileMember* m : *p->members()) {
    ProfileMember pm;
    pm.name = m->name()->str();
    pm.file = m->file() ? m->file()->str() : "";
    for (const auto* s : *m->subnets()) pm.subnets.push_back(s->str());
    if (m->widths()) pm.widths.assign(m->widths()->begin(), m->widths()->end());
    if (m->macs()) pm.macs.assign(m->macs()->begin(), m->macs()->end());
    if (pm.macs.size() != pm.subnets.size()) pm.macs.assign(pm.subnets.size(), 0);
    if (pm.widths.size() != pm.subnets.size()) pm.widths.assign(pm.subnets.size(), 0.0f);
    subnets.push_back(static_cast<uint32_t>(pm.subnets.size()));
    macs.push_back(pm.macs);
    out.members.push_back(std::move(pm));
  }
  Result<EnsembleProfile> table = EnsembleProfile::from_table(
      subnets, macs, std::vector<float>(p->accuracy()->begin(), p->accuracy()->end()));
  if (!table.is_ok()) return corrupt(table.status().message());
  out.table = std::move(table.value());
  return out;
}

Result<EnsembleProfile> profile_for_workers(const AccuracyProfile& profile, const std::vector<ServedModel>& workers) {
  // member_of[w], subnet_map[w][s]: where worker w's subnet s is in the profile.
  std::vector<size_t> member_of;
  std::vector<std::vector<int>> subnet_map;
  std::vector<uint32_t> subnets;
  std::vector<std::vector<uint64_t>> macs;
  for (size_t w = 0; w < workers.size(); ++w) {
    size_t m = 0;
    while (m < profile.members.size() && profile.members[m].name != workers[w].name) ++m;
    if (m == profile.members.size()) {
      return Status(StatusCode::kInvalidArgument, "the profile has no member '" + workers[w].name +
                                                      "' (profile every worker's model together)");
    }
    if (std::find(member_of.begin(), member_of.end(), m) != member_of.end()) {
      return Status(StatusCode::kInvalidArgument, "two workers serve '" + workers[w].name + "'; the profile holds each member once");
    }
    member_of.push_back(m);
    const ProfileMember& pm = profile.members[m];
    subnet_map.emplace_back();
    macs.emplace_back();
    for (const std::string& s : workers[w].subnets) {
      const auto it = std::find(pm.subnets.begin(), pm.subnets.end(), s);
      if (it == pm.subnets.end()) {
        return Status(StatusCode::kInvalidArgument, "the profile has no subnet '" + s + "' of '" + pm.name + "'");
      }
      subnet_map.back().push_back(static_cast<int>(it - pm.subnets.begin()));
      macs.back().push_back(pm.macs[static_cast<size_t>(subnet_map.back().back())]);
    }
    subnets.push_back(static_cast<uint32_t>(workers[w].subnets.size()));
  }
  uint64_t total = 1;
  for (uint32_t s : subnets) total *= s + 1;
  if (workers.empty() || total > (1u << 22)) return Status(StatusCode::kInvalidArgument, "1 to 12 workers, please");
  std::vector<float> by_code(total, 0.0f);
  Config config(workers.size()), theirs(profile.members.size());
  for (uint64_t code = 1; code < total; ++code) {
    uint64_t rest = code;
    std::fill(theirs.begin(), theirs.end(), -1);
    for (size_t w = 0; w < workers.size(); ++w) {
      const int s = static_cast<int>(rest % (subnets[w] + 1)) - 1;
      rest /= subnets[w] + 1;
      theirs[member_of[w]] = s < 0 ? -1 : subnet_map[w][static_cast<size_t>(s)];
    }
    by_code[code] = static_cast<float>(profile.table.accuracy(theirs));
  }
  return EnsembleProfile::from_table(subnets, macs, std::move(by_code));
}

}  // namespace shoal
