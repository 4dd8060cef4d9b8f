// The summaries reports give: percentiles, the Wilson interval of an accuracy, and the
// interval of a paired difference, against values worked out by hand.
#include "shoal/stats.h"

#include <gtest/gtest.h>

#include <cmath>

namespace shoal {
namespace {

TEST(Stats, PercentilesAreNearestRank) {
  std::vector<double> samples = {5, 1, 4, 2, 3};
  const LatencySummary s = summarize(samples);
  EXPECT_EQ(s.count, 5u);
  EXPECT_DOUBLE_EQ(s.mean, 3);
  EXPECT_DOUBLE_EQ(s.p50, 3);
  EXPECT_DOUBLE_EQ(s.p99, 5);
  EXPECT_DOUBLE_EQ(s.max, 5);
}

TEST(Stats, WilsonIntervalMatchesTheFormula) {
  // 90 of 100: centre (0.9 + 1.92/100) / 1.0384, half-width 1.96/1.0384 * sqrt(0.0009 + 0.0000960)
  const Interval i = wilson_interval(90, 100);
  EXPECT_NEAR(i.lo, 0.8256, 5e-4);
  EXPECT_NEAR(i.hi, 0.9448, 5e-4);
  // It stays inside [0, 1] and is not empty at the ends.
  const Interval all = wilson_interval(50, 50), none = wilson_interval(0, 50);
  EXPECT_LE(all.hi, 1.0);
  EXPECT_LT(all.lo, 1.0);
  EXPECT_GE(none.lo, 0.0);
  EXPECT_GT(none.hi, 0.0);
  // More images, a narrower interval.
  const Interval big = wilson_interval(9000, 10000);
  EXPECT_LT(big.hi - big.lo, i.hi - i.lo);
  EXPECT_NEAR(big.hi - big.lo, 2 * 1.96 * 0.003, 2e-4);
}

TEST(Stats, PairedDifferenceSeesOnlyTheImagesWhereTheMethodsDisagree) {
  // a right where b is wrong on 30 of 1000, the reverse on 10: +2 points.
  std::vector<uint8_t> a(1000, 1), b(1000, 1);
  for (int i = 0; i < 30; ++i) b[i] = 0;
  for (int i = 30; i < 40; ++i) a[i] = 0;
  const PairedDifference d = paired_difference(a, b);
  EXPECT_NEAR(d.mean, 0.02, 1e-12);
  // Variance of the differences: (40 - 1000 * 0.0004) / 999.
  const double half = 1.959964 * std::sqrt((40 - 0.4) / 999.0 / 1000);
  EXPECT_NEAR(d.interval.lo, 0.02 - half, 1e-9);
  EXPECT_NEAR(d.interval.hi, 0.02 + half, 1e-9);
  EXPECT_GT(d.interval.lo, 0.0);  // the data tells: a is better
  // Identical answers: no difference, and no doubt about it.
  const PairedDifference same = paired_difference(a, a);
  EXPECT_EQ(same.mean, 0.0);
  EXPECT_EQ(same.interval.hi - same.interval.lo, 0.0);
}

}  // namespace
}  // namespace shoal
