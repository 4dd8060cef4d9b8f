#include "shoal/split_planner.h"

#include <cmath>
#include <limits>

namespace shoal {

SplitPlanner::SplitPlanner(const Model& model, uint32_t subnet, double bytes_per_value, LatencyOptions options)
    : catalog_(segment_catalog(model, {kHere, kThere}, kHere, bytes_per_value)),
      subnet_(subnet),
      input_(model.fb().input()),
      output_(model.fb().output()),
      latency_(std::vector<uint32_t>(2, catalog_.subnets()), options) {}

uint16_t SplitPlanner::cut(size_t c) const { return c == all_remote() || c == all_local() ? 0 : static_cast<uint16_t>(c); }

uint64_t SplitPlanner::macs_here(size_t c) const {
  const uint64_t total = catalog_.macs[subnet_];
  return c == all_remote() ? 0 : c == all_local() ? total : point(c).macs_before;
}

uint64_t SplitPlanner::macs_there(size_t c) const { return catalog_.macs[subnet_] - macs_here(c); }

uint32_t SplitPlanner::tensor(size_t c) const {
  return c == all_remote() ? input_ : c == all_local() ? output_ : point(c).tensor;
}

size_t SplitPlanner::bytes(size_t c) const { return c == all_local() ? 0 : catalog_.bytes_in(subnet_, cut(c)); }

void SplitPlanner::observe(size_t c, double here_ms, double round_trip_ms, double worker_ms, size_t wire_bytes) {
  const double total = static_cast<double>(catalog_.macs[subnet_]);
  const double share_here = total > 0 ? static_cast<double>(macs_here(c)) / total : 1.0;
  // This device's part is a round trip with no link in it.
  if (c != all_remote()) learn_from_reply(latency_, &catalog_, kHere, subnet_, share_here, here_ms, here_ms, 0);
  if (c != all_local()) learn_from_reply(latency_, &catalog_, kThere, subnet_, 1.0 - share_here, round_trip_ms, worker_ms, wire_bytes);
}

void SplitPlanner::observe_probe(double ms, size_t bytes) { latency_.observe_link_rtt(kThere, std::max(0.0, ms), bytes); }

double SplitPlanner::predicted_ms(size_t c) const {
  const int there = c == all_local() ? -1 : static_cast<int>(kThere);
  return predict_split_ms(latency_, catalog_, kHere, there, subnet_, cut(c), now_);
}

size_t SplitPlanner::choose(TimeUs now, double deadline_ms) {
  now_ = now;
  latency_.age(now);
  ++chosen_;
  last_chosen_.resize(candidates(), 0);
  if (latency_.link(kThere).rtt_ms < 0) probe_wanted_ = true;
  const bool there_seen = !std::isinf(latency_.compute_ms(kThere, subnet_));
  const bool here_seen = !std::isinf(latency_.compute_ms(kHere, subnet_));
  size_t pick = there_seen ? all_local() : all_remote();  // a side never seen is tried first
  if (there_seen && here_seen) {
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
