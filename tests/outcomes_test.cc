// What a master's status counts of its inputs: per policy, the latency histogram's buckets,
// and the per-second timeline (a ring of two minutes).
#include <gtest/gtest.h>

#include "shoal/outcomes.h"

namespace shoal {
namespace {

constexpr int64_t kSecondUs = 1000000;

TEST(Outcomes, CountsEachPolicyAndAccuracyOnlyWhereTheTruthIsKnown) {
  OutcomeStats stats;
  stats.record("adaensemble", Outcome::kAnswered, 3, 3, 0.4, 0, 0);
  stats.record("adaensemble", Outcome::kAnswered, 2, 3, 0.6, 1, 0);
  stats.record("adaensemble", Outcome::kInsured, 1, -1, 9.0, 0, 0);
  stats.record("adaensemble", Outcome::kMissed, -1, 4, 20.0, 2, 0);
  stats.record("cascade", Outcome::kShed, -1, -1, 0, 0, 0);
  const PolicyOutcomes& a = stats.policies().at("adaensemble");
  EXPECT_EQ(a.inputs, 4u);
  EXPECT_EQ(a.answered, 2u);
  EXPECT_EQ(a.insured, 1u);
  EXPECT_EQ(a.misses, 1u);
  EXPECT_EQ(a.labelled, 3u);
  EXPECT_EQ(a.correct, 1u);
  EXPECT_EQ(a.hedges, 3u);
  EXPECT_EQ(a.latency.count(), 3u) << "only inputs answered with a label are timed";
  EXPECT_DOUBLE_EQ(a.latency.sum_ms(), 10.0);
  EXPECT_EQ(stats.policies().at("cascade").misses, 1u);
}

TEST(Outcomes, HistogramBucketsHoldTheirUpperBound) {
  LatencyHistogram h;
  h.add(0.05);   // first bucket (<= 0.1)
  h.add(0.1);    // still the first: a bound is inclusive
  h.add(0.11);   // second
  h.add(5000);   // past the last bound
  EXPECT_EQ(h.counts()[0], 2u);
  EXPECT_EQ(h.counts()[1], 1u);
  EXPECT_EQ(h.counts().back(), 1u);
  EXPECT_EQ(h.count(), 4u);
}

TEST(Outcomes, TheTimelineKeepsTwoMinutesASecondEach) {
  OutcomeStats stats;
  stats.record("p", Outcome::kAnswered, 1, 1, 1, 0, 5 * kSecondUs + 10);
  stats.record("p", Outcome::kMissed, -1, 1, 1, 0, 5 * kSecondUs + 20);
  stats.record("p", Outcome::kAnswered, 0, 1, 1, 0, 7 * kSecondUs);
  auto t = stats.timeline(7 * kSecondUs + 5);
  ASSERT_EQ(t.size(), OutcomeStats::kSeconds);
  EXPECT_EQ(t.back().second, 7);
  EXPECT_EQ(t.back().inputs, 1u);
  EXPECT_EQ(t.back().correct, 0u);
  const SecondOutcomes& five = t[t.size() - 3];
  EXPECT_EQ(five.second, 5);
  EXPECT_EQ(five.inputs, 2u);
  EXPECT_EQ(five.misses, 1u);
  EXPECT_EQ(five.labelled, 2u);
  EXPECT_EQ(five.correct, 1u);
  EXPECT_EQ(t[t.size() - 2].inputs, 0u);
  // Two minutes later second 5's slot holds second 125: the old one is gone, not added to.
  stats.record("p", Outcome::kAnswered, 1, 1, 1, 0, 125 * kSecondUs);
  t = stats.timeline(125 * kSecondUs);
  EXPECT_EQ(t.back().second, 125);
  EXPECT_EQ(t.back().inputs, 1u);
  EXPECT_EQ(t.front().second, 6);
  EXPECT_EQ(t[1].inputs, 1u) << "second 7, still within the two minutes";
}

}  // namespace
}  // namespace shoal
