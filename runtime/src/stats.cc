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

}  // namespace shoal
