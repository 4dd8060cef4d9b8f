// Summaries of latency samples, as every report and benchmark gives them.
#ifndef SHOAL_STATS_H_
#define SHOAL_STATS_H_

#include <cstddef>
#include <vector>

namespace shoal {

struct LatencySummary {
  size_t count = 0;
  double mean = 0, p50 = 0, p95 = 0, p99 = 0, max = 0;
};

// Nearest-rank percentiles; the samples are sorted in place.
LatencySummary summarize(std::vector<double>& samples);

}  // namespace shoal

#endif  // SHOAL_STATS_H_
