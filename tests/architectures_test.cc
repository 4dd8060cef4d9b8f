// The architectures against their reference definitions: parameters exactly, multiply-adds
// at the published precision; every width of every architecture loads; where concatenated
// channels land.
#include <gtest/gtest.h>

#include <cmath>

#include "shoal/architectures.h"
#include "shoal/builder.h"
#include "shoal/concat_order.h"
#include "test_models.h"

namespace shoal::testing {
namespace {

Model load(const ModelSpec& spec) {
  const std::vector<uint8_t> bytes = serialize_model(spec);
  Result<Model> model = Model::from_bytes(bytes.data(), bytes.size());
  EXPECT_TRUE(model.is_ok()) << model.status().to_string();
  return std::move(model.value());
}

// torchvision's model table (https://pytorch.org/vision/stable/models.html): parameters, and
// "GFLOPS", which counts multiply-adds of convolution and linear layers, to 2 decimals, at
// 224x224 (299x299 for Inception).
struct Published {
  const char* arch;
  uint64_t params;
  double gmacs;
};

// torchvision's Inception v3 counts its auxiliary classifier, which only training uses:
// InceptionAux(768, 1000) = conv 1x1 768->128 + batch-norm, conv 5x5 128->768 + batch-norm,
// linear 768->1000.
constexpr uint64_t kInceptionAux = (768 * 128 + 2 * 128) + (128 * 768 * 25 + 2 * 768) + (768 * 1000 + 1000);

TEST(Architectures, ParametersAndMultiplyAddsAreTheReferenceDefinitions) {
  const Published published[] = {{"squeezenet", 1'235'496, 0.35},     {"mobilenetv2", 3'504'872, 0.30},
                                 {"resnet18", 11'689'512, 1.81},       {"inceptionv3", 27'161'264 - kInceptionAux, 5.71},
                                 {"alexnet", 61'100'840, 0.71},        {"vgg16", 138'357'544, 15.47}};
  for (const Published& p : published) {
    Result<ModelSpec> spec = build_architecture(p.arch, {1.0f});
    ASSERT_TRUE(spec.is_ok()) << spec.status().to_string();
    const Model model = load(spec.value());
    const SubnetCost cost = model.cost(0);
    EXPECT_EQ(cost.params, p.params) << p.arch;
    EXPECT_NEAR(std::round(cost.macs / 1e7) / 100.0, p.gmacs, 1e-9) << p.arch << ": " << cost.macs << " MACs";
  }
}

// Every group is cut by the same fraction, concatenations add their inputs' ranges, and the
// loader checks the result: any width of any architecture must load.
TEST(Architectures, EveryWidthOfEveryArchitectureLoads) {
  const std::vector<float> widths{0.1f, 0.3f, 0.37f, 0.5f, 0.61f, 0.9f, 1.0f};
  for (const ArchitectureInfo& a : architectures()) {
    if (a.fixed_subnets) continue;
    const uint32_t side = kSmallSide.count(a.name) ? kSmallSide.at(a.name) : 0;
    Result<ModelSpec> spec = build_architecture(a.name, widths, side);
    ASSERT_TRUE(spec.is_ok()) << a.name << ": " << spec.status().to_string();
    const Model model = load(spec.value());
    ASSERT_EQ(model.fb().subnets()->size(), widths.size()) << a.name;
    for (uint32_t s = 1; s < widths.size(); ++s) {
      EXPECT_GT(model.cost(s).macs, model.cost(s - 1).macs) << a.name << " at width " << widths[s];
    }
  }
}

TEST(Architectures, SidesOutsideTheArchitecturesRangeAreRefused) {
  EXPECT_FALSE(build_architecture("inceptionv3", {}, 74).is_ok());
  EXPECT_FALSE(build_architecture("vgg16", {}, kMaxArchitectureSide + 1).is_ok());
  const Status fixed = build_architecture("resnet8", {}, 32).status();
  EXPECT_NE(fixed.message().find("only 28x28"), std::string::npos) << fixed.to_string();
  EXPECT_TRUE(build_architecture("squeezenet", {0.5f}, 31).is_ok());
}

// Two inputs of 2 and 4 channels: keys a0 1/4, a1 3/4; b0 1/8, b1 3/8, b2 5/8, b3 7/8.
TEST(ConcatOrder, InterleavesByFractionOfEachInput) {
  const uint32_t caps[] = {2, 4};
  const std::vector<shoal_concat_run> runs = concat_runs(caps, 2);
  const std::vector<std::vector<uint32_t>> want = {{1, 0, 0, 1}, {0, 0, 1, 1}, {1, 1, 2, 2}, {0, 1, 4, 1}, {1, 3, 5, 1}};
  ASSERT_EQ(runs.size(), want.size());
  for (size_t i = 0; i < runs.size(); ++i) {
    EXPECT_EQ((std::vector<uint32_t>{runs[i].input, runs[i].src, runs[i].dst, runs[i].count}), want[i]) << "run " << i;
  }
  // Equal keys go to the earlier input; equal capacities alternate.
  const uint32_t same[] = {3, 3};
  const std::vector<shoal_concat_run> alternate = concat_runs(same, 2);
  ASSERT_EQ(alternate.size(), 6u);
  for (uint32_t i = 0; i < 6; ++i) EXPECT_EQ(alternate[i].input, i % 2);
}

// Pooling as PyTorch's ceil_mode: a window that starts inside the input counts.
TEST(Architectures, CeilModePoolingAddsTheLastWindow) {
  ModelBuilder b("ceil", 1);
  const uint32_t g = b.group("g", 4);
  const uint32_t x = b.input("x", g, 7, 6);
  const uint32_t floor = b.max_pool("floor", x, make_window(3, 2));
  const uint32_t ceil = b.max_pool("ceil", x, make_window(3, 2), true);
  const uint32_t exact = b.max_pool("exact", x, make_window(3, 2, 1), true);  // 7x6 with padding 1
  EXPECT_EQ(b.spec().tensors[floor].h, 3u);
  EXPECT_EQ(b.spec().tensors[floor].w, 2u);
  EXPECT_EQ(b.spec().tensors[ceil].h, 3u);  // (7 - 3) / 2 + 1: already exact
  EXPECT_EQ(b.spec().tensors[ceil].w, 3u);  // ceil((6 - 3) / 2) + 1
  EXPECT_EQ(b.spec().tensors[exact].h, 4u);
  EXPECT_EQ(b.spec().tensors[exact].w, 4u);
}

}  // namespace
}  // namespace shoal::testing
