// The share balancer, driven with numbers: each part's compute and link time per input go in,
// and the shares that finish every part together come out, only when clearly better and
// only once the last change has settled.
#include "shoal/share_balancer.h"

#include <gtest/gtest.h>

namespace shoal {
namespace {

// Straight to the balanced shares, so the tests can name them.
constexpr ShareBalancer::Options kFullStep{0.1, 0.02, 3, 1.0};

// One input at `b`'s current shares: part i computes its share of the work at
// `rate_ms[i]` for every channel and waits `fixed_ms[i]` besides.
void observe(ShareBalancer& b, const std::vector<double>& rate_ms, const std::vector<double>& fixed_ms, int times = 1,
             bool exact = true) {
  for (int k = 0; k < times; ++k) {
    std::vector<PartCost> costs;
    for (size_t i = 0; i < rate_ms.size(); ++i) costs.push_back({b.shares()[i] * rate_ms[i], fixed_ms[i], exact});
    b.observe(costs);
  }
}

TEST(ShareBalancer, EqualDevicesKeepEqualShares) {
  ShareBalancer b({1, 1}, 1, kFullStep);
  EXPECT_LT(b.predicted_ms({1, 1}), 0) << "nothing seen yet";
  observe(b, {4, 4}, {0, 0}, 5);
  EXPECT_TRUE(b.propose().empty());
  EXPECT_DOUBLE_EQ(b.predicted_ms({1, 1}), 2.0);
  EXPECT_DOUBLE_EQ(b.shares()[0], 0.5);
}

TEST(ShareBalancer, AHalfAsFastDeviceGetsAThird) {
  ShareBalancer b({1, 1}, 1, kFullStep);
  observe(b, {4, 8}, {0, 0}, 3);
  const std::vector<double> s = b.propose();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_NEAR(s[0], 2.0 / 3, 1e-3);
  EXPECT_NEAR(s[1], 1.0 / 3, 1e-3);
  EXPECT_NEAR(b.predicted_ms(s), 8.0 / 3, 1e-2);
  EXPECT_NEAR(b.predicted_ms({1, 1}), 4.0, 1e-9);
}

TEST(ShareBalancer, TheLinksFixedTimeIsPaidBeforeTheWorkersShare) {
  // Both compute every channel in 4 ms; the worker's link costs 3 ms whatever its share:
  // 4 s0 = 3 + 4 (1 - s0), so s0 = 7/8.
  ShareBalancer b({1, 1}, 1, kFullStep);
  observe(b, {4, 4}, {0, 3}, 3);
  const std::vector<double> s = b.propose();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_NEAR(s[0], 0.875, 1e-3);
  EXPECT_NEAR(b.fixed_ms(1), 3.0, 1e-9);
  EXPECT_NEAR(b.rate_ms(1), 4.0, 1e-9);
}

TEST(ShareBalancer, OneOutlierMovesNothingTwoInARowDo) {
  ShareBalancer b({1, 1}, 1, kFullStep);
  observe(b, {4, 4}, {0, 0}, 3);
  observe(b, {4, 40}, {0, 0});  // one preempted run
  EXPECT_TRUE(b.propose().empty());
  observe(b, {4, 40}, {0, 0});  // the device really is loaded now
  const std::vector<double> s = b.propose();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_NEAR(s[1], 4.0 / 44, 1e-3);
}

TEST(ShareBalancer, SmallGainsAndUnsettledChangesAreNotProposed) {
  ShareBalancer b({1, 1}, 1, kFullStep);
  observe(b, {4, 4.6}, {0, 0}, 3);  // the best is 7 % faster: not worth a new plan
  EXPECT_TRUE(b.propose().empty());
  observe(b, {4, 8}, {0, 0}, 3);
  std::vector<double> s = b.propose();
  ASSERT_FALSE(s.empty());
  b.adopt(s);
  observe(b, {8, 4}, {0, 0}, 2);  // the load moved to the other device
  EXPECT_TRUE(b.propose().empty()) << "two inputs since the change: not settled";
  observe(b, {8, 4}, {0, 0});
  s = b.propose();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_NEAR(s[0], 1.0 / 3, 1e-3);
}

TEST(ShareBalancer, AnUpperBoundOnTheLinkLowersItButNeverRaisesIt) {
  ShareBalancer b({1, 1}, 1, kFullStep);
  observe(b, {4, 4}, {0, 2}, 3);
  EXPECT_NEAR(b.fixed_ms(1), 2.0, 1e-9);
  observe(b, {4, 4}, {0, 9}, 3, /*exact=*/false);  // the reply was already there: at most 9
  EXPECT_NEAR(b.fixed_ms(1), 2.0, 1e-9);
  observe(b, {4, 4}, {0, 0.5}, 3, /*exact=*/false);  // at most 0.5: the link got faster
  EXPECT_NEAR(b.fixed_ms(1), 0.5, 1e-9);
}

TEST(ShareBalancer, APartWhoseLinkCostsMoreThanTheOthersWorkIsHeldAtTheFloor) {
  // The third part's link takes 3 ms, more than the others need for all of the work
  // between them (2 ms): it keeps the smallest share the plan allows.
  ShareBalancer b({1, 1, 1}, 1, ShareBalancer::Options{0.1, 0.05, 3, 1.0});
  observe(b, {4, 4, 4}, {0, 0, 3}, 3);
  const std::vector<double> s = b.propose();
  ASSERT_EQ(s.size(), 3u);
  EXPECT_NEAR(s[2], 0.05, 2e-3);
  EXPECT_NEAR(s[0], s[1], 1e-3);
  EXPECT_NEAR(s[0] + s[1] + s[2], 1.0, 1e-9);
  EXPECT_FALSE(b.alone_is_faster()) << "4 ms alone; about 2 ms at these shares";
  // No share helps a part whose link alone takes longer than everything: the only way out is
  // to leave the partition, and this device alone is faster.
  ShareBalancer hopeless({1, 1, 1}, 1, ShareBalancer::Options{0.1, 0.05, 3, 1.0});
  observe(hopeless, {4, 4, 4}, {0, 0, 50}, 3);
  EXPECT_TRUE(hopeless.propose().empty());
  EXPECT_TRUE(hopeless.alone_is_faster());
}

TEST(ShareBalancer, ProposalsGoPartWayAndStopWhenTheRestIsNotWorthIt) {
  ShareBalancer b({1, 1});  // the default step: half way
  observe(b, {4, 8}, {0, 0}, 3);
  std::vector<double> s = b.propose();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_NEAR(s[0], 0.5 + 0.5 * (2.0 / 3 - 0.5), 1e-3);
  int changes = 0;
  for (; !s.empty() && changes < 10; s = b.propose()) {
    b.adopt(s);
    ++changes;
    observe(b, {4, 8}, {0, 0}, 3);
  }
  EXPECT_LE(changes, 3);
  EXPECT_GT(b.shares()[0], 0.58);
  EXPECT_LE(b.shares()[0], 2.0 / 3 + 1e-3) << "never past the balance";
  EXPECT_LT(b.predicted_ms(b.shares()), 8.0 / 3 / 0.9) << "within min_gain of the best, 8/3 ms";
}

TEST(ShareBalancer, StagesAreSummedAndTheSlowestPartOfEachCounts) {
  // Two stages: in the first the worker is twice as slow, in the second as fast. An input
  // takes the slower part of each stage: at halves, 4 + 2 = 6 ms.
  ShareBalancer b({1, 1}, 2, kFullStep);
  for (int k = 0; k < 3; ++k) {
    b.observe({{2, 0, true}, {4, 0, true}, {2, 0, true}, {2, 0, true}});
  }
  EXPECT_NEAR(b.predicted_ms({1, 1}), 6.0, 1e-9);
  EXPECT_NEAR(b.rate_ms(0), 8.0, 1e-9);   // 4 + 4 ms for every channel
  EXPECT_NEAR(b.rate_ms(1), 12.0, 1e-9);  // 8 + 4
  // Balancing the sums (8 s0 = 12 (1 - s0): s0 = 0.6) would give 3.2 + 2.4 = 5.6 ms; the
  // best is where the first stage balances, s0 = 2/3: 2.67 + 2.67 = 5.33 ms.
  const std::vector<double> s = b.propose();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_NEAR(s[0], 2.0 / 3, 2e-3);
  EXPECT_NEAR(b.predicted_ms(s), 16.0 / 3, 1e-2);
}

}  // namespace
}  // namespace shoal
