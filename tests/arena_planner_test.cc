#include <gtest/gtest.h>

#include <random>

#include "shoal/arena_planner.h"

namespace shoal {
namespace {

TEST(ArenaPlanner, BuffersLiveTogetherNeverOverlap) {
  std::mt19937 rng(5);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<ArenaRequest> reqs(std::uniform_int_distribution<int>(1, 40)(rng));
    size_t sum = 0;
    for (ArenaRequest& r : reqs) {
      r.bytes = std::uniform_int_distribution<size_t>(0, 5000)(rng);
      r.first = std::uniform_int_distribution<int>(0, 30)(rng);
      r.last = r.first + std::uniform_int_distribution<int>(0, 6)(rng);
      sum += (r.bytes + 63) / 64 * 64;
    }
    const ArenaPlan plan = plan_arena(reqs, 64);
    ASSERT_EQ(plan.offsets.size(), reqs.size());
    EXPECT_LE(plan.total, sum);
    for (size_t i = 0; i < reqs.size(); ++i) {
      EXPECT_EQ(plan.offsets[i] % 64, 0u);
      EXPECT_LE(plan.offsets[i] + reqs[i].bytes, plan.total);
      for (size_t j = i + 1; j < reqs.size(); ++j) {
        const bool live_together = reqs[i].first <= reqs[j].last && reqs[j].first <= reqs[i].last;
        const bool overlap = plan.offsets[i] < plan.offsets[j] + reqs[j].bytes &&
                             plan.offsets[j] < plan.offsets[i] + reqs[i].bytes;
        ASSERT_FALSE(live_together && overlap) << "trial " << trial << " buffers " << i << " and " << j;
      }
    }
  }
}

TEST(ArenaPlanner, ReusesMemoryOfDeadBuffers) {
  // A chain: each buffer lives for two steps, so two slots suffice.
  std::vector<ArenaRequest> chain;
  for (int i = 0; i < 10; ++i) chain.push_back({1024, i, i + 1});
  EXPECT_EQ(plan_arena(chain, 64).total, 2048u);
}

}  // namespace
}  // namespace shoal
