#include "shoal/allocator.h"

#include <algorithm>
#include <limits>

namespace shoal {

Allocator::Allocator(std::shared_ptr<const EnsembleProfile> profile, std::vector<WorkerRole> roles,
                     AllocatorOptions options)
    : profile_(std::move(profile)), roles_(std::move(roles)) {
  exact_ = !options.force_greedy && profile_->exact() && profile_->size() <= options.exact_limit;
  anchor_share_ = options.anchor_share;
  uint32_t units = 0;
  for (uint32_t m = 0; m < profile_->members(); ++m) units += profile_->subnets(m);
  unit_ms_.resize(units);
  unit_safe_ms_.resize(units);
  unit_worker_.resize(units);
  unit_subnet_.resize(units);
  chosen_.resize(profile_->members());
}

bool Allocator::usable(const LatencyModel& latency, uint32_t w, const std::vector<bool>* skip) const {
  return roles_[w].planned() && latency.alive(w) && !(skip && w < skip->size() && (*skip)[w]);
}

void Allocator::place(const LatencyModel& latency, TimeUs now, const std::vector<bool>* skip) const {
  std::fill(unit_ms_.begin(), unit_ms_.end(), std::numeric_limits<double>::infinity());
  std::fill(unit_safe_ms_.begin(), unit_safe_ms_.end(), std::numeric_limits<double>::infinity());
  for (uint32_t w = 0; w < roles_.size(); ++w) {
    const WorkerRole& r = roles_[w];
    if (!usable(latency, w, skip)) continue;
    for (uint32_t s = 0; s < r.profile_subnet.size(); ++s) {
      if (r.profile_subnet[s] < 0) continue;
      const uint32_t u = profile_->unit(static_cast<uint32_t>(r.member), static_cast<uint32_t>(r.profile_subnet[s]));
      const double ms = latency.predict_ms(w, s, now);
      if (ms < unit_ms_[u]) {
        unit_ms_[u] = ms;
        unit_safe_ms_[u] = latency.pessimistic_ms(w, s, now);
        unit_worker_[u] = static_cast<int>(w);
        unit_subnet_[u] = static_cast<int>(s);
      }
    }
  }
}

Plan Allocator::best(const LatencyModel& latency, TimeUs now, double budget_ms, const std::vector<bool>* skip) const {
  place(latency, now, skip);
  return exact_ ? exact_best(budget_ms) : greedy_best(budget_ms);
}

Plan Allocator::exact_best(double budget_ms) const {
  const uint32_t members = static_cast<uint32_t>(profile_->members());
  // The first ranked configuration that fits with an anchor and no more units than the first
  // that fits (an anchor replaces a unit, it adds no load); else the first with a unit whose
  // pessimistic prediction fits the whole budget; else the first that fits.
  const size_t none = profile_->size();
  size_t fits = none, anchored = none, safe = none;
  uint32_t most_units = members;
  for (size_t rank = 0; rank < profile_->size() && anchored == none; ++rank) {
    const int8_t* c = profile_->ranked_choices(rank);
    bool ok = true, strong = false, weak = false;
    uint32_t units = 0;
    for (uint32_t m = 0; m < members && ok; ++m) {
      if (c[m] < 0) continue;
      const uint32_t u = profile_->unit(m, static_cast<uint32_t>(c[m]));
      ok = unit_ms_[u] <= budget_ms;
      strong = strong || anchors(u, anchor_share_ * budget_ms);
      weak = weak || anchors(u, budget_ms);
      ++units;
    }
    if (!ok || units > most_units) continue;
    if (fits == none) fits = rank, most_units = units;
    if (strong || anchor_share_ <= 0) anchored = rank;
    if (weak && safe == none) safe = rank;
  }
  fits = anchored != none ? anchored : safe != none ? safe : fits;
  if (fits == profile_->size()) return {};
  const int8_t* c = profile_->ranked_choices(fits);
  Plan plan;
  for (uint32_t m = 0; m < members; ++m) {
    if (c[m] < 0) continue;
    const uint32_t u = profile_->unit(m, static_cast<uint32_t>(c[m]));
    plan.push_back({static_cast<uint32_t>(unit_worker_[u]), static_cast<uint32_t>(unit_subnet_[u]), kFirstStage,
                    static_cast<int>(m)});
  }
  return plan;
}

Plan Allocator::greedy_best(double budget_ms) const {
  const EnsembleProfile& p = *profile_;
  const uint32_t members = static_cast<uint32_t>(p.members());
  std::fill(chosen_.begin(), chosen_.end(), -1);
  uint32_t k = 0;
  double sum_a = 0, sum_g = 0, value = 0;
  // The gain of unit u with every chosen unit except member `except`'s.
  auto gains_with = [&](uint32_t u, uint32_t except) {
    double g = 0;
    for (uint32_t m = 0; m < members; ++m) {
      if (chosen_[m] >= 0 && m != except) g += p.gain(u, p.unit(m, static_cast<uint32_t>(chosen_[m])));
    }
    return g;
  };
  auto model = [&](uint32_t n, double a, double g) {
    return n == 1 ? a : a / n + p.pair_scale(n) * g / (double(n) * (n - 1) / 2);
  };
  for (;;) {
    double best = value + 1e-9;
    int best_m = -1, best_s = -1;
    for (uint32_t m = 0; m < members; ++m) {
      const int old = chosen_[m];
      const uint32_t old_u = old >= 0 ? p.unit(m, static_cast<uint32_t>(old)) : 0;
      const double old_g = old >= 0 ? gains_with(old_u, m) : 0.0;
      for (uint32_t s = 0; s < p.subnets(m); ++s) {
        const uint32_t u = p.unit(m, s);
        if (static_cast<int>(s) == old || unit_ms_[u] > budget_ms) continue;
        const double g = gains_with(u, m);
        const double v = old < 0 ? model(k + 1, sum_a + p.single_of_unit(u), sum_g + g)
                                 : model(k, sum_a - p.single_of_unit(old_u) + p.single_of_unit(u), sum_g - old_g + g);
        if (v > best) best = v, best_m = static_cast<int>(m), best_s = static_cast<int>(s);
      }
    }
    if (best_m < 0) break;
    const uint32_t m = static_cast<uint32_t>(best_m);
    const uint32_t u = p.unit(m, static_cast<uint32_t>(best_s));
    if (chosen_[m] >= 0) {
      const uint32_t old_u = p.unit(m, static_cast<uint32_t>(chosen_[m]));
      sum_a -= p.single_of_unit(old_u);
      sum_g -= gains_with(old_u, m);
    } else {
      ++k;
    }
    sum_a += p.single_of_unit(u);
    sum_g += gains_with(u, m);
    chosen_[m] = best_s;
    value = best;
  }
  // An anchor (allocator.h) where the choice has none: of its chosen members, the one whose
  // anchor unit keeps the modelled accuracy highest takes it (an anchor adds no unit); where
  // no unit can anchor, one whose pessimistic prediction fits the whole budget.
  for (const double limit : {anchor_share_ * budget_ms, budget_ms}) {
    bool anchored = anchor_share_ <= 0;
    for (uint32_t m = 0; m < members && !anchored; ++m) {
      anchored = chosen_[m] >= 0 && anchors(p.unit(m, static_cast<uint32_t>(chosen_[m])), limit);
    }
    if (anchored) break;
    double best = -1;
    int best_m = -1, best_s = -1;
    for (uint32_t m = 0; m < members; ++m) {
      if (chosen_[m] < 0) continue;
      const uint32_t old_u = p.unit(m, static_cast<uint32_t>(chosen_[m]));
      const double old_g = gains_with(old_u, m);
      for (uint32_t s = 0; s < p.subnets(m); ++s) {
        const uint32_t u = p.unit(m, s);
        if (!anchors(u, limit) || unit_ms_[u] > budget_ms) continue;
        const double v = model(k, sum_a - p.single_of_unit(old_u) + p.single_of_unit(u), sum_g - old_g + gains_with(u, m));
        if (v > best) best = v, best_m = static_cast<int>(m), best_s = static_cast<int>(s);
      }
    }
    if (best_m >= 0) {
      chosen_[static_cast<size_t>(best_m)] = best_s;
      break;
    }
  }
  Plan plan;
  for (uint32_t m = 0; m < members; ++m) {
    if (chosen_[m] < 0) continue;
    const uint32_t u = p.unit(m, static_cast<uint32_t>(chosen_[m]));
    plan.push_back({static_cast<uint32_t>(unit_worker_[u]), static_cast<uint32_t>(unit_subnet_[u]), kFirstStage,
                    static_cast<int>(m)});
  }
  return plan;
}

Plan Allocator::fastest(const LatencyModel& latency, TimeUs now, const std::vector<bool>* skip) const {
  Plan best;
  double best_ms = std::numeric_limits<double>::infinity();
  for (uint32_t w = 0; w < roles_.size(); ++w) {
    if (!usable(latency, w, skip)) continue;
    for (uint32_t s = 0; s < latency.subnets(w); ++s) {
      const double ms = latency.predict_ms(w, s, now);
      if (best.empty() || ms < best_ms) best = {{w, s, kFirstStage, roles_[w].member}}, best_ms = ms;
    }
  }
  return best;
}

double Allocator::accuracy(const Plan& plan) const {
  Config c(profile_->members(), -1);
  bool any = false;
  for (const Unit& u : plan) {
    const WorkerRole& r = roles_[u.worker];
    if (r.member < 0 || r.profile_subnet[u.subnet] < 0 || c[static_cast<size_t>(r.member)] >= 0) continue;
    c[static_cast<size_t>(r.member)] = r.profile_subnet[u.subnet];
    any = true;
  }
  return any ? profile_->accuracy(c) : 0.0;
}

double Allocator::single(uint32_t w, uint32_t s) const {
  const WorkerRole& r = roles_[w];
  if (r.member < 0 || r.profile_subnet[s] < 0) return 0.0;
  return profile_->single(static_cast<uint32_t>(r.member), static_cast<uint32_t>(r.profile_subnet[s]));
}

uint32_t Allocator::narrowest(uint32_t w) const {
  const auto& macs = roles_[w].macs;
  return static_cast<uint32_t>(std::min_element(macs.begin(), macs.end()) - macs.begin());
}

uint32_t Allocator::widest(uint32_t w) const {
  const auto& macs = roles_[w].macs;
  return static_cast<uint32_t>(std::max_element(macs.begin(), macs.end()) - macs.begin());
}

}  // namespace shoal
