// Channel-parallel partitions computed part by part on separate engines (as separate devices
// would) and gathered: the result equals one device running the whole subnet, for every
// architecture, subnet, part count and backend; the plan's stages; and what is refused.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "shoal/channel_partition.h"
#include "shoal/engine.h"
#include "test_models.h"

namespace shoal {
namespace {

Model load(const std::string& arch) {
  const auto& bytes = testing::synth_bytes(arch);
  return std::move(Model::from_bytes(bytes.data(), bytes.size()).value());
}

std::vector<float> random_input(const Model& model, uint32_t subnet, uint32_t seed) {
  std::vector<float> x(model.packed_size(subnet, model.fb().input()));
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  for (float& v : x) v = normal(rng);
  return x;
}

float max_difference(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float worst = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
  return worst;
}

TEST(ChannelPartition, PartsOnSeparateEnginesGatherToTheWholeSubnetsResult) {
  const std::vector<std::vector<double>> share_sets = {{1, 1}, {1, 2, 1}};
  for (const std::string arch : {"fluid-cnn", "resnet8", "resnet8-s2"}) {
    const Model model = load(arch);
    for (const Backend* kernels : available_backends()) {
      if (!kernels->narrows()) continue;  // XNNPACK or a GPU runs whole subnets only
      std::unique_ptr<Engine> whole = Engine::create(model, *kernels).value();
      for (uint32_t s = 0; s < model.fb().subnets()->size(); ++s) {
        const std::string subnet = model.fb().subnets()->Get(s)->name()->str();
        for (const std::vector<double>& shares : share_sets) {
          SCOPED_TRACE(arch + " " + kernels->name() + " " + subnet + " parts " + std::to_string(shares.size()));
          auto plan = plan_channel_partition(model, s, shares);
          if (!plan.is_ok()) {  // a quarter-width fluid subnet has 4 channels: 3 parts fit, the test's do
            ADD_FAILURE() << plan.status().message();
            continue;
          }
          std::vector<std::unique_ptr<Engine>> devices;
          for (size_t p = 0; p < shares.size(); ++p) devices.push_back(Engine::create(model, *kernels).value());
          PartitionExecutor ex(model, plan.value());
          for (uint32_t image = 0; image < 3; ++image) {
            const std::vector<float> x = random_input(model, s, image);
            std::vector<float> expected(model.packed_size(s, model.fb().output()));
            ASSERT_TRUE(whole->run(s, x.data(), x.size(), expected.data(), expected.size()).is_ok());
            ASSERT_TRUE(ex.begin(x.data(), x.size()).is_ok());
            for (size_t st = 0; st < ex.plan().stages.size(); ++st) {
              for (uint32_t p = 0; p < ex.plan().stages[st].ranges.size(); ++p) {
                const Status run = ex.run_here(*devices[p], st, p);
                ASSERT_TRUE(run.is_ok()) << run.message();
              }
            }
            EXPECT_LE(max_difference(ex.output(), expected), 1e-5f);
            ASSERT_FALSE(ex.logits().empty());
          }
        }
      }
    }
  }
}

// Fluid's high-accuracy mode: w1.0 as lower50 on one device and upper50 on the other, one
// stage per convolution (and its pooling), the classifier whole on the coordinator.
TEST(ChannelPartition, FluidHighAccuracyModeIsLower50PlusUpper50LayerByLayer) {
  const Model model = load("fluid-cnn");
  const uint32_t w10 = model.find_subnet("w1.0").value();
  auto plan = plan_channel_partition(model, w10, {1, 1});
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  const fb::Model& m = model.fb();
  ASSERT_EQ(plan->stages.size(), 4u);
  const char* firsts[] = {"conv1", "conv2", "conv3", "fc"};
  for (size_t st = 0; st < 4; ++st) {
    const PartitionStage& stage = plan->stages[st];
    EXPECT_EQ(m.nodes()->Get(stage.first_node)->name()->str(), firsts[st]);
    EXPECT_EQ(stage.split, st < 3);
    if (!stage.split) continue;
    EXPECT_EQ(stage.end_node - stage.first_node, 2u);  // the convolution and its pooling
    const uint32_t g = m.tensors()->Get(m.nodes()->Get(stage.first_node)->outputs()->Get(0))->group();
    EXPECT_EQ(stage.ranges[0][g].lo(), 0u);
    EXPECT_EQ(stage.ranges[0][g].hi(), 8u);
    EXPECT_EQ(stage.ranges[1][g].lo(), 8u);
    EXPECT_EQ(stage.ranges[1][g].hi(), 16u);
    ASSERT_EQ(stage.outputs.size(), 1u);  // the pooled tensor, gathered
  }
  // Part 1 receives the image and two pooled tensors, and sends back three halves.
  EXPECT_EQ(plan->floats_to(model, 1), 28u * 28 + 14 * 14 * 16 + 7 * 7 * 16);
  EXPECT_EQ(plan->floats_from(model, 1), 14u * 14 * 8 + 7 * 7 * 8 + 3 * 3 * 8);
  // A subnet that starts past channel 0 splits its own range.
  auto upper = plan_channel_partition(model, model.find_subnet("upper50").value(), {1, 1});
  ASSERT_TRUE(upper.is_ok());
  const uint32_t g = m.tensors()->Get(m.nodes()->Get(0)->outputs()->Get(0))->group();
  EXPECT_EQ(upper->stages[0].ranges[0][g].lo(), 8u);
  EXPECT_EQ(upper->stages[0].ranges[1][g].hi(), 16u);
}

TEST(ChannelPartition, ResidualBlocksExchangeBeforeEachConvolution) {
  const Model model = load("resnet8");
  const uint32_t w = model.fb().subnets()->size() - 1;
  auto plan = plan_channel_partition(model, w, {1, 1});
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  // stem; then per block: conv1, and conv2 + projection + add; pooling rides with the last.
  EXPECT_EQ(plan->stages.size(), 1u + 3 * 2 + 1);
  for (const PartitionStage& st : plan->stages) {
    for (uint32_t n = st.first_node + 1; n < st.end_node; ++n) {
      const fb::Node* node = model.fb().nodes()->Get(n);
      for (uint32_t t : *node->inputs()) {
        // No layer that mixes channels reads a tensor made in its own split stage.
        if (st.split && node->op() == fb::OpType::Conv2d && !node->depthwise()) {
          for (uint32_t k = st.first_node; k < n; ++k) EXPECT_NE(model.fb().nodes()->Get(k)->outputs()->Get(0), t);
        }
      }
    }
  }
}

TEST(ChannelPartition, RefusesWhatCannotBeSplit) {
  const Model model = load("fluid-cnn");
  const uint32_t lower25 = model.find_subnet("lower25").value();
  auto too_many = plan_channel_partition(model, lower25, {1, 1, 1, 1, 1});
  ASSERT_FALSE(too_many.is_ok());
  EXPECT_NE(too_many.status().message().find("too few"), std::string::npos) << too_many.status().message();
  EXPECT_FALSE(plan_channel_partition(model, lower25, {1}).is_ok());
  EXPECT_FALSE(plan_channel_partition(model, lower25, {1, 0}).is_ok());
  EXPECT_FALSE(plan_channel_partition(model, 99, {1, 1}).is_ok());
}

TEST(ChannelPartition, TheEngineChecksEveryShareBeforeRunningIt) {
  const Model model = load("fluid-cnn");
  const uint32_t w10 = model.find_subnet("w1.0").value();
  auto plan = plan_channel_partition(model, w10, {1, 1}).value();
  std::unique_ptr<Engine> engine = Engine::create(model, *find_backend("ref")).value();
  const PartitionStage& st = plan.stages[1];
  std::vector<float> in(model.packed_size(w10, st.inputs[0])), out(model.packed_size(st.ranges[1].data(), st.outputs[0]));
  const TensorIn good_in{st.inputs[0], in.data(), in.size()};
  const TensorOut good_out{st.outputs[0], out.data(), out.size()};
  const fb::GroupRange* r = st.ranges[1].data();
  EXPECT_TRUE(engine->run_nodes(w10, st.first_node, st.end_node, r, &good_in, 1, &good_out, 1).is_ok());
  // No input; the wrong count; a node range past the end; a tensor made later; a range past the subnet's.
  EXPECT_FALSE(engine->run_nodes(w10, st.first_node, st.end_node, r, nullptr, 0, &good_out, 1).is_ok());
  TensorIn short_in = good_in;
  short_in.count -= 1;
  EXPECT_FALSE(engine->run_nodes(w10, st.first_node, st.end_node, r, &short_in, 1, &good_out, 1).is_ok());
  EXPECT_FALSE(engine->run_nodes(w10, st.first_node, 99, r, &good_in, 1, &good_out, 1).is_ok());
  TensorIn later = good_in;
  later.tensor = st.outputs[0];
  EXPECT_FALSE(engine->run_nodes(w10, st.first_node, st.end_node, r, &later, 1, &good_out, 1).is_ok());
  std::vector<fb::GroupRange> wide = st.ranges[1];
  const uint32_t lower50 = model.find_subnet("lower50").value();
  EXPECT_FALSE(engine->check_nodes(lower50, st.first_node, st.end_node, wide.data(), nullptr, 0, nullptr, 0).is_ok());
  if (const Backend* xnn = find_backend("xnnpack")) {
    std::unique_ptr<Engine> ops = Engine::create(model, *xnn).value();
    const Status st2 = ops->run_nodes(w10, st.first_node, st.end_node, r, &good_in, 1, &good_out, 1);
    EXPECT_EQ(st2.code(), StatusCode::kUnsupported) << st2.message();
  }
}

}  // namespace
}  // namespace shoal
