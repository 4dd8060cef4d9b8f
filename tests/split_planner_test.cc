// The split planner, driven by observations alone: what it predicts from them (the master's
// latency model), where it cuts as the worker's speed and the link change, and the split
// points it chooses among.
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

// Observations as a run of each candidate would give them: this device at `here` and the
// worker at `there` ms per million MACs, a link of `rtt_ms` plus `ms_per_byte`.
struct World {
  double here = 1, there = 1, rtt_ms = 0.1, ms_per_byte = 1e-6;

  double here_ms(const SplitPlanner& p, size_t c) const { return here * static_cast<double>(p.macs_here(c)) * 1e-6; }
  double there_ms(const SplitPlanner& p, size_t c) const { return there * static_cast<double>(p.macs_there(c)) * 1e-6; }
  double link_ms(const SplitPlanner& p, size_t c) const { return rtt_ms + ms_per_byte * static_cast<double>(p.bytes(c)); }
  // What candidate c takes in this world: what the planner should predict once it has seen it.
  double ms(const SplitPlanner& p, size_t c) const {
    return here_ms(p, c) + (c == p.all_local() ? 0.0 : link_ms(p, c) + there_ms(p, c));
  }
  void run(SplitPlanner& p, size_t c) const {
    p.observe(c, here_ms(p, c), link_ms(p, c) + there_ms(p, c), there_ms(p, c), p.bytes(c));
  }
  // Every candidate run `times` times, the link probed between: long enough for every
  // smoothed estimate to settle.
  void settle(SplitPlanner& p, int times = 100) const {
    for (int i = 0; i < times; ++i) {
      p.observe_probe(rtt_ms);
      for (size_t c = 0; c < p.candidates(); ++c) run(p, c);
    }
  }
};

// Predictions without margins or ageing: what was measured, exactly.
LatencyOptions exact() {
  LatencyOptions o;
  o.margin_ms = 0;
  o.margin_fraction = 0;
  o.half_life_ms = 0;
  return o;
}

size_t fastest(const SplitPlanner& p) {
  size_t best = 0;
  for (size_t k = 1; k < p.candidates(); ++k) best = p.predicted_ms(k) < p.predicted_ms(best) ? k : best;
  return best;
}

// Any 10 choices in a row: the best at least 9 times (the other may explore).
size_t best_of_10(SplitPlanner& p, TimeUs now) {
  std::map<size_t, int> seen;
  for (uint32_t i = 0; i < SplitPlanner::kExploreEvery; ++i) ++seen[p.choose(now)];
  for (const auto& [c, n] : seen) {
    if (n >= static_cast<int>(SplitPlanner::kExploreEvery) - 1) return c;
  }
  ADD_FAILURE() << "no candidate chosen 9 times of 10";
  return p.candidates();
}

TEST_F(Planner, PredictsWhatEachSideAndTheLinkWereMeasuredToTake) {
  SplitPlanner p(*model_, subnet_, 4.0, exact());
  const uint64_t total = model_->cost(subnet_).macs;
  ASSERT_EQ(p.macs_here(p.all_local()), total);
  ASSERT_EQ(p.macs_there(p.all_remote()), total);
  EXPECT_EQ(p.bytes(p.all_remote()), 28u * 28u);
  EXPECT_EQ(p.bytes(p.all_local()), 0u);
  EXPECT_EQ(p.bytes(1), p.point(1).values * 4);

  const TimeUs now = 1'000'000;
  EXPECT_EQ(p.choose(now), p.all_remote()) << "the worker is tried first";
  EXPECT_TRUE(p.probe_wanted()) << "and the link, never measured, probed";
  EXPECT_FALSE(p.probe_wanted()) << "asked once";
  World w{2.0, 0.2, 0.1, 1e-6};
  w.run(p, p.all_remote());
  EXPECT_EQ(p.choose(now), p.all_local()) << "then this device";
  for (const World& world : {World{2.0, 0.2, 0.1, 1e-6}, World{1.0, 3.0, 0.5, 1e-4}, World{5.0, 1.0, 2.0, 1e-5}}) {
    world.settle(p);
    for (size_t c = 0; c < p.candidates(); ++c) {
      EXPECT_NEAR(p.predicted_ms(c), world.ms(p, c), 1e-6 * world.ms(p, c)) << "candidate " << c;
    }
  }
}

TEST_F(Planner, TheCutFollowsTheWorkersSpeedAndTheLink) {
  SplitPlanner p(*model_, subnet_, 4.0, exact());
  const TimeUs now = 1'000'000;
  // This device: 2 ms per million MACs; the worker ten times faster; a 0.1 ms round trip.
  World w{2.0, 0.2, 0.1, 1e-6};
  w.settle(p);
  EXPECT_EQ(best_of_10(p, now), p.all_remote()) << "the fast worker runs it all";

  // The link drops to 10 kB/s: the image alone would take 78 ms, so this device runs it all.
  w.ms_per_byte = 0.1;
  w.settle(p);
  EXPECT_EQ(fastest(p), p.all_local());
  EXPECT_EQ(best_of_10(p, now), p.all_local());

  // At 1 MB/s and with the worker as fast as this device, splitting only adds the link.
  w.ms_per_byte = 1e-3;
  w.there = 2.0;
  w.settle(p);
  EXPECT_EQ(best_of_10(p, now), p.all_local());

  // The link recovers and the worker is ten times faster again: the work goes back to it.
  w.ms_per_byte = 1e-6;
  w.there = 0.2;
  w.settle(p);
  EXPECT_EQ(best_of_10(p, now), p.all_remote());

  // With a deadline the runner-up would miss, exploring asks for a probe of the link instead.
  bool probed = false;
  for (uint32_t i = 0; i < SplitPlanner::kExploreEvery; ++i) {
    const double deadline = p.predicted_ms(p.all_remote()) * 1.01;
    EXPECT_EQ(p.choose(now, deadline), p.all_remote());
    probed = p.probe_wanted() || probed;
  }
  EXPECT_TRUE(probed);
  EXPECT_FALSE(p.probe_wanted()) << "asked once";

  // Loaded, the worker is five times slower than this device: all here.
  w.there = 10.0;
  w.settle(p);
  EXPECT_EQ(best_of_10(p, now), p.all_local());
}

// As the master's latency model does: an estimate not renewed ages (towards its recent
// replies, and as they grow old towards the best it ever was), so a worker measured slow for
// a while is tried again; and a probe that crosses the link fast bounds its time per byte at
// once.
TEST_F(Planner, ASideMeasuredSlowIsTriedAgainAsItsEstimateAges) {
  LatencyOptions options = exact();
  options.half_life_ms = 100;
  SplitPlanner p(*model_, subnet_, 4.0, options);
  TimeUs now = 1'000'000;
  World w{2.0, 0.2, 0.1, 1e-6};
  w.settle(p);
  ASSERT_EQ(p.choose(now), p.all_remote());
  w.there = 20.0;  // one stall of the worker...
  for (int i = 0; i < 20; ++i) w.run(p, p.all_remote());
  EXPECT_EQ(p.choose(now), p.all_local()) << "...moves the work here";
  now += us_from_ms(5000);  // fifty half-lives later, without a word from the worker
  EXPECT_EQ(p.choose(now), p.all_remote()) << "its estimate is back near its best: tried again";

  // The link measured slow, then a probe of 1 KiB that takes 0.1 ms: at most 0.1 ms per KiB.
  w.there = 0.2;
  w.ms_per_byte = 0.1;
  w.settle(p);
  ASSERT_GT(p.latency().link(SplitPlanner::kThere).ms_per_kib, 50);
  p.observe_probe(0.1, 1024);
  EXPECT_LE(p.latency().link(SplitPlanner::kThere).ms_per_kib, 0.1);
}

// Exploring takes turns among the candidates that would not hurt much, so none is left with a
// stale estimate (a runner-up alone would always be the same one).
TEST_F(Planner, ExplorationTakesTurnsAmongTheCandidatesThatFit) {
  SplitPlanner p(*model_, subnet_, 4.0, exact());
  const TimeUs now = 1'000'000;
  World{1.0, 1.0, 0.01, 0.0}.settle(p);  // both sides as fast, a fast link: every cut is close to the best
  std::map<size_t, int> taken;
  for (uint32_t i = 0; i < 3 * SplitPlanner::kExploreEvery; ++i) ++taken[p.choose(now)];
  EXPECT_EQ(taken.size(), 4u) << "the best, and three different candidates explored";
  for (const auto& [c, n] : taken) EXPECT_TRUE(n == 1 || n == 27) << "candidate " << c << " taken " << n;
  // With a deadline nothing but the best meets, exploring probes the link instead.
  const size_t best = p.choose(now, 0.0);
  int probes = 0;
  for (uint32_t i = 0; i < SplitPlanner::kExploreEvery; ++i) {
    EXPECT_EQ(p.choose(now, p.predicted_ms(best) * 1.0001), best);
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
  SplitPlanner p(model, 0, 1.0, exact());  // int8
  ASSERT_EQ(p.bytes(1), 8u * 8u * 8u);
  ASSERT_LT(p.bytes(1), p.bytes(p.all_remote()));
  // 20 ms per million MACs here (a microcontroller), 1 there, 1 MB/s.
  World{20.0, 1.0, 0.0, 0.001}.settle(p);
  EXPECT_EQ(fastest(p), 1u) << "after 'shrink': " << p.predicted_ms(1) << " ms; all there "
                            << p.predicted_ms(p.all_remote()) << " ms; all here " << p.predicted_ms(p.all_local()) << " ms";
  int taken = 0;
  for (uint32_t i = 0; i < SplitPlanner::kExploreEvery; ++i) taken += p.choose(1'000'000) == 1;
  EXPECT_EQ(taken, static_cast<int>(SplitPlanner::kExploreEvery) - 1);
}

}  // namespace
}  // namespace shoal
