// The loader against well-formed, malformed and hostile files.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "shoal/builder.h"
#include "shoal/engine.h"
#include "shoal/model.h"
#include "test_models.h"

namespace shoal::testing {
namespace {

Status load(const ModelSpec& spec) {
  const std::vector<uint8_t> bytes = serialize_model(spec);
  return Model::from_bytes(bytes.data(), bytes.size()).status();
}

// The version a spec is written at.
uint32_t written_version(const ModelSpec& spec) {
  const std::vector<uint8_t> bytes = serialize_model(spec);
  auto m = Model::from_bytes(bytes.data(), bytes.size());
  return m.is_ok() ? m->fb().version() : 0;
}

void expect_error(const ModelSpec& spec, StatusCode code, const std::string& fragment) {
  const Status st = load(spec);
  EXPECT_EQ(st.code(), code) << st.to_string();
  EXPECT_NE(st.message().find(fragment), std::string::npos) << "message was: " << st.message();
}

TEST(ModelLoader, EverySynthArchitectureRoundTrips) {
  for (const char* arch : {"fluid-cnn", "resnet8", "resnet18"}) {
    const auto& bytes = synth_bytes(arch);
    auto model = Model::from_bytes(bytes.data(), bytes.size());
    ASSERT_TRUE(model.is_ok()) << arch << ": " << model.status().to_string();
    EXPECT_EQ(model->fb().metadata()->architecture()->str(), arch);
    EXPECT_GE(model->fb().subnets()->size(), 4u);
  }
}

TEST(ModelLoader, FindsSubnetsByNameAndWidth) {
  const auto& bytes = synth_bytes("fluid-cnn");
  auto model = Model::from_bytes(bytes.data(), bytes.size());
  ASSERT_TRUE(model.is_ok());
  EXPECT_EQ(model->fb().subnets()->Get(model->find_subnet("upper50").value())->name()->str(), "upper50");
  EXPECT_EQ(model->fb().subnets()->Get(model->find_subnet("0.5").value())->name()->str(), "lower50");
  EXPECT_EQ(model->fb().subnets()->Get(model->find_subnet("1").value())->name()->str(), "w1.0");
  auto missing = model->find_subnet("0.3");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find("upper25"), std::string::npos) << "the error lists what exists";
}

TEST(ModelLoader, RejectsEachKindOfMalformedFile) {
  const ModelSpec good = synth_spec("fluid-cnn");
  ASSERT_TRUE(load(good).is_ok());
  const auto& bytes = synth_bytes("fluid-cnn");

  auto truncated = Model::from_bytes(bytes.data(), bytes.size() / 2);
  EXPECT_EQ(truncated.status().code(), StatusCode::kCorrupt);
  std::vector<uint8_t> wrong_id = bytes;
  std::memcpy(wrong_id.data() + 4, "XXXX", 4);
  auto bad_id = Model::from_bytes(wrong_id.data(), wrong_id.size());
  EXPECT_NE(bad_id.status().message().find("identifier"), std::string::npos);
  EXPECT_EQ(Model::from_bytes(bytes.data(), 3).status().code(), StatusCode::kCorrupt);

  ModelSpec s = good;
  s.version = kModelVersion + 1;
  expect_error(s, StatusCode::kUnsupported, "version " + std::to_string(kModelVersion + 1));
  s = good;
  s.nodes[2].inputs[0] = 999;
  expect_error(s, StatusCode::kCorrupt, "out of range");
  s = good;
  s.tensors[1].h = 27;  // conv1's output no longer matches its window
  expect_error(s, StatusCode::kCorrupt, "does not give");
  s = good;
  s.buffers[s.nodes[0].weights].pop_back();
  expect_error(s, StatusCode::kCorrupt, "holds 572 bytes");
  s = good;
  s.nodes[0].shift = 9999;
  expect_error(s, StatusCode::kCorrupt, "shift buffer 9999");
  s = good;
  s.subnets[1].ranges[1] = fb::GroupRange(0, 17);
  expect_error(s, StatusCode::kCorrupt, "of 16");
  s = good;  // typed tensors: the schema has them, this version's kernels do not yet
  s.tensors[1].type = fb::DataType::QInt8;
  expect_error(s, StatusCode::kUnsupported, "QInt8 elements");
  s = good;
  s.subnets[1].quantization.assign(s.tensors.size() - 1, fb::Quantization(0.1f, 0));
  expect_error(s, StatusCode::kCorrupt, "quantises " + std::to_string(s.tensors.size() - 1) + " tensors");
  s = good;
  s.subnets[1].quantization.assign(s.tensors.size(), fb::Quantization(0.1f, 0));
  s.subnets[1].quantization[2] = fb::Quantization(0.0f, 0);
  expect_error(s, StatusCode::kCorrupt, "positive scale");
  s = good;
  s.subnets[0].ranges[0] = fb::GroupRange(0, 0);
  expect_error(s, StatusCode::kCorrupt, "channels [0, 0)");
  s = good;
  s.subnets[2].ranges.back() = fb::GroupRange(0, 5);
  expect_error(s, StatusCode::kCorrupt, "not sliceable");
  s = good;
  s.subnets[3].name = s.subnets[0].name;
  expect_error(s, StatusCode::kCorrupt, "same name");
  s = good;
  s.subnets[0].affine_set = 6;
  expect_error(s, StatusCode::kCorrupt, "affine set 6");
  s = good;
  std::swap(s.nodes[0], s.nodes[1]);
  expect_error(s, StatusCode::kCorrupt, "execution order");
  s = good;
  s.nodes[1].outputs[0] = s.nodes[0].outputs[0];
  expect_error(s, StatusCode::kCorrupt, "second time");
  s = good;
  s.tensors[s.nodes[6].outputs[0]].h = 2;  // the classifier's output must be 1x1
  expect_error(s, StatusCode::kCorrupt, "1x1");
  s = good;
  s.nodes[1].window = make_window(2, 2, 2);  // padding as large as the pooling kernel
  expect_error(s, StatusCode::kCorrupt, "padding smaller");
  s = good;
  s.groups[1].capacity = 0;
  expect_error(s, StatusCode::kCorrupt, "capacity 0");
  s = good;
  s.output = s.input;
  expect_error(s, StatusCode::kCorrupt, "output");
  s = good;
  s.nodes[0].op = static_cast<fb::OpType>(42);
  expect_error(s, StatusCode::kUnsupported, "op 42");
  s = good;
  s.subnets.clear();
  expect_error(s, StatusCode::kCorrupt, "no subnets");
  // Files are written at the oldest version that holds them: 1 unless they use what 2 adds.
  EXPECT_EQ(written_version(good), 1u);
  s = good;
  s.nodes[1].op = fb::OpType::AvgPool;
  s.nodes[1].exclude_padding = true;
  EXPECT_EQ(written_version(s), 2u);
  s = good;
  s.nodes[0].exclude_padding = true;  // a convolution
  expect_error(s, StatusCode::kCorrupt, "exclude_padding is for AvgPool only");
  s = good;  // per-channel normalisation: one value per input channel, stds above 0
  s.metadata.input_means = {0.1f, 0.2f};
  s.metadata.input_stds = {0.3f, 0.3f};
  expect_error(s, StatusCode::kCorrupt, "2 input means or stds for 1 input channels");
  s = good;
  s.metadata.input_means = {0.1f};
  s.metadata.input_stds = {0.0f};
  expect_error(s, StatusCode::kCorrupt, "input std of 0");
}

// A concatenation whose inputs do not add up, or whose output range is not its inputs'.
TEST(ModelLoader, RejectsConcatenationsThatDoNotAddUp) {
  const std::vector<uint8_t>& bytes = op_zoo_bytes();
  auto model = Model::from_bytes(bytes.data(), bytes.size());
  ASSERT_TRUE(model.is_ok()) << model.status().to_string();
  const ModelSpec good = model_spec(model.value());
  size_t n = 0;
  while (n < good.nodes.size() && good.nodes[n].op != fb::OpType::Concat) ++n;
  ASSERT_LT(n, good.nodes.size()) << "the op zoo has a concatenation";
  const uint32_t out_group = good.tensors[good.nodes[n].outputs[0]].group;

  ModelSpec s = good;
  s.nodes[n].inputs.pop_back();
  expect_error(s, StatusCode::kCorrupt, "channels in all");
  s = good;
  s.nodes[n].inputs.resize(1);
  expect_error(s, StatusCode::kCorrupt, "takes 2 to 16");
  s = good;
  s.nodes[n].inputs.assign(17, good.nodes[n].inputs[0]);
  expect_error(s, StatusCode::kCorrupt, "takes 2 to 16");
  s = good;
  s.nodes[n].activation = fb::Activation::Relu;
  expect_error(s, StatusCode::kCorrupt, "no window");
  s = good;  // one channel more at the top of the lower half
  s.subnets[0].ranges[out_group] = fb::GroupRange(s.subnets[0].ranges[out_group].lo(), s.subnets[0].ranges[out_group].hi() + 1);
  expect_error(s, StatusCode::kCorrupt, "not its inputs' channels");
  s = good;  // the same count, shifted by one
  const fb::GroupRange middle = s.subnets[2].ranges[out_group];
  s.subnets[2].ranges[out_group] = fb::GroupRange(middle.lo() + 1, middle.hi() + 1);
  expect_error(s, StatusCode::kCorrupt, "not its inputs' channels");
}

// shoal pack: a packed model loads, reads back as the same spec, and every way its packed
// weights can be wrong is refused.
TEST(ModelLoader, PackedWeightsAreCheckedLikeAnyOther) {
  const auto& bytes = synth_bytes("fluid-cnn");
  const Model plain = std::move(Model::from_bytes(bytes.data(), bytes.size()).value());
  const std::vector<uint8_t> packed_bytes = pack_model(plain, 8);
  auto packed = Model::from_bytes(packed_bytes.data(), packed_bytes.size());
  ASSERT_TRUE(packed.is_ok()) << packed.status().to_string();
  EXPECT_EQ(packed->fb().weight_block(), 8u);
  EXPECT_EQ(pack_model(packed.value(), 0), bytes) << "unpacking gives the original bytes back";
  EXPECT_EQ(serialize_model(model_spec(plain)), bytes) << "model_spec is serialize_model's inverse";

  const ModelSpec good = model_spec(packed.value());
  const int conv = 0;  // conv1: 16 output channels, two blocks of 8
  ASSERT_GE(good.nodes[conv].packed_weights, 0);
  ModelSpec s = good;
  s.buffers[s.nodes[conv].packed_weights].pop_back();
  expect_error(s, StatusCode::kCorrupt, "packed weights buffer");
  s = good;
  s.weight_block = 3;
  expect_error(s, StatusCode::kCorrupt, "blocks of 4, 8 or 16");
  s = good;
  s.weight_block = 0;
  expect_error(s, StatusCode::kCorrupt, "names no weight_block");
  s = good;
  s.nodes[1].packed_weights = s.nodes[conv].packed_weights;  // a pooling node
  expect_error(s, StatusCode::kCorrupt, "only Conv2d and Linear");
}

TEST(ModelLoader, MissingFileSaysSo) {
  auto m = Model::from_file("/nonexistent/model.shoal");
  EXPECT_EQ(m.status().code(), StatusCode::kNotFound);
  EXPECT_NE(m.status().message().find("/nonexistent/model.shoal"), std::string::npos);
}

TEST(ModelLoader, BorrowRequiresAlignment) {
  const auto& bytes = synth_bytes("fluid-cnn");
  std::vector<uint8_t> storage(bytes.size() + 128);
  uint8_t* aligned = storage.data() + (64 - reinterpret_cast<uintptr_t>(storage.data()) % 64);
  std::memcpy(aligned, bytes.data(), bytes.size());
  EXPECT_TRUE(Model::borrow(aligned, bytes.size()).is_ok());
  std::memmove(aligned + 1, aligned, bytes.size());
  EXPECT_EQ(Model::borrow(aligned + 1, bytes.size()).status().code(), StatusCode::kInvalidArgument);
}

// Random truncations and bit flips must never crash; a file that still loads must run.
void fuzz(const std::string& arch, int rounds) {
  const std::vector<uint8_t>& good = synth_bytes(arch);
  std::mt19937 rng(99);
  int loaded = 0, rejected = 0;
  for (int round = 0; round < rounds; ++round) {
    std::vector<uint8_t> bytes = good;
    if (round % 4 == 0) {
      bytes.resize(std::uniform_int_distribution<size_t>(0, good.size() - 1)(rng));
    } else {
      // Most of a file is weights; aim most flips at the structure in front of them.
      const size_t span = round % 2 ? bytes.size() : std::min<size_t>(bytes.size(), 4096);
      for (int f = std::uniform_int_distribution<int>(1, 4)(rng); f > 0; --f) {
        const size_t at = std::uniform_int_distribution<size_t>(0, span - 1)(rng);
        bytes[at] ^= static_cast<uint8_t>(1u << std::uniform_int_distribution<int>(0, 7)(rng));
      }
    }
    auto model = Model::from_bytes(bytes.data(), bytes.size());
    if (!model.is_ok()) {
      ++rejected;
      EXPECT_FALSE(model.status().message().empty());
      continue;
    }
    ++loaded;
    auto engine = Engine::create(model.value());
    ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
    const Segment whole = engine.value()->whole();
    for (uint32_t s = 0; s < model->fb().subnets()->size(); ++s) {
      std::vector<float> in(engine.value()->packed_size(s, whole.from), 0.5f);
      std::vector<float> out(engine.value()->packed_size(s, whole.to));
      ASSERT_TRUE(engine.value()->run(s, in.data(), in.size(), out.data(), out.size()).is_ok());
    }
  }
  EXPECT_GT(rejected, rounds / 4) << arch;
  EXPECT_GT(loaded, 0) << arch << ": flips in weights still load";
}

TEST(ModelLoader, FuzzedFluidCnnNeverCrashes) { fuzz("fluid-cnn", 4000); }
TEST(ModelLoader, FuzzedResnet8NeverCrashes) { fuzz("resnet8", 600); }

}  // namespace
}  // namespace shoal::testing
