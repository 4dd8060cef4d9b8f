#include "member_outputs.h"

#include <cmath>
#include <map>

#include "shoal/engine.h"
#include "shoal/stats.h"

namespace shoal::cli {

std::vector<std::vector<uint64_t>> MemberOutputs::macs() const {
  std::vector<std::vector<uint64_t>> out;
  for (const ProfileMember& m : members) out.push_back(m.macs);
  return out;
}

std::vector<uint8_t> ensemble_correct(const MemberOutputs& outputs, const Config& config, const uint8_t* labels,
                                      uint32_t count) {
  std::vector<uint8_t> right(count);
  std::vector<const float*> members(config.size());
  std::vector<float> mean(outputs.classes);
  for (uint32_t i = 0; i < count; ++i) {
    members.clear();
    for (size_t m = 0; m < config.size(); ++m) {
      if (config[m] >= 0) members.push_back(outputs.probabilities[m][static_cast<size_t>(config[m])].data() + size_t{i} * outputs.classes);
    }
    average_probabilities(members, outputs.classes, mean.data());
    uint32_t best = 0;
    for (uint32_t c = 1; c < outputs.classes; ++c) best = mean[c] > mean[best] ? c : best;
    right[i] = best == labels[i];
  }
  return right;
}

std::string describe_config(const AccuracyProfile& p, const int8_t* choice) {
  std::string text;
  for (size_t m = 0; m < p.members.size(); ++m) {
    if (choice[m] < 0) continue;
    text += (text.empty() ? "" : " + ") + p.members[m].name + "@" + p.members[m].subnets[static_cast<size_t>(choice[m])];
  }
  return text;
}

std::vector<Fig3Point> fig3_points(const AccuracyProfile& p) {
  std::map<std::pair<uint32_t, long>, Fig3Point> best;
  const EnsembleProfile& t = p.table;
  for (size_t r = t.size(); r-- > 0;) {  // least accurate first, so better ones overwrite
    const int8_t* c = t.ranked_choices(r);
    Fig3Point pt;
    for (size_t m = 0; m < p.members.size(); ++m) {
      if (c[m] < 0) continue;
      ++pt.members;
      pt.total_width += p.members[m].widths[static_cast<size_t>(c[m])];
    }
    pt.accuracy = t.ranked_accuracy(r);
    pt.config = describe_config(p, c);
    best[{pt.members, std::lround(pt.total_width * 100)}] = pt;
  }
  std::vector<Fig3Point> out;
  for (auto& [key, pt] : best) out.push_back(pt);
  return out;
}

Chart fig3_chart(const std::vector<Fig3Point>& points, uint32_t members, uint32_t images, const std::string& title) {
  Chart chart;
  chart.title = title;
  chart.x_label = "total width of the members used";
  chart.y_label = "ensemble accuracy";
  chart.percent = true;
  for (uint32_t k = 1; k <= members; ++k) {
    ChartSeries series{std::to_string(k) + (k > 1 ? " members" : " member"), {}};
    for (const Fig3Point& p : points) {
      if (p.members != k) continue;
      Interval ci;
      if (images > 0) ci = wilson_interval(static_cast<uint64_t>(std::lround(p.accuracy * images)), images);
      series.points.push_back({p.total_width, p.accuracy, ci.lo, ci.hi, p.config});
    }
    chart.series.push_back(std::move(series));
  }
  return chart;
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
