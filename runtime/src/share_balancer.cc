#include "shoal/share_balancer.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace shoal {
namespace {

constexpr double kLeastRate = 1e-6;  // ms for every channel: a part that seems to cost nothing
constexpr size_t kMostPartsRefined = 8;  // beyond, water-filling alone (the pairs grow as n^2)

std::vector<double> normalised(const std::vector<double>& shares) {
  const double total = std::accumulate(shares.begin(), shares.end(), 0.0);
  std::vector<double> out(shares);
  for (double& s : out) s = total > 0 ? s / total : 1.0 / static_cast<double>(shares.size());
  return out;
}

}  // namespace

ShareBalancer::ShareBalancer(const std::vector<double>& shares, size_t stages)
    : ShareBalancer(shares, stages, Options{}) {}

ShareBalancer::ShareBalancer(const std::vector<double>& shares, size_t stages, Options options)
    : options_(options), shares_(normalised(shares)), stages_(std::max<size_t>(1, stages)),
      parts_(stages_ * shares.size()) {}

void ShareBalancer::observe(const std::vector<PartCost>& costs) {
  if (costs.size() != parts_.size()) return;
  const size_t n = shares_.size();
  for (size_t i = 0; i < costs.size(); ++i) {
    Part& p = parts_[i];
    p.rate.add(std::max(kLeastRate, costs[i].compute_ms / shares_[i % n]));
    // A bound only lowers an estimate: an unseen one stays 0 until a reply is timed, which
    // it will be once the part is given enough to be the last to finish.
    const double fixed = std::max(0.0, costs[i].fixed_ms);
    if (costs[i].fixed_exact || (p.fixed.seen() && fixed < p.fixed.value())) p.fixed.add(fixed);
  }
  ++since_change_;
}

double ShareBalancer::rate_ms(size_t part) const {
  double sum = 0;
  for (size_t st = 0; st < stages_; ++st) sum += parts_[st * shares_.size() + part].rate.value();
  return sum;
}

double ShareBalancer::fixed_ms(size_t part) const {
  double sum = 0;
  for (size_t st = 0; st < stages_; ++st) sum += parts_[st * shares_.size() + part].fixed.value();
  return sum;
}

double ShareBalancer::predicted_ms(const std::vector<double>& shares) const {
  const size_t n = shares_.size();
  if (shares.size() != n) return -1;
  const std::vector<double> s = normalised(shares);
  double total = 0;
  for (size_t st = 0; st < stages_; ++st) {
    double slowest = 0;
    for (size_t i = 0; i < n; ++i) {
      const Part& p = parts_[st * n + i];
      if (!p.rate.seen()) return -1;
      slowest = std::max(slowest, p.fixed.value() + s[i] * p.rate.value());
    }
    total += slowest;
  }
  return total;
}

// Water-filling on the parts' whole-input sums first: the finishing time T at which the
// shares (T - fixed) / rate, each at least the floor, add up to 1. The stages' barriers make
// the true time a sum of maxima, still convex in the shares: moving ever smaller amounts
// between pairs of parts while that helps finishes the job (for two parts, exactly).
std::vector<double> ShareBalancer::balanced() const {
  const size_t n = shares_.size();
  std::vector<double> fixed(n), rate(n);
  for (size_t i = 0; i < n; ++i) fixed[i] = fixed_ms(i), rate[i] = rate_ms(i);
  const double floor = std::min(options_.min_share, 1.0 / static_cast<double>(n));
  std::vector<double> s(n);
  auto fill = [&](double t) {
    double total = 0;
    for (size_t i = 0; i < n; ++i) {
      s[i] = std::max(floor, (t - fixed[i]) / rate[i]);
      total += s[i];
    }
    return total;
  };
  double lo = 0, hi = 0;
  for (size_t i = 0; i < n; ++i) hi = std::max(hi, fixed[i] + rate[i]);  // every share 1: too much
  for (int k = 0; k < 100 && hi - lo > 1e-9 * hi; ++k) {
    const double mid = 0.5 * (lo + hi);
    (fill(mid) > 1 ? hi : lo) = mid;
  }
  fill(hi);
  s = normalised(s);
  if (stages_ == 1 || n > kMostPartsRefined) return s;
  double best = predicted_ms(s);
  for (double step = 0.1; step >= 1e-3; step /= 2) {
    for (bool moved = true; moved;) {
      moved = false;
      for (size_t from = 0; from < n; ++from) {
        for (size_t to = 0; to < n; ++to) {
          if (from == to || s[from] - step < floor) continue;
          s[from] -= step, s[to] += step;
          const double t = predicted_ms(s);
          if (t < best - 1e-12) {
            best = t, moved = true;
          } else {
            s[from] += step, s[to] -= step;
          }
        }
      }
    }
  }
  return s;
}

std::vector<double> ShareBalancer::propose() const {
  if (since_change_ < options_.settle) return {};
  const double now = predicted_ms(shares_);
  if (now < 0) return {};
  const std::vector<double> best = balanced();
  if (!(predicted_ms(best) < (1 - options_.min_gain) * now)) return {};
  std::vector<double> next(best.size());
  for (size_t i = 0; i < best.size(); ++i) {
    const double s = shares_[i] + options_.step * (best[i] - shares_[i]);
    next[i] = std::round(s * 1000) / 1000;  // as reported; the plan rounds to channels anyway
  }
  next = normalised(next);
  return next == shares_ ? std::vector<double>{} : next;
}

bool ShareBalancer::alone_is_faster() const {
  if (since_change_ < options_.settle) return false;
  const double now = predicted_ms(shares_);
  if (now < 0) return false;
  const double partitioned = std::min(now, predicted_ms(balanced()));
  return rate_ms(0) < (1 - options_.min_gain) * partitioned;
}

void ShareBalancer::adopt(const std::vector<double>& shares) {
  if (shares.size() != shares_.size()) return;
  shares_ = normalised(shares);
  since_change_ = 0;
}

}  // namespace shoal
