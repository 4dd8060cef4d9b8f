// The split planner, driven by observations alone: where it cuts as the worker's speed and
// the link change, and the split points it chooses among.
#include <gtest/gtest.h>

#include <map>

#include "shoal/builder.h"
#include "shoal/split_planner.h"
#include "test_models.h"

namespace shoal {
namespace {

class Planner : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& bytes = testing::synth_bytes("resnet8");
    model_ = std::make_unique<Model>(std::move(Model::from_bytes(bytes.data(), bytes.size()).value()));
    subnet_ = model_->fb().subnets()->size() - 1;
  }
  std::unique_ptr<Model> model_;
  uint32_t subnet_ = 0;
};

TEST_F(Planner, SplitPointsAreTheCutsWithTheWorkOnEachSide) {
  const std::vector<uint32_t> cuts = model_->cut_tensors();
  for (uint32_t s = 0; s < model_->fb().subnets()->size(); ++s) {
    const std::vector<SplitPoint> points = split_points(*model_, s);
    ASSERT_EQ(points.size(), cuts.size());
    uint64_t last = 0;
    for (size_t i = 0; i < points.size(); ++i) {
      EXPECT_EQ(points[i].tensor, cuts[i]);
      EXPECT_EQ(model_->fb().nodes()->Get(points[i].node)->outputs()->Get(0), cuts[i]);
      EXPECT_EQ(points[i].macs_before + points[i].macs_after, model_->cost(s).macs);
      EXPECT_GE(points[i].macs_before, last);
      last = points[i].macs_before;
      EXPECT_EQ(points[i].values, model_->packed_size(s, cuts[i]));
    }
  }
}

TEST_F(Planner, TheCutFollowsTheWorkersSpeedAndTheLink) {
  SplitPlanner p(*model_, subnet_, 4.0);
  const uint64_t total = model_->cost(subnet_).macs;
  ASSERT_EQ(p.macs_here(p.all_local()), total);
  ASSERT_EQ(p.macs_there(p.all_remote()), total);
  EXPECT_EQ(p.bytes(p.all_remote()), 28u * 28u);
  EXPECT_EQ(p.bytes(p.all_local()), 0u);
  EXPECT_EQ(p.bytes(1), p.point(1).values * 4);

  EXPECT_EQ(p.choose(), p.all_remote()) << "the worker is tried first";
  // This device: 2 ms per million MACs; the worker ten times faster; a 0.1 ms round trip.
  for (int i = 0; i < 20; ++i) {
    p.observe_here(total, 2.0 * total * 1e-6);
    p.observe_there(total, 0.2 * total * 1e-6);
    p.observe_round_trip(0.1);
  }
  EXPECT_NEAR(p.here_ms_per_mmac(), 2.0, 1e-9);
  EXPECT_NEAR(p.there_ms_per_mmac(), 0.2, 1e-9);
  const size_t mid = 2;
  EXPECT_NEAR(p.predicted_ms(mid), 2.0 * p.macs_here(mid) * 1e-6 + 0.1 + 1e-6 * p.bytes(mid) + 0.2 * p.macs_there(mid) * 1e-6, 1e-9);
  EXPECT_NEAR(p.predicted_ms(p.all_local()), 2.0 * total * 1e-6, 1e-9);
  // Any 10 choices in a row: the best 9 times, the runner-up once (exploring).
  auto best_of_10 = [&]() {
    std::map<size_t, int> seen;
    for (uint32_t i = 0; i < SplitPlanner::kExploreEvery; ++i) ++seen[p.choose()];
    for (const auto& [c, n] : seen) {
      if (n == static_cast<int>(SplitPlanner::kExploreEvery) - 1 && seen.size() == 2) return c;
    }
    ADD_FAILURE() << "no candidate chosen 9 times of 10";
    return p.candidates();
  };
  auto fastest = [&]() {
    size_t best = 0;
    for (size_t k = 1; k < p.candidates(); ++k) best = p.predicted_ms(k) < p.predicted_ms(best) ? k : best;
    return best;
  };
  EXPECT_EQ(best_of_10(), p.all_remote()) << "the fast worker runs it all";

  // The link drops to 10 kB/s: the image alone would take 78 ms, so this device runs it all.
  for (int i = 0; i < 30; ++i) p.observe_transfer(50176, 0.1 + 50176 * 0.1);
  EXPECT_NEAR(p.ms_per_kib(), 102.4, 0.1);
  EXPECT_EQ(fastest(), p.all_local());
  EXPECT_EQ(best_of_10(), p.all_local());

  // At 1 MB/s and with the worker as fast as this device, splitting only adds the link.
  for (int i = 0; i < 30; ++i) {
    p.observe_transfer(50176, 0.1 + 50176 * 0.001);
    p.observe_there(total, 2.0 * total * 1e-6);
  }
  EXPECT_EQ(best_of_10(), p.all_local());

  // The link recovers and the worker is ten times faster again: the work goes back to it.
  for (int i = 0; i < 30; ++i) {
    p.observe_transfer(50176, 0.1 + 50176 * 1e-6);
    p.observe_round_trip(0.1);
    p.observe_there(total, 0.2 * total * 1e-6);
  }
  EXPECT_EQ(best_of_10(), p.all_remote());

  // With a deadline the runner-up would miss, exploring asks for a probe of the link instead.
  bool probed = false;
  for (uint32_t i = 0; i < SplitPlanner::kExploreEvery; ++i) {
    const double deadline = p.predicted_ms(p.all_remote()) * 1.01;
    EXPECT_EQ(p.choose(deadline), p.all_remote());
    probed = p.probe_wanted() || probed;
  }
  EXPECT_TRUE(probed);
  EXPECT_FALSE(p.probe_wanted()) << "asked once";

  // Loaded, the worker is five times slower than this device: all here.
  for (int i = 0; i < 30; ++i) p.observe_there(total, 10.0 * total * 1e-6);
  EXPECT_EQ(best_of_10(), p.all_local());
}

// Exploring takes turns among the candidates that would not hurt much, so none is left with a
// stale estimate (a runner-up alone would always be the same one).
TEST_F(Planner, ExplorationTakesTurnsAmongTheCandidatesThatFit) {
  SplitPlanner p(*model_, subnet_, 4.0);
  const uint64_t total = model_->cost(subnet_).macs;
  for (int i = 0; i < 3; ++i) {  // both sides as fast, a fast link: every cut is close to the best
    p.observe_here(total, 1.0 * total * 1e-6);
    p.observe_there(total, 1.0 * total * 1e-6);
    p.observe_round_trip(0.01);
  }
  std::map<size_t, int> taken;
  for (uint32_t i = 0; i < 3 * SplitPlanner::kExploreEvery; ++i) ++taken[p.choose()];
  EXPECT_EQ(taken.size(), 4u) << "the best, and three different candidates explored";
  for (const auto& [c, n] : taken) EXPECT_TRUE(n == 1 || n == 27) << "candidate " << c << " taken " << n;
  // With a deadline nothing but the best meets, exploring probes the link instead.
  const size_t best = p.choose(0.0);
  int probes = 0;
  for (uint32_t i = 0; i < SplitPlanner::kExploreEvery; ++i) {
    EXPECT_EQ(p.choose(p.predicted_ms(best) * 1.0001), best);
    probes += p.probe_wanted();
  }
  EXPECT_EQ(probes, 1);
}

// A network whose first layer shrinks the image (32x32x3 to 8x8x8): on a slow device and a
// slow link, the best split runs that layer here and sends its output, int8, to the worker.
TEST(PlannerFunnel, AMiddleCutWinsWhereItSendsLessThanTheImage) {
  ModelBuilder b("funnel", 2);
  const uint32_t image = b.group("image", 3, false), g = b.group("g", 8), classes = b.group("classes", 10, false);
  const LayerOptions relu{fb::Activation::Relu, false, true, false};
  uint32_t x = b.input("image", image, 32, 32);
  x = b.conv2d("shrink", x, g, make_window(5, 4, 2), relu);  // 8x8x8
  x = b.conv2d("conv", x, g, make_window(3, 1, 1), relu);
  x = b.global_avg_pool("gap", x);
  x = b.linear("fc", x, classes, {fb::Activation::None, false, false, true});
  b.output(b.softmax("prob", x));
  b.subnet("w1.0", 1.0f, 0.0f, 1.0f, 0);
  randomize_weights(b.spec(), 3);
  const std::vector<uint8_t> bytes = serialize_model(b.spec());
  const Model model = std::move(Model::from_bytes(bytes.data(), bytes.size()).value());
  SplitPlanner p(model, 0, 1.0);  // int8
  ASSERT_EQ(p.bytes(1), 8u * 8u * 8u);
  ASSERT_LT(p.bytes(1), p.bytes(p.all_remote()));
  const uint64_t total = model.cost(0).macs;
  for (int i = 0; i < 30; ++i) {
    p.observe_here(total, 20.0 * total * 1e-6);  // 20 ms per million MACs: a microcontroller
    p.observe_there(total, 1.0 * total * 1e-6);
    p.observe_round_trip(0.0);
    p.observe_transfer(50176, 50176 * 0.001);    // 1 MB/s
  }
  size_t best = 0;
  for (size_t k = 1; k < p.candidates(); ++k) best = p.predicted_ms(k) < p.predicted_ms(best) ? k : best;
  EXPECT_EQ(best, 1u) << "after 'shrink': " << p.predicted_ms(1) << " ms; all there " << p.predicted_ms(p.all_remote())
                      << " ms; all here " << p.predicted_ms(p.all_local()) << " ms";
  int taken = 0;
  for (uint32_t i = 0; i < SplitPlanner::kExploreEvery; ++i) taken += p.choose() == 1;
  EXPECT_EQ(taken, static_cast<int>(SplitPlanner::kExploreEvery) - 1);
}

}  // namespace
}  // namespace shoal
