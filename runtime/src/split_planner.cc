#include "shoal/split_planner.h"

#include <algorithm>
#include <limits>

namespace shoal {
namespace {

constexpr double kWeight = 0.3;  // of each new observation in the moving averages

void smooth(double* average, double sample) { *average = *average < 0 ? sample : (1 - kWeight) * *average + kWeight * sample; }

}  // namespace

std::vector<SplitPoint> split_points(const Model& model, uint32_t subnet) {
  const fb::Model& m = model.fb();
  const std::vector<uint32_t> cuts = model.cut_tensors();
  const uint64_t total = model.cost(subnet).macs;
  std::vector<SplitPoint> points;
  uint64_t before = 0;
  for (uint32_t k = 0; k < m.nodes()->size() && points.size() < cuts.size(); ++k) {
    before += model.node_cost(subnet, k).macs;
    const uint32_t t = m.nodes()->Get(k)->outputs()->Get(0);
    if (t != cuts[points.size()]) continue;
    points.push_back({t, k, before, total - before, model.packed_size(subnet, t)});
  }
  return points;
}

SplitPlanner::SplitPlanner(const Model& model, uint32_t subnet, double bytes_per_value)
    : points_(split_points(model, subnet)),
      total_macs_(model.cost(subnet).macs),
      image_bytes_(model.shape(model.fb().input()).elements()),
      bytes_per_value_(bytes_per_value) {}

uint64_t SplitPlanner::macs_here(size_t c) const {
  return c == all_remote() ? 0 : c == all_local() ? total_macs_ : point(c).macs_before;
}

uint64_t SplitPlanner::macs_there(size_t c) const { return total_macs_ - macs_here(c); }

size_t SplitPlanner::bytes(size_t c) const {
  return c == all_remote() ? image_bytes_ : c == all_local() ? 0 : static_cast<size_t>(point(c).values * bytes_per_value_);
}

void SplitPlanner::observe_here(uint64_t macs, double ms) {
  if (macs > 0) smooth(&here_, ms / (static_cast<double>(macs) * 1e-6));
}

void SplitPlanner::observe_there(uint64_t macs, double ms) {
  if (macs > 0) smooth(&there_, ms / (static_cast<double>(macs) * 1e-6));
}

void SplitPlanner::observe_round_trip(double ms) { smooth(&rtt_, std::max(0.0, ms)); }

// Small transfers say how long a round trip takes; large ones, with that taken off, how long
// a byte takes. A link that slows shows in both.
void SplitPlanner::observe_transfer(size_t bytes, double ms) {
  if (bytes < 4096 || rtt_ < 0) return observe_round_trip(ms);
  smooth(&per_byte_, std::max(0.0, ms - rtt_) / static_cast<double>(bytes));
}

double SplitPlanner::predicted_ms(size_t c) const {
  const double here = here_ < 0 ? (there_ < 0 ? 1.0 : there_) : here_;
  const double there = there_ < 0 ? here : there_;
  double ms = here * static_cast<double>(macs_here(c)) * 1e-6;
  if (c != all_local()) ms += std::max(0.0, rtt_) + per_byte_ * bytes(c) + there * static_cast<double>(macs_there(c)) * 1e-6;
  return ms;
}

size_t SplitPlanner::choose() {
  ++chosen_;
  if (there_ < 0 || rtt_ < 0) return all_remote();  // nothing known of the worker yet
  size_t best = 0, second = 1;
  double best_ms = std::numeric_limits<double>::infinity(), second_ms = best_ms;
  for (size_t c = 0; c < candidates(); ++c) {
    const double ms = predicted_ms(c);
    if (ms < best_ms) {
      second = best, second_ms = best_ms;
      best = c, best_ms = ms;
    } else if (ms < second_ms) {
      second = c, second_ms = ms;
    }
  }
  return chosen_ % kExploreEvery == 0 ? second : best;
}

}  // namespace shoal
