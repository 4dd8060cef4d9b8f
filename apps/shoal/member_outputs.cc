#include "member_outputs.h"

#include "shoal/engine.h"

namespace shoal::cli {

std::vector<std::vector<uint64_t>> MemberOutputs::macs() const {
  std::vector<std::vector<uint64_t>> out;
  for (const ProfileMember& m : members) out.push_back(m.macs);
  return out;
}

bool MemberOutputs::correct(size_t m, size_t s, size_t i, uint8_t label) const {
  const float* p = probabilities[m][s].data() + i * classes;
  uint32_t best = 0;
  for (uint32_t c = 1; c < classes; ++c) best = p[c] > p[best] ? c : best;
  return best == label;
}

Result<MemberOutputs> run_members(const std::vector<std::string>& files, const Images& images, uint32_t first,
                                  uint32_t count, bool quiet) {
  MemberOutputs out;
  Progress progress(quiet);
  std::vector<float> in;
  for (const std::string& file : files) {
    auto model = Model::from_file(file);
    if (!model.is_ok()) return model.status();
    const Model& m = model.value();
    auto engine = Engine::create(m);
    if (!engine.is_ok()) return engine.status();
    ProfileMember member;
    member.name = m.fb().name() ? m.fb().name()->str() : file;
    for (const ProfileMember& other : out.members) {
      if (other.name == member.name) {
        return Status(StatusCode::kInvalidArgument, "two members are named '" + member.name + "'; each must be distinct");
      }
    }
    member.file = file;
    const uint32_t out_tensor = m.fb().output();
    out.probabilities.emplace_back();
    for (uint32_t s = 0; s < m.fb().subnets()->size(); ++s) {
      const fb::Subnet* sub = m.fb().subnets()->Get(s);
      member.subnets.push_back(sub->name()->str());
      member.widths.push_back(sub->width());
      member.macs.push_back(m.cost(s).macs);
      const size_t n = engine.value()->packed_size(s, out_tensor);
      if (out.classes == 0) out.classes = static_cast<uint32_t>(n);
      if (n != out.classes) {
        return Status(StatusCode::kInvalidArgument, file + " has " + std::to_string(n) + " classes, not " + std::to_string(out.classes));
      }
      std::vector<float> probs(size_t{count} * out.classes);
      for (uint32_t i = 0; i < count; ++i) {
        Status st = image_to_input(images, first + i, m, Fit::kExact, &in);
        if (!st.is_ok()) return st;
        st = engine.value()->run(s, in.data(), in.size(), probs.data() + size_t{i} * out.classes, out.classes);
        if (!st.is_ok()) return st;
        progress.update(member.name + " " + member.subnets.back(), i + 1, count);
      }
      out.probabilities.back().push_back(std::move(probs));
    }
    out.members.push_back(std::move(member));
  }
  progress.done();
  return out;
}

}  // namespace shoal::cli
