// AdaEnsemble's resource allocator: the most accurate ensemble (by the profile) whose every
// unit is predicted to be back within the budget, at most one unit per member and per
// worker. Exact where the profile measured every configuration: the ranked list is scanned
// for the first that fits, with each member placed on its replica that would answer soonest.
// Otherwise greedy on the profile's pairwise model: add or widen the unit that raises the
// modelled accuracy most, until nothing does.
//
// The latency tail: an ensemble whose every unit is predicted just inside the budget is missed
// whole when its workers are slow together (they often share a cause: a loaded network, a
// busy host). So a plan keeps an anchor: one of its units has a pessimistic prediction (mean
// plus four deviations, latency_model.h) that fits in half the budget. The most accurate plan
// with an anchor and no more units than the most accurate plan without is chosen (an anchor
// replaces a unit: it adds no load). Half, because the tail of a shared host is heavier than
// four deviations (the README has the measurements). When no unit can anchor, the plan keeps
// one whose pessimistic prediction fits the whole budget; only when there is none either does
// it go without.
// Scratch is kept between calls, so a decision allocates only the plan it returns; not
// thread-safe (one owner).
#ifndef SHOAL_ALLOCATOR_H_
#define SHOAL_ALLOCATOR_H_

#include <memory>
#include <vector>

#include "shoal/ensemble_profile.h"
#include "shoal/latency_model.h"
#include "shoal/policy.h"

namespace shoal {

struct AllocatorOptions {
  // Exact search when the profile is exact and has at most this many configurations.
  uint64_t exact_limit = EnsembleProfile::kDefaultExactLimit;
  bool force_greedy = false;  // for comparing the two
  // Keep one unit whose pessimistic prediction fits in this share of the budget (see above;
  // 0: the paper's plan, no anchor).
  double anchor_share = 0.5;
};

class Allocator {
 public:
  Allocator(std::shared_ptr<const EnsembleProfile> profile, std::vector<WorkerRole> roles,
            AllocatorOptions options = {});

  // Empty when nothing fits (or no worker is alive). `skip[w]` leaves worker w out.
  Plan best(const LatencyModel& latency, TimeUs now, double budget_ms, const std::vector<bool>* skip = nullptr) const;
  // The single unit predicted back soonest, for when nothing fits; empty when none is alive.
  Plan fastest(const LatencyModel& latency, TimeUs now, const std::vector<bool>* skip = nullptr) const;
  // The profiled (or modelled) accuracy of a plan's members.
  double accuracy(const Plan& plan) const;
  double single(uint32_t worker, uint32_t subnet) const;
  bool exact() const { return exact_; }
  uint32_t narrowest(uint32_t worker) const;  // fewest MACs
  uint32_t widest(uint32_t worker) const;

  const EnsembleProfile& profile() const { return *profile_; }
  const std::vector<WorkerRole>& roles() const { return roles_; }
  size_t workers() const { return roles_.size(); }

 private:
  bool usable(const LatencyModel& latency, uint32_t w, const std::vector<bool>* skip) const;
  void place(const LatencyModel& latency, TimeUs now, const std::vector<bool>* skip) const;
  Plan exact_best(double budget_ms) const;
  Plan greedy_best(double budget_ms) const;
  // Whether profile unit u, where it is placed, is predicted back within `limit_ms` even
  // pessimistically: an anchor (see above) at anchor_share of the budget.
  bool anchors(uint32_t u, double limit_ms) const { return unit_safe_ms_[u] <= limit_ms; }

  std::shared_ptr<const EnsembleProfile> profile_;
  std::vector<WorkerRole> roles_;
  bool exact_;
  double anchor_share_;
  // Per profile unit (member, subnet): the soonest prediction over its replicas, and where;
  // and that replica's pessimistic prediction.
  mutable std::vector<double> unit_ms_;
  mutable std::vector<double> unit_safe_ms_;
  mutable std::vector<int> unit_worker_;
  mutable std::vector<int> unit_subnet_;  // the worker's own subnet index
  mutable std::vector<int> chosen_;       // greedy: subnet per member, -1 unused
};

}  // namespace shoal

#endif  // SHOAL_ALLOCATOR_H_
