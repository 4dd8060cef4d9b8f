// The accuracy experiments: AdaEnsemble's Fig. 3 and the ensembles' gain from the shipped
// slimmable members, and VIP's table from the shipped variants, on the Fashion-MNIST test set.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

#include "experiment.h"
#include "member_outputs.h"
#include "svg_chart.h"

namespace shoal::cli {
namespace {

double accuracy_of(const std::vector<uint8_t>& right) {
  size_t n = 0;
  for (uint8_t r : right) n += r;
  return right.empty() ? 0.0 : static_cast<double>(n) / static_cast<double>(right.size());
}

Interval interval_of(const std::vector<uint8_t>& right) {
  size_t n = 0;
  for (uint8_t r : right) n += r;
  return wilson_interval(n, right.size());
}

// One accuracy: its value and interval in JSON, a bar in a chart.
void accuracy_json(Json& j, const std::vector<uint8_t>& right) {
  j.field("accuracy", accuracy_of(right));
  interval_json(j, "ci95", interval_of(right));
}

ChartPoint bar(double category, const std::vector<uint8_t>& right, const std::string& tip = "") {
  const Interval ci = interval_of(right);
  return {category, accuracy_of(right), ci.lo, ci.hi, tip};
}

void difference_json(Json& j, const std::string& key, const PairedDifference& d) {
  j.key(key).begin_object().field("mean", d.mean);
  interval_json(j, "ci95", d.interval);
  j.end_object();
}

std::string points(double fraction) {
  char text[32];
  std::snprintf(text, sizeof(text), "%+.2f", fraction * 100);
  return text;
}

std::string percent(double fraction) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.2f %%", fraction * 100);
  return text;
}

std::string difference_text(const PairedDifference& d) {
  return points(d.mean) + " points [" + points(d.interval.lo) + ", " + points(d.interval.hi) + "]";
}

// Member m alone at subnet s, every other member unused.
Config alone(size_t members, size_t m, int s) {
  Config c(members, -1);
  c[m] = s;
  return c;
}

// The first k members, all at subnet s.
Config first_k(size_t members, size_t k, int s) {
  Config c(members, -1);
  for (size_t m = 0; m < k; ++m) c[m] = s;
  return c;
}

// The most accurate member alone at subnet s (the first of a tie) and its answers.
std::pair<size_t, std::vector<uint8_t>> best_single(const MemberOutputs& o, int s, const uint8_t* labels, uint32_t n) {
  std::pair<size_t, std::vector<uint8_t>> best;
  for (size_t m = 0; m < o.members.size(); ++m) {
    std::vector<uint8_t> right = ensemble_correct(o, alone(o.members.size(), m, s), labels, n);
    if (best.second.empty() || accuracy_of(right) > accuracy_of(best.second)) best = {m, std::move(right)};
  }
  return best;
}

int subnet_of_width(const ProfileMember& member, double width) {
  for (size_t s = 0; s < member.widths.size(); ++s) {
    if (std::fabs(member.widths[s] - width) < 1e-6) return static_cast<int>(s);
  }
  return -1;
}

}  // namespace

Status experiment_members(const ExperimentSetup& setup) {
  const std::vector<std::string> files = shipped(setup.models, "resnet8-slim-s", ".shoal");
  if (files.size() < 2) return Status(StatusCode::kNotFound, "no slimmable members (resnet8-slim-s*.shoal) in " + setup.models);
  auto data = test_set(setup.images);
  if (!data.is_ok()) return data.status();
  const uint32_t n = data->images.count;
  auto outputs = run_members(files, data->images, 0, n, setup.quiet);
  if (!outputs.is_ok()) return outputs.status();
  const MemberOutputs& o = outputs.value();
  const size_t members = o.members.size();
  const uint8_t* labels = data->labels.data();
  AccuracyProfile profile;
  profile.count = n;
  profile.members = o.members;
  auto table = EnsembleProfile::measure(o.probabilities, o.macs(), data->labels, o.classes);
  if (!table.is_ok()) return table.status();
  profile.table = std::move(table.value());

  Json j;
  j.begin_object().field("experiment", "members").field("images", n).field("test_set", "Fashion-MNIST t10k");
  j.key("members").begin_array();
  for (size_t m = 0; m < members; ++m) {
    j.begin_object().field("name", o.members[m].name).field("file", o.members[m].file).key("subnets").begin_array();
    for (size_t s = 0; s < o.members[m].subnets.size(); ++s) {
      j.begin_object().field("subnet", o.members[m].subnets[s]);
      accuracy_json(j, ensemble_correct(o, alone(members, m, static_cast<int>(s)), labels, n));
      j.end_object();
    }
    j.end_array().end_object();
  }
  j.end_array();

  // Fig. 3.
  const std::vector<Fig3Point> fig3 = fig3_points(profile);
  j.key("fig3_best_by_members_and_width").begin_array();
  for (const Fig3Point& p : fig3) {
    j.begin_object().field("members", p.members).field("total_width", p.total_width).field("accuracy", p.accuracy);
    interval_json(j, "ci95", wilson_interval(static_cast<uint64_t>(std::lround(p.accuracy * n)), n));
    j.field("config", p.config).end_object();
  }
  j.end_array();
  Status st = write_text(setup, "members-fig3.svg",
                         line_chart(fig3_chart(fig3, static_cast<uint32_t>(members), n,
                                               "AdaEnsemble Fig. 3: best ensemble by members and total width (95% CI)")));
  if (!st.is_ok()) return st;

  // The gain of k members at one width over the best single member at that width.
  const ProfileMember& first = o.members[0];
  Chart gain = accuracy_chart("Ensembles of k members at one width (first k members; 1: the best member)", "width of every member");
  for (size_t k = 1; k <= members; ++k) gain.series.push_back({k == 1 ? "best single" : std::to_string(k) + " members", {}});
  std::string summary;
  j.key("same_width_ensembles").begin_array();
  for (size_t s = 0; s < first.subnets.size(); ++s) {
    const int subnet = static_cast<int>(s);
    gain.categories.push_back(first.subnets[s]);
    const auto [best_member, single] = best_single(o, subnet, labels, n);
    gain.series[0].points.push_back(bar(static_cast<double>(s), single, o.members[best_member].name));
    j.begin_object().field("subnet", first.subnets[s]).field("best_single", o.members[best_member].name);
    accuracy_json(j, single);
    j.key("ensembles").begin_array();
    for (size_t k = 2; k <= members; ++k) {
      const std::vector<uint8_t> right = ensemble_correct(o, first_k(members, k, subnet), labels, n);
      const PairedDifference d = paired_difference(right, single);
      gain.series[k - 1].points.push_back(bar(static_cast<double>(s), right));
      j.begin_object().field("members", static_cast<uint32_t>(k));
      accuracy_json(j, right);
      difference_json(j, "over_best_single", d);
      j.end_object();
      if (k == members) {
        summary += "  " + std::to_string(k) + " members at " + first.subnets[s] + ": " + percent(accuracy_of(right)) + ", " + difference_text(d) + " over the best single member\n";
      }
    }
    j.end_array().end_object();
  }
  j.end_array();
  st = write_text(setup, "members-gain.svg", bar_chart(gain));
  if (!st.is_ok()) return st;

  // Narrow members against one member of the same total width (AdaEnsemble Fig. 3's claim).
  Chart narrow = accuracy_chart("k narrow members against one member of the same total width (95% CI)", "narrow ensemble vs one wide member");
  narrow.series = {{"k narrow members", {}}, {"best single wide member", {}}};
  j.key("narrow_vs_wide").begin_array();
  for (double w : {0.25, 0.5}) {
    for (size_t k = 2; k <= members; ++k) {
      const double total = w * static_cast<double>(k);
      const int ns = subnet_of_width(first, w), ws = subnet_of_width(first, total);
      if (ns < 0 || ws < 0) continue;
      const std::vector<uint8_t> ensemble = ensemble_correct(o, first_k(members, k, ns), labels, n);
      const std::vector<uint8_t> wide = best_single(o, ws, labels, n).second;
      const PairedDifference d = paired_difference(ensemble, wide);
      const std::string label = std::to_string(k) + "x" + first.subnets[static_cast<size_t>(ns)] + " | " +
                                first.subnets[static_cast<size_t>(ws)];
      const double at = static_cast<double>(narrow.categories.size());
      narrow.categories.push_back(label);
      narrow.series[0].points.push_back(bar(at, ensemble));
      narrow.series[1].points.push_back(bar(at, wide));
      j.begin_object().field("members", static_cast<uint32_t>(k)).field("narrow", first.subnets[static_cast<size_t>(ns)])
          .field("wide", first.subnets[static_cast<size_t>(ws)]);
      j.key("ensemble").begin_object();
      accuracy_json(j, ensemble);
      j.end_object().key("single").begin_object();
      accuracy_json(j, wide);
      j.end_object();
      difference_json(j, "ensemble_minus_single", d);
      j.end_object();
      summary += "  " + label + ": " + difference_text(d) + " (narrow ensemble minus the best wide member)\n";
    }
  }
  j.end_array().end_object();
  st = write_text(setup, "members-narrow.svg", bar_chart(narrow));
  if (!st.is_ok()) return st;
  st = write_text(setup, "members.json", j.str() + "\n");
  if (!st.is_ok()) return st;
  std::printf("members (%zu members, %u test images; 95%% intervals of paired differences):\n%s", members, n, summary.c_str());
  return Status::ok();
}

Status experiment_vip(const ExperimentSetup& setup) {
  const std::string dir = setup.models + "/vip";
  const std::vector<std::string> teacher = shipped(dir, "", "-teacher-s100.shoal");
  const std::vector<std::string> baseline = shipped(dir, "", "-baseline-s105.shoal");
  if (teacher.size() != 1 || baseline.size() != 1) {
    return Status(StatusCode::kNotFound, "VIP's teacher and baseline student are not in " + dir);
  }
  auto data = test_set(setup.images);
  if (!data.is_ok()) return data.status();
  const uint32_t n = data->images.count;
  const uint8_t* labels = data->labels.data();
  Json j;
  j.begin_object().field("experiment", "vip").field("images", n).field("test_set", "Fashion-MNIST t10k");
  Chart chart = accuracy_chart("VIP: variants and their averaging ensemble vs the baseline student (95% CI)", "model");
  chart.series = {{"test accuracy", {}}};
  auto single = [&](const std::string& file, const std::string& label) -> Result<std::vector<uint8_t>> {
    auto out = run_members({file}, data->images, 0, n, setup.quiet);
    if (!out.is_ok()) return out.status();
    std::vector<uint8_t> right = ensemble_correct(out.value(), {0}, labels, n);
    chart.series[0].points.push_back(bar(static_cast<double>(chart.categories.size()), right, out->members[0].name));
    chart.categories.push_back(label);
    return right;
  };
  auto t = single(teacher[0], "T");
  if (!t.is_ok()) return t.status();
  auto b = single(baseline[0], "B");
  if (!b.is_ok()) return b.status();
  j.key("teacher").begin_object().field("file", teacher[0]);
  accuracy_json(j, t.value());
  j.end_object().key("baseline").begin_object().field("file", baseline[0]);
  accuracy_json(j, b.value());
  j.end_object().key("diversity").begin_array();
  std::string summary;
  for (const char* means : {"aug", "imb"}) {
    const std::vector<std::string> files = shipped(dir, "", "");
    std::vector<std::string> variants;
    for (const std::string& f : files) {
      if (f.find(std::string("-vip-") + means) != std::string::npos) variants.push_back(f);
    }
    if (variants.empty()) continue;
    auto out = run_members(variants, data->images, 0, n, setup.quiet);
    if (!out.is_ok()) return out.status();
    j.begin_object().field("means", means).key("variants").begin_array();
    double mean = 0;
    for (size_t v = 0; v < variants.size(); ++v) {
      const std::vector<uint8_t> right = ensemble_correct(out.value(), alone(variants.size(), v, 0), labels, n);
      mean += accuracy_of(right) / static_cast<double>(variants.size());
      chart.series[0].points.push_back(bar(static_cast<double>(chart.categories.size()), right, out->members[v].name));
      chart.categories.push_back(std::string(means) + std::to_string(v));
      j.begin_object().field("name", out->members[v].name).field("file", variants[v]);
      accuracy_json(j, right);
      j.end_object();
    }
    const std::vector<uint8_t> ensemble = ensemble_correct(out.value(), Config(variants.size(), 0), labels, n);
    chart.series[0].points.push_back(bar(static_cast<double>(chart.categories.size()), ensemble, "averaging ensemble"));
    chart.categories.push_back(std::string("E ") + means);
    const PairedDifference d = paired_difference(ensemble, b.value());
    j.end_array().field("variants_mean_accuracy", mean).field("variants_mean_minus_baseline", mean - accuracy_of(b.value()));
    j.key("ensemble").begin_object();
    accuracy_json(j, ensemble);
    j.end_object();
    difference_json(j, "ensemble_minus_baseline", d);
    j.end_object();
    summary += std::string("  ") + means + ": variants' mean " + points(mean - accuracy_of(b.value())) +
               " points, their ensemble " + difference_text(d) + " against the baseline student\n";
  }
  j.end_array().end_object();
  Status st = write_text(setup, "vip.svg", bar_chart(chart));
  if (!st.is_ok()) return st;
  st = write_text(setup, "vip.json", j.str() + "\n");
  if (!st.is_ok()) return st;
  std::printf("vip (teacher %.2f %%, baseline student %.2f %%, %u test images):\n%s", 100 * accuracy_of(t.value()),
              100 * accuracy_of(b.value()), n, summary.c_str());
  return Status::ok();
}

}  // namespace shoal::cli
