#include "shoal/architectures.h"

#include <cmath>
#include <cstdio>
#include <random>

namespace shoal {
namespace {

using fb::Activation;

const std::vector<std::string> kFashionClasses = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

LayerOptions bn_relu() { return {Activation::Relu, false, true, false}; }
LayerOptions bn_only() { return {Activation::None, false, true, false}; }
LayerOptions with_bias() { return {Activation::None, false, false, true}; }

void fashion_mnist(ModelSpec& spec) {
  spec.metadata.dataset = "fashion-mnist";
  spec.metadata.class_names = kFashionClasses;
  spec.metadata.input_mean = 0.2860f;
  spec.metadata.input_std = 0.3530f;
}

void width_subnets(ModelBuilder& b, const std::vector<float>& widths) {
  for (size_t i = 0; i < widths.size(); ++i) {
    b.subnet(width_subnet_name(widths[i]), widths[i], 0.0f, widths[i], static_cast<uint32_t>(i));
  }
}

// The Fluid paper's network: three 3x3 convolutions of 16 channels and one fully connected layer.
ModelSpec fluid_cnn() {
  ModelBuilder b("fluid-cnn", 6);
  const uint32_t image = b.group("image", 1, false);
  const uint32_t c1 = b.group("conv1", 16), c2 = b.group("conv2", 16), c3 = b.group("conv3", 16);
  const uint32_t classes = b.group("classes", 10, false);
  uint32_t x = b.input("image", image, 28, 28);
  x = b.conv2d("conv1", x, c1, make_window(3, 1, 1), bn_relu());
  x = b.max_pool("pool1", x, make_window(2, 2));
  x = b.conv2d("conv2", x, c2, make_window(3, 1, 1), bn_relu());
  x = b.max_pool("pool2", x, make_window(2, 2));
  x = b.conv2d("conv3", x, c3, make_window(3, 1, 1), bn_relu());
  x = b.max_pool("pool3", x, make_window(2, 2));
  x = b.linear("fc", x, classes, with_bias());
  b.output(b.softmax("prob", x));
  b.subnet("lower25", 0.25f, 0.0f, 0.25f, 0);
  b.subnet("lower50", 0.5f, 0.0f, 0.5f, 1);
  b.subnet("upper25", 0.25f, 0.5f, 0.75f, 2);
  b.subnet("upper50", 0.5f, 0.5f, 1.0f, 3);
  b.subnet("w0.75", 0.75f, 0.0f, 0.75f, 4);
  b.subnet("w1.0", 1.0f, 0.0f, 1.0f, 5);
  fashion_mnist(b.spec());
  return b.spec();
}

// A basic residual block: two 3x3 convolutions, with a 1x1 projection on the shortcut when
// the stride or the channel group changes. `residual` is the stage's shared channel group.
uint32_t basic_block(ModelBuilder& b, const std::string& name, uint32_t x, uint32_t inner,
                     uint32_t residual, uint32_t stride) {
  const uint32_t in_group = b.spec().tensors[x].group;
  uint32_t y = b.conv2d(name + ".conv1", x, inner, make_window(3, stride, 1), bn_relu());
  y = b.conv2d(name + ".conv2", y, residual, make_window(3, 1, 1), bn_only());
  uint32_t shortcut = x;
  if (stride != 1 || in_group != residual) {
    shortcut = b.conv2d(name + ".proj", x, residual, make_window(1, stride, 0), bn_only());
  }
  return b.add(name + ".add", y, shortcut, Activation::Relu);
}

// Residual network: a stem, `blocks` basic blocks per stage, global pooling, a classifier.
ModelSpec resnet(const std::string& name, uint32_t side, uint32_t channels, uint32_t classes,
                 const std::vector<uint32_t>& stage_width, uint32_t blocks, bool imagenet_stem,
                 const std::vector<float>& widths) {
  ModelBuilder b(name, static_cast<uint32_t>(widths.size()));
  const uint32_t image = b.group("image", channels, false);
  std::vector<uint32_t> residual, inner;
  for (size_t s = 0; s < stage_width.size(); ++s) {
    residual.push_back(b.group("stage" + std::to_string(s + 1), stage_width[s]));
    for (uint32_t k = 0; k < blocks; ++k) {
      inner.push_back(b.group("stage" + std::to_string(s + 1) + ".block" + std::to_string(k + 1),
                              stage_width[s]));
    }
  }
  const uint32_t class_group = b.group("classes", classes, false);
  uint32_t x = b.input("image", image, side, side);
  if (imagenet_stem) {
    x = b.conv2d("stem", x, residual[0], make_window(7, 2, 3), bn_relu());
    x = b.max_pool("stem.pool", x, make_window(3, 2, 1));
  } else {
    x = b.conv2d("stem", x, residual[0], make_window(3, 1, 1), bn_relu());
  }
  for (size_t s = 0; s < stage_width.size(); ++s) {
    for (uint32_t k = 0; k < blocks; ++k) {
      const uint32_t stride = (s > 0 && k == 0) ? 2 : 1;
      const std::string block = "stage" + std::to_string(s + 1) + ".block" + std::to_string(k + 1);
      x = basic_block(b, block, x, inner[s * blocks + k], residual[s], stride);
    }
  }
  x = b.global_avg_pool("pool", x);
  x = b.linear("fc", x, class_group, with_bias());
  b.output(b.softmax("prob", x));
  width_subnets(b, widths);
  return b.spec();
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  // Uniform in [0, 1) from the top 53 bits: the same on every platform.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  double normal() {  // Box-Muller
    const double u1 = 1.0 - uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  std::mt19937_64 engine_;
};

}  // namespace

const std::vector<ArchitectureInfo>& architectures() {
  static const std::vector<ArchitectureInfo> list = {
      {"fluid-cnn", "Fluid paper CNN: 3 conv (16 ch, 3x3) + fc, 28x28x1 -> 10 classes; subnets "
                    "lower25, lower50, upper25, upper50, w0.75, w1.0"},
      {"resnet8", "ResNet-8: 3 stages of 16/32/64 channels, 1 block each, 28x28x1 -> 10 classes"},
      {"resnet8-s1", "ResNet-8 sliced after stage 1's ReLU (16 ch) + pool + fc: a VIP student"},
      {"resnet8-s2", "ResNet-8 sliced after stage 2's ReLU (32 ch) + pool + fc: a VIP student"},
      {"resnet18", "ResNet-18: 4 stages of 64..512 channels, 224x224x3 -> 1000 classes"},
  };
  return list;
}

std::string width_subnet_name(float width) {
  char text[32];
  if (std::fabs(width - std::round(width)) < 1e-6f) {
    std::snprintf(text, sizeof(text), "w%.1f", width);
  } else {
    std::snprintf(text, sizeof(text), "w%g", width);
  }
  return text;
}

Result<ModelSpec> build_architecture(const std::string& name, const std::vector<float>& widths) {
  for (float w : widths) {
    if (!(w > 0.0f && w <= 1.0f)) {
      return Status(StatusCode::kInvalidArgument, "width " + std::to_string(w) + " is not in (0, 1]");
    }
  }
  if (name == "fluid-cnn") {
    if (!widths.empty()) {
      return Status(StatusCode::kInvalidArgument,
                    "fluid-cnn has the Fluid paper's fixed subnets (lower25, lower50, upper25, "
                    "upper50, w0.75, w1.0); leave out --widths");
    }
    ModelSpec spec = fluid_cnn();
    spec.metadata.architecture = name;
    return spec;
  }
  const std::vector<float> w = widths.empty() ? std::vector<float>{0.25f, 0.5f, 0.75f, 1.0f} : widths;
  ModelSpec spec;
  if (name == "resnet8" || name == "resnet8-s1" || name == "resnet8-s2") {
    // The sliced students keep the teacher's layer names, so its weights carry over by name.
    const size_t stages = name == "resnet8" ? 3 : name == "resnet8-s2" ? 2 : 1;
    const std::vector<uint32_t> stage_width{16, 32, 64};
    spec = resnet(name, 28, 1, 10, {stage_width.begin(), stage_width.begin() + stages}, 1, false, w);
    fashion_mnist(spec);
  } else if (name == "resnet18") {
    spec = resnet(name, 224, 3, 1000, {64, 128, 256, 512}, 2, true, w);
    spec.metadata.dataset = "imagenet-shaped";
    spec.metadata.input_mean = 0.449f;
    spec.metadata.input_std = 0.226f;
  } else {
    std::string names;
    for (const ArchitectureInfo& a : architectures()) names += std::string(names.empty() ? "" : ", ") + a.name;
    return Status(StatusCode::kInvalidArgument, "unknown architecture '" + name + "'; choose one of: " + names);
  }
  spec.metadata.architecture = name;
  return spec;
}

void randomize_weights(ModelSpec& spec, uint64_t seed) {
  Rng rng(seed);
  for (const NodeSpec& node : spec.nodes) {
    if (node.weights < 0) continue;
    const uint32_t cout = spec.groups[spec.tensors[node.outputs[0]].group].capacity;
    std::vector<float>& w = spec.buffers[node.weights];
    const double std_dev = std::sqrt(2.0 / static_cast<double>(w.size() / cout));
    for (float& v : w) v = static_cast<float>(rng.normal() * std_dev);
    if (node.scale >= 0) {
      std::vector<float>& scale = spec.buffers[node.scale];
      std::vector<float>& shift = spec.buffers[node.shift];
      for (size_t i = 0; i < scale.size(); ++i) {
        const double gamma = rng.uniform(0.8, 1.2), beta = 0.05 * rng.normal();
        const double mean = 0.05 * rng.normal(), var = rng.uniform(0.5, 1.5);
        const double s = gamma / std::sqrt(var + 1e-5);
        scale[i] = static_cast<float>(s);
        shift[i] = static_cast<float>(beta - mean * s);
      }
    } else if (node.shift >= 0) {
      for (float& v : spec.buffers[node.shift]) v = static_cast<float>(0.01 * rng.normal());
    }
  }
  spec.metadata.seed = seed;
  spec.metadata.recipe = "synth (random weights)";
}

}  // namespace shoal
