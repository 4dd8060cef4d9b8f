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

Result<WorkerRole> role_for_worker(const AccuracyProfile& profile, const ServedModel& w) {
  auto named = [&](const std::string& name) {
    size_t m = 0;
    while (m < profile.members.size() && profile.members[m].name != name) ++m;
    return m;
  };
  size_t m = named(w.member);
  if (m == profile.members.size()) m = named(w.model);
  if (m == profile.members.size()) {
    return Status(StatusCode::kNotFound, "the profile has no member '" + w.member + "'");
  }
  const ProfileMember& pm = profile.members[m];
  WorkerRole role;
  role.member = static_cast<int>(m);
  role.macs = w.macs;
  for (const std::string& s : w.subnets) {
    const auto it = std::find(pm.subnets.begin(), pm.subnets.end(), s);
    if (it == pm.subnets.end()) {
      return Status(StatusCode::kNotFound, "the profile has no subnet '" + s + "' of '" + pm.name + "'");
    }
    role.profile_subnet.push_back(static_cast<int>(it - pm.subnets.begin()));
  }
  return role;
}

}  // namespace shoal
