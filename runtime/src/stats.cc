#include "shoal/stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace shoal {

LatencySummary summarize(std::vector<double>& samples) {
  LatencySummary s;
  s.count = samples.size();
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  auto rank = [&](double p) {
    const size_t r = static_cast<size_t>(std::ceil(p * static_cast<double>(samples.size())));
    return samples[std::min(samples.size() - 1, r == 0 ? 0 : r - 1)];
  };
  s.mean = std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(samples.size());
  s.p50 = rank(0.50);
  s.p95 = rank(0.95);
  s.p99 = rank(0.99);
  s.max = samples.back();
  return s;
}

void RecentMedian::add(double sample) {
  samples_[count_++ % 3] = sample;
  const uint32_t n = std::min<uint32_t>(count_, 3);
  double sorted[3];
  std::copy(samples_, samples_ + n, sorted);
  std::sort(sorted, sorted + n);
  value_ = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
}

Interval wilson_interval(uint64_t successes, uint64_t n) {
  if (n == 0) return {0, 1};
  const double z = 1.959964, nn = static_cast<double>(n), p = static_cast<double>(successes) / nn;
  const double centre = (p + z * z / (2 * nn)) / (1 + z * z / nn);
  const double half = z / (1 + z * z / nn) * std::sqrt(p * (1 - p) / nn + z * z / (4 * nn * nn));
  return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

PairedDifference paired_difference(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  PairedDifference d;
  const size_t n = std::min(a.size(), b.size());
  if (n == 0) return d;
  double sum = 0, squares = 0;
  for (size_t i = 0; i < n; ++i) {
    const double x = static_cast<double>(a[i] != 0) - static_cast<double>(b[i] != 0);
    sum += x;
    squares += x * x;
  }
  const double nn = static_cast<double>(n);
  d.mean = sum / nn;
  const double variance = n > 1 ? (squares - nn * d.mean * d.mean) / (nn - 1) : 0;
  const double half = 1.959964 * std::sqrt(std::max(0.0, variance) / nn);
  d.interval = {d.mean - half, d.mean + half};
  return d;
}

}  // namespace shoal
