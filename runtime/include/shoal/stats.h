// Summaries of latency samples, as every report and benchmark gives them.
#ifndef SHOAL_STATS_H_
#define SHOAL_STATS_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace shoal {

struct LatencySummary {
  size_t count = 0;
  double mean = 0, p50 = 0, p95 = 0, p99 = 0, max = 0;
};

// Nearest-rank percentiles; the samples are sorted in place.
LatencySummary summarize(std::vector<double>& samples);

// An estimate that follows the median of its last three samples: one outlier (a
// retransmission, a preempted run) moves nothing, two in a row (a slower link, a loaded
// device) move it. `initial` until the first sample.
class RecentMedian {
 public:
  explicit RecentMedian(double initial = -1) : initial_(initial) {}
  void add(double sample);
  double value() const { return count_ ? value_ : initial_; }
  bool seen() const { return count_ > 0; }

 private:
  double samples_[3] = {};
  uint32_t count_ = 0;
  double value_ = 0, initial_;
};

// A 95 % confidence interval, as fractions.
struct Interval {
  double lo = 0, hi = 0;
};

// The Wilson score interval of a proportion: `successes` of `n` (an accuracy on n images).
Interval wilson_interval(uint64_t successes, uint64_t n);

// The mean of a[i] - b[i] over paired 0/1 outcomes (the same images answered by two
// methods) and its 95 % interval (normal approximation of the paired differences): how
// much more accurate a is than b, and whether the data can tell.
struct PairedDifference {
  double mean = 0;
  Interval interval;
};
PairedDifference paired_difference(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b);

}  // namespace shoal

#endif  // SHOAL_STATS_H_
