// The trainer against the runtime: every recipe trains a smoke-sized run, exports, and
// shoal's engine (reference and fastest kernels) must reproduce libtorch's logits for every
// subnet on 256 test images; runs are reproducible and resume exactly from a checkpoint.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "recipes.h"
#include "shoal/dataset.h"
#include "shoal/engine.h"

namespace shoal::train {
namespace {

constexpr int64_t kImages = 256;

const DataSets& data() {
  static const DataSets d = [] {
    torch::set_num_threads(1);
    Result<DataSets> r = load_fashion_mnist(kFashionMnistDir, 0.2860f, 0.3530f, 512);
    EXPECT_TRUE(r.is_ok()) << r.status().message();
    DataSets d = r.value();  // smoke-sized: the accuracies written into the files are not the point here
    for (Split* s : {&d.validation, &d.test}) *s = {s->images.slice(0, 0, 512), s->labels.slice(0, 0, 512)};
    return d;
  }();
  return d;
}

Context context(const std::string& dir) {
  std::filesystem::remove_all(dir);
  Context ctx;
  ctx.out_dir = dir;
  ctx.batch = 64;
  ctx.lr = 0.05;
  ctx.quiet = true;
  ctx.data = &data();
  return ctx;
}

std::string temp_dir(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("shoal-train-test-" + name)).string();
}

// The exported file, run by the engine from the raw test images, against the module.
void expect_engine_matches_torch(Trained t) {
  SCOPED_TRACE(t.path);
  Result<Model> model = Model::from_file(t.path);
  ASSERT_TRUE(model.is_ok()) << model.status().message();
  Result<Images> images = read_idx_images(std::string(kFashionMnistDir) + "/t10k-images-idx3-ubyte.gz", kImages);
  ASSERT_TRUE(images.is_ok());
  const ModelSpec& spec = t.net->spec();
  const std::string logits = spec.tensors[spec.nodes.back().inputs[0]].name;
  torch::NoGradGuard no_grad;
  for (const Backend* kernels : {&ref_backend(), &best_backend()}) {
    Result<std::unique_ptr<Engine>> engine = Engine::create(model.value(), *kernels);
    ASSERT_TRUE(engine.is_ok()) << engine.status().message();
    Engine& e = *engine.value();
    Result<Segment> seg = e.segment("image", logits);
    ASSERT_TRUE(seg.is_ok()) << seg.status().message();
    for (uint32_t s = 0; s < spec.subnets.size(); ++s) {
      const torch::Tensor expected = t.net->forward(data().test.images.slice(0, 0, kImages), s, false).contiguous();
      const uint32_t classes = static_cast<uint32_t>(expected.size(1));
      ASSERT_EQ(e.packed_size(s, seg.value().to), classes);
      std::vector<float> in, out(classes);
      double worst = 0;
      int64_t argmax_differs = 0;
      for (int64_t i = 0; i < kImages; ++i) {
        ASSERT_TRUE(image_to_input(images.value(), static_cast<uint32_t>(i), model.value(), Fit::kExact, &in).is_ok());
        ASSERT_TRUE(e.run(s, seg.value(), in.data(), in.size(), out.data(), out.size()).is_ok());
        const float* want = expected[i].data_ptr<float>();
        for (uint32_t c = 0; c < classes; ++c) worst = std::max(worst, double(std::fabs(out[c] - want[c])));
        argmax_differs += std::max_element(out.begin(), out.end()) - out.begin() != expected[i].argmax().item<int64_t>();
      }
      EXPECT_LE(worst, 1e-4) << spec.subnets[s].name << " on " << kernels->name();
      EXPECT_EQ(argmax_differs, 0) << spec.subnets[s].name << " on " << kernels->name();
    }
  }
}

std::string bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(TrainExport, SlimmableResnet8MatchesTorch) {
  RecipeOptions o;
  o.arch = "resnet8";
  o.epochs = 1;
  o.members = 2;
  o.keep = 1;
  const std::vector<Trained> t = train_slimmable(o, context(temp_dir("slim")));
  ASSERT_EQ(t.size(), 1u);  // two trained, the better one kept
  EXPECT_EQ(t[0].net->spec().subnets.size(), 4u);
  expect_engine_matches_torch(t[0]);
}

TEST(TrainExport, FluidCnnMatchesTorchOnEverySubnet) {
  RecipeOptions o;
  o.arch = "fluid-cnn";
  o.epochs = 1;
  const std::vector<Trained> t = train_fluid(o, context(temp_dir("fluid")));
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].net->spec().subnets.size(), 6u);  // lower25/50, upper25/50, w0.75, w1.0
  expect_engine_matches_torch(t[0]);
}

TEST(TrainExport, VipTeacherStudentsAndBaselineMatchTorch) {
  for (const char* diversity : {"augment", "imbalance"}) {
    RecipeOptions o;
    o.arch = "resnet8";
    o.student = "resnet8-s1";
    o.epochs = 1;
    o.variants = 1;
    o.diversity = diversity;
    const std::vector<Trained> t = train_vip(o, context(temp_dir(std::string("vip-") + diversity)));
    ASSERT_EQ(t.size(), 3u);  // teacher, one variant, the baseline
    for (const Trained& m : t) expect_engine_matches_torch(m);
  }
}

TEST(TrainExport, SameSeedSameBytesAndResumeIsExact) {
  RecipeOptions o;
  o.arch = "fluid-cnn";
  o.epochs = 2;
  const std::string a = temp_dir("repro-a"), b = temp_dir("repro-b");
  const std::string file = "/fluid-cnn-fluid-s1.shoal";
  train_fluid(o, context(a));
  // b: interrupted after the first epoch, then started again with the same options.
  Context interrupted = context(b);
  interrupted.stop_after = 1;
  train_fluid(o, interrupted);
  EXPECT_TRUE(std::filesystem::exists(b + "/checkpoints/fluid-cnn-fluid-s1.pt"));
  EXPECT_NE(bytes_of(a + file), bytes_of(b + file));
  Context resumed = interrupted;
  resumed.stop_after = 0;
  train_fluid(o, resumed);
  EXPECT_EQ(bytes_of(a + file), bytes_of(b + file));
}

TEST(TrainExport, UnknownArchitectureAndRecipeOptionsAreErrors) {
  RecipeOptions o;
  o.arch = "no-such-net";
  EXPECT_THROW(train_slimmable(o, context(temp_dir("bad"))), std::invalid_argument);
  o.arch = "resnet8";  // has no Fluid subnets
  EXPECT_THROW(train_fluid(o, context(temp_dir("bad"))), std::invalid_argument);
  o.diversity = "colour";
  EXPECT_THROW(train_vip(o, context(temp_dir("bad"))), std::invalid_argument);
}

}  // namespace
}  // namespace shoal::train
