// Synth models for tests, built once per process.
#ifndef SHOAL_TESTS_TEST_MODELS_H_
#define SHOAL_TESTS_TEST_MODELS_H_

#include <cstdlib>
#include <map>
#include <utility>
#include <string>
#include <vector>

#include "shoal/architectures.h"
#include "shoal/builder.h"

namespace shoal::testing {

// Whether the test runs under an emulator (qemu-aarch64 in the aarch64 stage; the build sets
// SHOAL_TEST_EMULATED): sweeps of what does not depend on the target may be shorter there.
inline bool emulated() { return std::getenv("SHOAL_TEST_EMULATED") != nullptr; }

inline ModelSpec synth_spec(const std::string& arch, uint64_t seed = 7, uint32_t side = 0) {
  ModelSpec spec = build_architecture(arch, {}, side).value();
  randomize_weights(spec, seed);
  return spec;
}

// side 0: the architecture's own.
inline const std::vector<uint8_t>& synth_bytes(const std::string& arch, uint32_t side = 0) {
  static std::map<std::pair<std::string, uint32_t>, std::vector<uint8_t>> cache;
  auto it = cache.find({arch, side});
  if (it == cache.end()) it = cache.emplace(std::make_pair(arch, side), synth_model_bytes(arch, 7, {}, side).value()).first;
  return it->second;
}

// Input sides at which the ImageNet architectures are small enough for the reference engine
// and the dense evaluation, with every layer still there.
inline const std::map<std::string, uint32_t> kSmallSide = {
    {"squeezenet", 47}, {"mobilenetv2", 40}, {"inceptionv3", 75}, {"alexnet", 63}, {"vgg16", 32}, {"resnet18", 32}};

// Every op the format has, at odd sizes: strided, dilated, depthwise, 1x1, 1x3 and 3x1
// convolutions, padded and ceil-mode max pooling, average pooling, residual add, a
// concatenation of three groups, linear over a 2x2 map, softmax; subnets at the bottom, the
// top, the middle and the whole of every group.
inline const std::vector<uint8_t>& op_zoo_bytes() {
  static const std::vector<uint8_t> bytes = [] {
    ModelBuilder b("op-zoo", 4);
    const uint32_t image = b.group("image", 3, false);
    const uint32_t g1 = b.group("g1", 20), g2 = b.group("g2", 37), classes = b.group("classes", 7, false);
    const uint32_t g3 = b.group("g3", 11), g4 = b.group("g4", 6);
    const LayerOptions relu6{fb::Activation::Relu6, false, true, false};
    const LayerOptions dw_relu{fb::Activation::Relu, true, true, false};
    const LayerOptions plain{fb::Activation::None, false, true, false};
    uint32_t x = b.input("image", image, 27, 23);
    x = b.conv2d("conv5x5s2", x, g1, make_window(5, 2, 2), relu6);                     // 14x12
    x = b.conv2d("depthwise", x, g1, make_window(3, 1, 1), dw_relu);
    const uint32_t skip = x;
    x = b.conv2d("dilated", x, g1, make_window(3, 1, 2, 2), plain);
    x = b.add("add", x, skip, fb::Activation::Relu);
    x = b.max_pool("maxpool", x, make_window(3, 2, 1));                                // 7x6
    x = b.max_pool("maxpool_ceil", x, make_window(3, 2, 1), true);                     // 4x4, not 4x3
    x = b.conv2d("pointwise", x, g2, make_window(1), plain);
    x = b.activation("relu", x, fb::Activation::Relu);
    const uint32_t row = b.conv2d("conv1x3", x, g3, fb::Window(1, 3, 1, 1, 0, 1, 0, 1, 1, 1), plain);
    const uint32_t column = b.conv2d("conv3x1", x, g4, fb::Window(3, 1, 1, 1, 1, 0, 1, 0, 1, 1), plain);
    x = b.concat("concat", {x, row, column});
    x = b.avg_pool("avgpool_padded", x, make_window(3, 1, 1));
    x = b.avg_pool("avgpool", x, make_window(2, 2));                                  // 2x2
    const uint32_t pooled = b.global_avg_pool("gap", x);
    x = b.linear("fc", x, classes, {fb::Activation::None, false, false, true});
    (void)pooled;
    b.output(b.softmax("prob", x));
    b.subnet("lower", 0.5f, 0.0f, 0.5f, 0);
    b.subnet("upper", 0.5f, 0.5f, 1.0f, 1);
    b.subnet("middle", 0.4f, 0.3f, 0.7f, 2);
    b.subnet("whole", 1.0f, 0.0f, 1.0f, 3);
    randomize_weights(b.spec(), 11);
    return serialize_model(b.spec());
  }();
  return bytes;
}

}  // namespace shoal::testing

#endif  // SHOAL_TESTS_TEST_MODELS_H_
