#include "shoal/split_planner.h"

#include <algorithm>
#include <limits>

namespace shoal {

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
      input_(model.fb().input()),
      output_(model.fb().output()),
      image_bytes_(model.shape(model.fb().input()).elements()),
      bytes_per_value_(bytes_per_value) {}

uint64_t SplitPlanner::macs_here(size_t c) const {
  return c == all_remote() ? 0 : c == all_local() ? total_macs_ : point(c).macs_before;
}

uint32_t SplitPlanner::tensor(size_t c) const {
  return c == all_remote() ? input_ : c == all_local() ? output_ : point(c).tensor;
}

uint64_t SplitPlanner::macs_there(size_t c) const { return total_macs_ - macs_here(c); }

size_t SplitPlanner::bytes(size_t c) const {
  return c == all_remote() ? image_bytes_ : c == all_local() ? 0 : static_cast<size_t>(point(c).values * bytes_per_value_);
}

// A rate from a sliver of the network (the last layer, a few microseconds) would be mostly
// fixed costs and timer resolution: only runs of a tenth of the work or more count.
void SplitPlanner::observe_here(uint64_t macs, double ms) {
  if (macs > 0 && macs * 10 >= total_macs_) here_.add(ms / (static_cast<double>(macs) * 1e-6));
}

void SplitPlanner::observe_there(uint64_t macs, double ms) {
  if (macs > 0 && macs * 10 >= total_macs_) there_.add(ms / (static_cast<double>(macs) * 1e-6));
}

void SplitPlanner::observe_round_trip(double ms, size_t bytes) {
  ms = std::max(0.0, ms);
  rtt_.add(ms);
  if (bytes > 0 && ms / static_cast<double>(bytes) < per_byte_.value()) per_byte_.add(ms / static_cast<double>(bytes));
}

// Small transfers say how long a round trip takes; larger ones, with that taken off, how long
// a byte takes. Each bounds the other: a link that slows or recovers shows in both.
void SplitPlanner::observe_transfer(size_t bytes, double ms) {
  if (bytes < kSmallBytes || !rtt_.seen()) return observe_round_trip(ms, bytes);
  if (ms < rtt_.value()) rtt_.add(std::max(0.0, ms));  // no round trip takes longer than a whole transfer
  per_byte_.add(std::max(0.0, ms - rtt_.value()) / static_cast<double>(bytes));
}

double SplitPlanner::predicted_ms(size_t c) const {
  const double here = here_.seen() ? here_.value() : there_.seen() ? there_.value() : 1.0;
  const double there = there_.seen() ? there_.value() : here;
  double ms = here * static_cast<double>(macs_here(c)) * 1e-6;
  if (c != all_local()) {
    ms += std::max(0.0, rtt_.value()) + per_byte_.value() * bytes(c) + there * static_cast<double>(macs_there(c)) * 1e-6;
  }
  return ms;
}

size_t SplitPlanner::choose(double deadline_ms) {
  ++chosen_;
  last_chosen_.resize(candidates(), 0);
  size_t pick = all_remote();
  if (there_.seen() && rtt_.seen()) {  // else nothing is known of the worker yet: try it
    double best_ms = std::numeric_limits<double>::infinity();
    for (size_t c = 0; c < candidates(); ++c) {
      const double ms = predicted_ms(c);
      if (ms < best_ms) pick = c, best_ms = ms;
    }
    if (chosen_ % kExploreEvery == 0) {
      // Explore the candidate tried least recently among those that would not hurt much: a
      // runner-up alone could leave a stale estimate (a link that recovered) untested for good.
      const double limit = deadline_ms > 0 ? deadline_ms : 2 * best_ms;
      size_t explore = pick;
      for (size_t c = 0; c < candidates(); ++c) {
        if (c == pick || predicted_ms(c) > limit) continue;
        if (explore == pick || last_chosen_[c] < last_chosen_[explore]) explore = c;
      }
      if (explore != pick) {
        pick = explore;
      } else if (deadline_ms > 0) {
        probe_wanted_ = true;  // nothing else fits the deadline: learn about the link safely
      }
    }
  }
  last_chosen_[pick] = chosen_;
  return pick;
}

}  // namespace shoal
