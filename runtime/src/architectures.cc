#include "shoal/architectures.h"

#include "architecture_parts.h"

#include <cmath>
#include <cstdio>
#include <random>

namespace shoal {
namespace arch {

void width_subnets(ModelBuilder& b, const std::vector<float>& widths) {
  for (size_t i = 0; i < widths.size(); ++i) {
    b.subnet(width_subnet_name(widths[i]), widths[i], 0.0f, widths[i], static_cast<uint32_t>(i));
  }
}

void imagenet(ModelSpec& spec) {
  spec.metadata.dataset = "imagenet-shaped";
  spec.metadata.input_mean = 0.449f;
  spec.metadata.input_std = 0.226f;
}

}  // namespace arch

namespace {

using fb::Activation;
using arch::width_subnets;

const std::vector<std::string> kFashionClasses = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};


void fashion_mnist(ModelSpec& spec) {
  spec.metadata.dataset = "fashion-mnist";
  spec.metadata.class_names = kFashionClasses;
  spec.metadata.input_mean = 0.2860f;
  spec.metadata.input_std = 0.3530f;
}

// The Fluid paper's network: three 3x3 convolutions of 16 channels and one fully connected layer.
ModelSpec fluid_cnn() {
  ModelBuilder b("fluid-cnn", 6);
  const uint32_t image = b.group("image", 1, false);
  const uint32_t c1 = b.group("conv1", 16), c2 = b.group("conv2", 16), c3 = b.group("conv3", 16);
  const uint32_t classes = b.group("classes", 10, false);
  uint32_t x = b.input("image", image, 28, 28);
  x = b.conv2d("conv1", x, c1, make_window(3, 1, 1), arch::bn(Activation::Relu));
  x = b.max_pool("pool1", x, make_window(2, 2));
  x = b.conv2d("conv2", x, c2, make_window(3, 1, 1), arch::bn(Activation::Relu));
  x = b.max_pool("pool2", x, make_window(2, 2));
  x = b.conv2d("conv3", x, c3, make_window(3, 1, 1), arch::bn(Activation::Relu));
  x = b.max_pool("pool3", x, make_window(2, 2));
  x = b.linear("fc", x, classes, arch::biased(Activation::None));
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
  uint32_t y = b.conv2d(name + ".conv1", x, inner, make_window(3, stride, 1), arch::bn(Activation::Relu));
  y = b.conv2d(name + ".conv2", y, residual, make_window(3, 1, 1), arch::bn(Activation::None));
  uint32_t shortcut = x;
  if (stride != 1 || in_group != residual) {
    shortcut = b.conv2d(name + ".proj", x, residual, make_window(1, stride, 0), arch::bn(Activation::None));
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
    x = b.conv2d("stem", x, residual[0], make_window(7, 2, 3), arch::bn(Activation::Relu));
    x = b.max_pool("stem.pool", x, make_window(3, 2, 1));
  } else {
    x = b.conv2d("stem", x, residual[0], make_window(3, 1, 1), arch::bn(Activation::Relu));
  }
  for (size_t s = 0; s < stage_width.size(); ++s) {
    for (uint32_t k = 0; k < blocks; ++k) {
      const uint32_t stride = (s > 0 && k == 0) ? 2 : 1;
      const std::string block = "stage" + std::to_string(s + 1) + ".block" + std::to_string(k + 1);
      x = basic_block(b, block, x, inner[s * blocks + k], residual[s], stride);
    }
  }
  x = b.global_avg_pool("pool", x);
  x = b.linear("fc", x, class_group, arch::biased(Activation::None));
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

namespace {

ModelSpec resnet8(const std::string& name, size_t stages, const std::vector<float>& widths) {
  // The sliced students keep the teacher's layer names, so its weights carry over by name.
  const std::vector<uint32_t> stage_width{16, 32, 64};
  ModelSpec spec = resnet(name, 28, 1, 10, {stage_width.begin(), stage_width.begin() + stages}, 1, false, widths);
  fashion_mnist(spec);
  return spec;
}

}  // namespace

const std::vector<ArchitectureInfo>& architectures() {
  static const std::vector<ArchitectureInfo> list = {
      {"fluid-cnn",
       "Fluid paper CNN: 3 conv (16 ch, 3x3) + fc, 28x28x1 -> 10 classes; subnets lower25, lower50, upper25, "
       "upper50, w0.75, w1.0",
       28, 0, true, [](uint32_t, const std::vector<float>&) { return fluid_cnn(); }},
      {"resnet8", "ResNet-8: 3 stages of 16/32/64 channels, 1 block each, 28x28x1 -> 10 classes", 28, 0, false,
       [](uint32_t, const std::vector<float>& w) { return resnet8("resnet8", 3, w); }},
      {"resnet8-s1", "ResNet-8 sliced after stage 1's ReLU (16 ch) + pool + fc: a VIP student", 28, 0, false,
       [](uint32_t, const std::vector<float>& w) { return resnet8("resnet8-s1", 1, w); }},
      {"resnet8-s2", "ResNet-8 sliced after stage 2's ReLU (32 ch) + pool + fc: a VIP student", 28, 0, false,
       [](uint32_t, const std::vector<float>& w) { return resnet8("resnet8-s2", 2, w); }},
      {"resnet18", "ResNet-18: 4 stages of 64..512 channels, 224x224x3 -> 1000 classes", 224, 32, false,
       [](uint32_t side, const std::vector<float>& w) {
         ModelSpec spec = resnet("resnet18", side, 3, 1000, {64, 128, 256, 512}, 2, true, w);
         arch::imagenet(spec);
         return spec;
       }},
      {"squeezenet", "SqueezeNet 1.1: fire modules (squeeze, expand 1x1 and 3x3, concatenated), 224x224x3 -> 1000",
       224, 31, false, arch::squeezenet},
      {"mobilenetv2", "MobileNetV2: inverted residuals, depthwise 3x3, ReLU6, 224x224x3 -> 1000", 224, 32, false,
       arch::mobilenetv2},
      {"inceptionv3",
       "Inception v3 without the auxiliary classifier: concatenated branches, 1x7/7x1 and 1x3/3x1 kernels, "
       "299x299x3 -> 1000",
       299, 75, false, arch::inceptionv3},
      {"alexnet", "AlexNet: 5 conv (11x11 stride 4 first) + 3 fc, 224x224x3 -> 1000", 224, 63, false, arch::alexnet},
      {"vgg16", "VGG-16: 13 conv 3x3 + 3 fc, 224x224x3 -> 1000", 224, 32, false, arch::vgg16},
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

Result<ModelSpec> build_architecture(const std::string& name, const std::vector<float>& widths, uint32_t side) {
  for (float w : widths) {
    if (!(w > 0.0f && w <= 1.0f)) {
      return Status(StatusCode::kInvalidArgument, "width " + std::to_string(w) + " is not in (0, 1]");
    }
  }
  const ArchitectureInfo* info = nullptr;
  std::string names;
  for (const ArchitectureInfo& a : architectures()) {
    if (name == a.name) info = &a;
    names += std::string(names.empty() ? "" : ", ") + a.name;
  }
  if (!info) return Status(StatusCode::kInvalidArgument, "unknown architecture '" + name + "'; choose one of: " + names);
  if (info->fixed_subnets && !widths.empty()) {
    return Status(StatusCode::kInvalidArgument,
                  name + " has fixed subnets (" + info->summary + "); leave out --widths");
  }
  if (side && side != info->side && (!info->min_side || side < info->min_side || side > kMaxArchitectureSide)) {
    return Status(StatusCode::kInvalidArgument,
                  info->min_side ? name + " takes input sides " + std::to_string(info->min_side) + " to " +
                                       std::to_string(kMaxArchitectureSide) + ", not " + std::to_string(side)
                                 : name + " takes only " + std::to_string(info->side) + "x" +
                                       std::to_string(info->side) + " inputs");
  }
  const std::vector<float> w = widths.empty() ? std::vector<float>{0.25f, 0.5f, 0.75f, 1.0f} : widths;
  ModelSpec spec = info->build(side ? side : info->side, w);
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

Result<std::vector<uint8_t>> synth_model_bytes(const std::string& arch, uint64_t seed, const std::vector<float>& widths,
                                               uint32_t side) {
  Result<ModelSpec> spec = build_architecture(arch, widths, side);
  if (!spec.is_ok()) return spec.status();
  randomize_weights(spec.value(), seed);
  return serialize_model(spec.value());
}

Result<Model> synth_model(const std::string& arch, uint64_t seed) {
  Result<std::vector<uint8_t>> bytes = synth_model_bytes(arch, seed);
  if (!bytes.is_ok()) return bytes.status();
  return Model::from_bytes(bytes->data(), bytes->size());
}

}  // namespace shoal
