#include "shoal/scheduler.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace shoal {

uint32_t EnsembleProfile::encode(const Config& c) const {
  uint32_t code = 0;
  for (size_t w = c.size(); w-- > 0;) code = code * (subnets_[w] + 1) + static_cast<uint32_t>(c[w] + 1);
  return code;
}

Config EnsembleProfile::decode(uint32_t code) const {
  Config c(subnets_.size());
  for (size_t w = 0; w < subnets_.size(); ++w) {
    c[w] = static_cast<int>(code % (subnets_[w] + 1)) - 1;
    code /= subnets_[w] + 1;
  }
  return c;
}

Result<EnsembleProfile> EnsembleProfile::measure(const std::vector<std::vector<std::vector<float>>>& probs,
                                                 const std::vector<std::vector<uint64_t>>& macs,
                                                 const std::vector<uint8_t>& labels, uint32_t classes) {
  EnsembleProfile p;
  const size_t images = labels.size();
  if (probs.empty() || probs.size() > 12) {
    return Status(StatusCode::kInvalidArgument, "an ensemble profile takes 1 to 12 workers");
  }
  uint64_t total = 1;
  for (size_t w = 0; w < probs.size(); ++w) {
    if (probs[w].empty() || macs[w].size() != probs[w].size()) {
      return Status(StatusCode::kInvalidArgument, "worker " + std::to_string(w) + " has no subnets profiled");
    }
    for (const auto& s : probs[w]) {
      if (s.size() != images * classes) {
        return Status(StatusCode::kInvalidArgument, "probabilities of worker " + std::to_string(w) +
                                                        " do not cover every validation image");
      }
    }
    p.subnets_.push_back(static_cast<uint32_t>(probs[w].size()));
    total *= probs[w].size() + 1;
    if (total > (1u << 22)) {
      return Status(StatusCode::kInvalidArgument, "too many (worker, subnet) combinations to profile exhaustively");
    }
  }
  p.macs_ = macs;
  p.by_code_.assign(total, 0.0f);
  // Depth-first over workers, carrying the running sum of probabilities per image.
  std::vector<std::vector<double>> sums(probs.size() + 1, std::vector<double>(images * classes, 0.0));
  Config config(probs.size(), -1);
  auto visit = [&](auto&& self, size_t w, bool any) -> void {
    if (w == probs.size()) {
      if (!any) return;
      uint32_t correct = 0;
      const std::vector<double>& sum = sums[w];
      for (size_t i = 0; i < images; ++i) {
        const double* row = sum.data() + i * classes;
        correct += static_cast<uint32_t>(std::max_element(row, row + classes) - row) == labels[i];
      }
      p.by_code_[p.encode(config)] = static_cast<float>(correct) / static_cast<float>(images);
      return;
    }
    for (int s = -1; s < static_cast<int>(probs[w].size()); ++s) {
      config[w] = s;
      if (s < 0) {
        sums[w + 1] = sums[w];
      } else {
        const std::vector<float>& add = probs[w][static_cast<size_t>(s)];
        for (size_t k = 0; k < sums[w].size(); ++k) sums[w + 1][k] = sums[w][k] + add[k];
      }
      self(self, w + 1, any || s >= 0);
    }
    config[w] = -1;
  };
  visit(visit, 0, false);

  p.rank();
  return p;
}

Result<EnsembleProfile> EnsembleProfile::from_table(const std::vector<uint32_t>& subnets,
                                                    const std::vector<std::vector<uint64_t>>& macs,
                                                    std::vector<float> accuracy_by_code) {
  if (subnets.empty() || subnets.size() > 12 || macs.size() != subnets.size()) {
    return Status(StatusCode::kInvalidArgument, "an ensemble profile takes 1 to 12 members");
  }
  uint64_t total = 1;
  for (size_t w = 0; w < subnets.size(); ++w) {
    if (subnets[w] == 0 || macs[w].size() != subnets[w]) {
      return Status(StatusCode::kInvalidArgument, "member " + std::to_string(w) + " has no subnets");
    }
    total *= subnets[w] + 1;
    if (total > (1u << 22)) return Status(StatusCode::kInvalidArgument, "too many configurations");
  }
  if (accuracy_by_code.size() != total) {
    return Status(StatusCode::kInvalidArgument, "the profile has " + std::to_string(accuracy_by_code.size()) +
                                                    " accuracies for " + std::to_string(total) + " configurations");
  }
  for (float a : accuracy_by_code) {
    if (!(a >= 0.0f && a <= 1.0f)) return Status(StatusCode::kInvalidArgument, "an accuracy is not in [0, 1]");
  }
  EnsembleProfile p;
  p.subnets_ = subnets;
  p.macs_ = macs;
  p.by_code_ = std::move(accuracy_by_code);
  p.rank();
  return p;
}

void EnsembleProfile::rank() {
  auto cost = [&](uint32_t code) {
    uint64_t sum = 0;
    const Config c = decode(code);
    for (size_t w = 0; w < c.size(); ++w) sum += c[w] >= 0 ? macs_[w][static_cast<size_t>(c[w])] : 0;
    return sum;
  };
  ranked_.clear();
  choices_.clear();
  for (uint32_t code = 1; code < by_code_.size(); ++code) ranked_.push_back({code, by_code_[code]});
  std::stable_sort(ranked_.begin(), ranked_.end(), [&](const Entry& a, const Entry& b) {
    if (a.accuracy != b.accuracy) return a.accuracy > b.accuracy;
    return cost(a.code) < cost(b.code);
  });
  for (const Entry& e : ranked_) {
    for (int s : decode(e.code)) choices_.push_back(static_cast<int8_t>(s));
  }
}

double EnsembleProfile::accuracy(const Config& config) const { return by_code_[encode(config)]; }

double EnsembleProfile::single(uint32_t worker, uint32_t subnet) const {
  Config c(subnets_.size(), -1);
  c[worker] = static_cast<int>(subnet);
  return accuracy(c);
}

namespace {

bool fits(const PlanRequest& r, uint32_t w, uint32_t s) {
  return (*r.alive)[w] && (*r.predicted_ms)[w][s] <= r.budget_ms;
}

// The fastest (worker, subnet) still reachable, for when nothing fits.
Plan fastest(const PlanRequest& r, const std::vector<uint32_t>& workers) {
  Plan best;
  double best_ms = std::numeric_limits<double>::infinity();
  for (uint32_t w : workers) {
    if (!(*r.alive)[w]) continue;
    for (uint32_t s = 0; s < (*r.predicted_ms)[w].size(); ++s) {
      const double ms = (*r.predicted_ms)[w][s];
      if (best.empty() || ms < best_ms) best = {{w, s}}, best_ms = ms;
    }
  }
  return best;
}

std::vector<uint32_t> all_workers(const EnsembleProfile& p) {
  std::vector<uint32_t> w(p.workers());
  for (uint32_t i = 0; i < w.size(); ++i) w[i] = i;
  return w;
}

class AdaEnsemble final : public Policy {
 public:
  explicit AdaEnsemble(const EnsembleProfile& p) : p_(p), workers_(all_workers(p)) {}
  std::string name() const override { return "adaensemble"; }
  Plan plan(const PlanRequest& r) const override {
    const uint32_t n = static_cast<uint32_t>(p_.workers());
    for (size_t rank = 0; rank < p_.size(); ++rank) {
      const int8_t* c = p_.ranked_choices(rank);
      bool ok = true;
      for (uint32_t w = 0; w < n && ok; ++w) ok = c[w] < 0 || fits(r, w, static_cast<uint32_t>(c[w]));
      if (!ok) continue;
      Plan plan;
      for (uint32_t w = 0; w < n; ++w) {
        if (c[w] >= 0) plan.push_back({w, static_cast<uint32_t>(c[w])});
      }
      return plan;
    }
    return fastest(r, workers_);
  }

 private:
  const EnsembleProfile& p_;
  std::vector<uint32_t> workers_;
};

// The most accurate subnet of `worker` that fits, else its fastest.
Plan best_single(const EnsembleProfile& p, const PlanRequest& r, uint32_t worker) {
  Plan best;
  for (uint32_t s = 0; s < p.subnets(worker); ++s) {
    if (fits(r, worker, s) && (best.empty() || p.single(worker, s) > p.single(worker, best[0].subnet))) {
      best = {{worker, s}};
    }
  }
  return best.empty() ? fastest(r, {worker}) : best;
}

class Dynamic final : public Policy {
 public:
  Dynamic(const EnsembleProfile& p, uint32_t worker) : p_(p), worker_(worker) {}
  std::string name() const override { return "dynamic"; }
  Plan plan(const PlanRequest& r) const override { return best_single(p_, r, worker_); }

 private:
  const EnsembleProfile& p_;
  uint32_t worker_;
};

class Static final : public Policy {
 public:
  explicit Static(Plan fixed) : fixed_(std::move(fixed)) {}
  std::string name() const override { return "static"; }
  Plan plan(const PlanRequest& r) const override {
    Plan plan;
    for (const Choice& c : fixed_) {
      if ((*r.alive)[c.worker]) plan.push_back(c);
    }
    return plan;
  }

 private:
  Plan fixed_;
};

}  // namespace

std::unique_ptr<Policy> make_adaensemble_policy(const EnsembleProfile& profile) {
  return std::make_unique<AdaEnsemble>(profile);
}

std::unique_ptr<Policy> make_dynamic_policy(const EnsembleProfile& profile,
                                            const std::vector<std::vector<double>>& predicted,
                                            const std::vector<bool>& alive) {
  auto full = [&](uint32_t w) {  // the prediction for w's most expensive subnet
    uint32_t top = 0;
    for (uint32_t s = 1; s < profile.subnets(w); ++s) top = profile.macs(w, s) > profile.macs(w, top) ? s : top;
    return predicted[w][top];
  };
  uint32_t best = 0;
  for (uint32_t w = 0; w < profile.workers(); ++w) {
    if (alive[w] && (!alive[best] || full(w) < full(best))) best = w;
  }
  return std::make_unique<Dynamic>(profile, best);
}

std::unique_ptr<Policy> make_static_policy(const EnsembleProfile& profile,
                                           const std::vector<std::vector<double>>& predicted, double target_ms) {
  const std::vector<bool> alive(profile.workers(), true);
  PlanRequest r{target_ms, &predicted, &alive};
  Plan fixed;
  for (uint32_t w = 0; w < profile.workers(); ++w) fixed.push_back(best_single(profile, r, w)[0]);
  return std::make_unique<Static>(std::move(fixed));
}

LatencyEstimator::LatencyEstimator(const std::vector<uint32_t>& subnets, double alpha) : alpha_(alpha) {
  for (uint32_t n : subnets) ms_.emplace_back(n, std::numeric_limits<double>::infinity());
}

void LatencyEstimator::observe(uint32_t worker, uint32_t subnet, double ms) {
  double& e = ms_[worker][subnet];
  e = std::isinf(e) ? ms : (1.0 - alpha_) * e + alpha_ * ms;
}

void average_probabilities(const std::vector<const float*>& members, uint32_t classes, float* out) {
  for (uint32_t c = 0; c < classes; ++c) {
    double sum = 0;
    for (const float* m : members) sum += m[c];
    out[c] = members.empty() ? 0.0f : static_cast<float>(sum / members.size());
  }
}

}  // namespace shoal
