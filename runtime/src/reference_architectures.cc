// Paper 002's ImageNet networks with the layer structure of their reference definitions
// (torchvision's), slimmable at any width: every hidden channel group is sliced, the image
// and the classes are not. Parameters and multiply-adds at full width and 224x224 (299 for
// Inception) match the published figures; tests/architectures_test.cc checks them.
#include <string>

#include "architecture_parts.h"

namespace shoal::arch {
namespace {

using fb::Activation;

// kh x kw window, stride s, padding ph (top and bottom) and pw (left and right).
fb::Window window(uint32_t kh, uint32_t kw, uint32_t s = 1, uint32_t ph = 0, uint32_t pw = 0) {
  return fb::Window(kh, kw, s, s, ph, pw, ph, pw, 1, 1);
}

// The start of every ImageNet model: its builder, the image, the classes.
struct Start {
  ModelBuilder b;
  uint32_t classes, x;
  Start(const char* name, uint32_t side, const std::vector<float>& widths)
      : b(name, static_cast<uint32_t>(widths.size())) {
    const uint32_t image = b.group("image", 3, false);
    classes = b.group("classes", 1000, false);
    x = b.input("image", image, side, side);
  }
  ModelSpec finish(uint32_t logits, const std::vector<float>& widths) {
    b.output(b.softmax("prob", logits));
    width_subnets(b, widths);
    imagenet(b.spec());
    return b.spec();
  }
};

// A convolution into a channel group of its own, named after it.
uint32_t conv(ModelBuilder& b, const std::string& name, uint32_t x, uint32_t channels, fb::Window w,
              const LayerOptions& o) {
  return b.conv2d(name, x, b.group(name, channels), w, o);
}

// --- SqueezeNet 1.1 ----------------------------------------------------------------------

uint32_t fire(ModelBuilder& b, const std::string& name, uint32_t x, uint32_t squeeze, uint32_t expand) {
  const LayerOptions relu = biased(Activation::Relu);
  const uint32_t s = conv(b, name + ".squeeze", x, squeeze, window(1, 1), relu);
  const uint32_t e1 = conv(b, name + ".expand1x1", s, expand, window(1, 1), relu);
  const uint32_t e3 = conv(b, name + ".expand3x3", s, expand, window(3, 3, 1, 1, 1), relu);
  return b.concat(name, {e1, e3});
}

}  // namespace

ModelSpec squeezenet(uint32_t side, const std::vector<float>& widths) {
  Start m("squeezenet1.1", side, widths);
  ModelBuilder& b = m.b;
  uint32_t x = conv(b, "conv1", m.x, 64, window(3, 3, 2), biased(Activation::Relu));
  x = b.max_pool("pool1", x, window(3, 3, 2), true);
  x = fire(b, "fire2", x, 16, 64);
  x = fire(b, "fire3", x, 16, 64);
  x = b.max_pool("pool3", x, window(3, 3, 2), true);
  x = fire(b, "fire4", x, 32, 128);
  x = fire(b, "fire5", x, 32, 128);
  x = b.max_pool("pool5", x, window(3, 3, 2), true);
  x = fire(b, "fire6", x, 48, 192);
  x = fire(b, "fire7", x, 48, 192);
  x = fire(b, "fire8", x, 64, 256);
  x = fire(b, "fire9", x, 64, 256);
  x = b.conv2d("conv10", x, m.classes, window(1, 1), biased(Activation::Relu));
  return m.finish(b.global_avg_pool("pool10", x), widths);
}

// --- MobileNetV2 -------------------------------------------------------------------------

ModelSpec mobilenetv2(uint32_t side, const std::vector<float>& widths) {
  Start m("mobilenetv2", side, widths);
  ModelBuilder& b = m.b;
  const LayerOptions relu6 = bn(Activation::Relu6);
  uint32_t x = conv(b, "stem", m.x, 32, window(3, 3, 2, 1, 1), relu6);
  uint32_t channels = 32;
  // Expansion t, output channels c, blocks n, first stride s.
  const struct { uint32_t t, c, n, s; } stages[] = {{1, 16, 1, 1},  {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                                                    {6, 96, 3, 1},  {6, 160, 3, 2}, {6, 320, 1, 1}};
  for (size_t st = 0; st < sizeof(stages) / sizeof(stages[0]); ++st) {
    const std::string stage = "stage" + std::to_string(st + 1);
    const uint32_t out = b.group(stage, stages[st].c);  // every block of the stage writes it
    for (uint32_t i = 0; i < stages[st].n; ++i) {
      const std::string name = stage + ".block" + std::to_string(i + 1);
      uint32_t y = x;
      if (stages[st].t != 1) y = conv(b, name + ".expand", y, channels * stages[st].t, window(1, 1), relu6);
      const uint32_t hidden = b.spec().tensors[y].group;
      y = b.conv2d(name + ".depthwise", y, hidden, window(3, 3, i == 0 ? stages[st].s : 1, 1, 1),
                   bn_depthwise(Activation::Relu6));
      y = b.conv2d(name + ".project", y, out, window(1, 1), bn(Activation::None));
      x = i > 0 ? b.add(name + ".add", y, x, Activation::None) : y;
      channels = stages[st].c;
    }
  }
  x = conv(b, "head", x, 1280, window(1, 1), relu6);
  x = b.global_avg_pool("pool", x);
  return m.finish(b.linear("fc", x, m.classes, biased(Activation::None)), widths);
}

// --- Inception v3 (without the training-only auxiliary classifier) ------------------------

namespace {

// A branch's convolution: no bias, batch-norm, ReLU (torchvision's BasicConv2d).
uint32_t basic(ModelBuilder& b, const std::string& name, uint32_t x, uint32_t channels, fb::Window w) {
  return conv(b, name, x, channels, w, bn(Activation::Relu));
}

// A block's output and the branch outputs it concatenates. A block that pools its input
// straight into its own concatenation pools those branches one by one: the same numbers,
// and no concatenation ever takes another's output, so every width keeps one range.
struct Block {
  uint32_t out;
  std::vector<uint32_t> branches;
};

Block concat(ModelBuilder& b, const std::string& name, std::vector<uint32_t> branches) {
  return {b.concat(name, branches), std::move(branches)};
}

void pool_branches(ModelBuilder& b, const std::string& name, const Block& in, std::vector<uint32_t>* branches) {
  for (size_t i = 0; i < in.branches.size(); ++i) {
    branches->push_back(b.max_pool(name + ".pool" + std::to_string(i + 1), in.branches[i], window(3, 3, 2)));
  }
}

Block inception_a(ModelBuilder& b, const std::string& n, uint32_t x, uint32_t pool_features) {
  const uint32_t b1 = basic(b, n + ".branch1x1", x, 64, window(1, 1));
  uint32_t b5 = basic(b, n + ".branch5x5_1", x, 48, window(1, 1));
  b5 = basic(b, n + ".branch5x5_2", b5, 64, window(5, 5, 1, 2, 2));
  uint32_t d = basic(b, n + ".branch3x3dbl_1", x, 64, window(1, 1));
  d = basic(b, n + ".branch3x3dbl_2", d, 96, window(3, 3, 1, 1, 1));
  d = basic(b, n + ".branch3x3dbl_3", d, 96, window(3, 3, 1, 1, 1));
  uint32_t p = b.avg_pool(n + ".avg_pool", x, window(3, 3, 1, 1, 1));
  p = basic(b, n + ".branch_pool", p, pool_features, window(1, 1));
  return concat(b, n, {b1, b5, d, p});
}

Block inception_b(ModelBuilder& b, const std::string& n, const Block& in) {
  const uint32_t b3 = basic(b, n + ".branch3x3", in.out, 384, window(3, 3, 2));
  uint32_t d = basic(b, n + ".branch3x3dbl_1", in.out, 64, window(1, 1));
  d = basic(b, n + ".branch3x3dbl_2", d, 96, window(3, 3, 1, 1, 1));
  d = basic(b, n + ".branch3x3dbl_3", d, 96, window(3, 3, 2));
  std::vector<uint32_t> branches{b3, d};
  pool_branches(b, n, in, &branches);
  return concat(b, n, branches);
}

Block inception_c(ModelBuilder& b, const std::string& n, uint32_t x, uint32_t c7) {
  const fb::Window row = window(1, 7, 1, 0, 3), column = window(7, 1, 1, 3, 0);
  const uint32_t b1 = basic(b, n + ".branch1x1", x, 192, window(1, 1));
  uint32_t s = basic(b, n + ".branch7x7_1", x, c7, window(1, 1));
  s = basic(b, n + ".branch7x7_2", s, c7, row);
  s = basic(b, n + ".branch7x7_3", s, 192, column);
  uint32_t d = basic(b, n + ".branch7x7dbl_1", x, c7, window(1, 1));
  d = basic(b, n + ".branch7x7dbl_2", d, c7, column);
  d = basic(b, n + ".branch7x7dbl_3", d, c7, row);
  d = basic(b, n + ".branch7x7dbl_4", d, c7, column);
  d = basic(b, n + ".branch7x7dbl_5", d, 192, row);
  uint32_t p = b.avg_pool(n + ".avg_pool", x, window(3, 3, 1, 1, 1));
  p = basic(b, n + ".branch_pool", p, 192, window(1, 1));
  return concat(b, n, {b1, s, d, p});
}

Block inception_d(ModelBuilder& b, const std::string& n, const Block& in) {
  uint32_t b3 = basic(b, n + ".branch3x3_1", in.out, 192, window(1, 1));
  b3 = basic(b, n + ".branch3x3_2", b3, 320, window(3, 3, 2));
  uint32_t s = basic(b, n + ".branch7x7x3_1", in.out, 192, window(1, 1));
  s = basic(b, n + ".branch7x7x3_2", s, 192, window(1, 7, 1, 0, 3));
  s = basic(b, n + ".branch7x7x3_3", s, 192, window(7, 1, 1, 3, 0));
  s = basic(b, n + ".branch7x7x3_4", s, 192, window(3, 3, 2));
  std::vector<uint32_t> branches{b3, s};
  pool_branches(b, n, in, &branches);
  return concat(b, n, branches);
}

// torchvision concatenates 3x3_2a with 3x3_2b, and 3x3dbl_3a with 3x3dbl_3b, first: one
// concatenation of all six is the same up to the order of channels.
Block inception_e(ModelBuilder& b, const std::string& n, uint32_t x) {
  const fb::Window row = window(1, 3, 1, 0, 1), column = window(3, 1, 1, 1, 0);
  const uint32_t b1 = basic(b, n + ".branch1x1", x, 320, window(1, 1));
  const uint32_t t = basic(b, n + ".branch3x3_1", x, 384, window(1, 1));
  const uint32_t ta = basic(b, n + ".branch3x3_2a", t, 384, row);
  const uint32_t tb = basic(b, n + ".branch3x3_2b", t, 384, column);
  uint32_t d = basic(b, n + ".branch3x3dbl_1", x, 448, window(1, 1));
  d = basic(b, n + ".branch3x3dbl_2", d, 384, window(3, 3, 1, 1, 1));
  const uint32_t da = basic(b, n + ".branch3x3dbl_3a", d, 384, row);
  const uint32_t db = basic(b, n + ".branch3x3dbl_3b", d, 384, column);
  uint32_t p = b.avg_pool(n + ".avg_pool", x, window(3, 3, 1, 1, 1));
  p = basic(b, n + ".branch_pool", p, 192, window(1, 1));
  return concat(b, n, {b1, ta, tb, da, db, p});
}

}  // namespace

ModelSpec inceptionv3(uint32_t side, const std::vector<float>& widths) {
  Start m("inceptionv3", side, widths);
  ModelBuilder& b = m.b;
  uint32_t x = basic(b, "Conv2d_1a_3x3", m.x, 32, window(3, 3, 2));
  x = basic(b, "Conv2d_2a_3x3", x, 32, window(3, 3));
  x = basic(b, "Conv2d_2b_3x3", x, 64, window(3, 3, 1, 1, 1));
  x = b.max_pool("maxpool1", x, window(3, 3, 2));
  x = basic(b, "Conv2d_3b_1x1", x, 80, window(1, 1));
  x = basic(b, "Conv2d_4a_3x3", x, 192, window(3, 3));
  x = b.max_pool("maxpool2", x, window(3, 3, 2));
  Block block = inception_a(b, "Mixed_5b", x, 32);
  block = inception_a(b, "Mixed_5c", block.out, 64);
  block = inception_a(b, "Mixed_5d", block.out, 64);
  block = inception_b(b, "Mixed_6a", block);
  block = inception_c(b, "Mixed_6b", block.out, 128);
  block = inception_c(b, "Mixed_6c", block.out, 160);
  block = inception_c(b, "Mixed_6d", block.out, 160);
  block = inception_c(b, "Mixed_6e", block.out, 192);
  block = inception_d(b, "Mixed_7a", block);
  block = inception_e(b, "Mixed_7b", block.out);
  block = inception_e(b, "Mixed_7c", block.out);
  x = b.global_avg_pool("avgpool", block.out);
  return m.finish(b.linear("fc", x, m.classes, biased(Activation::None)), widths);
}

// --- AlexNet and VGG16 -------------------------------------------------------------------
// Their adaptive average pooling is the identity at 224x224 (6x6 and 7x7 maps) and left out;
// the first classifier layer reads whatever map the input side gives.

namespace {

uint32_t classifier(Start& m, uint32_t x) {
  const LayerOptions relu = biased(Activation::Relu);
  x = m.b.linear("fc6", x, m.b.group("fc6", 4096), relu);
  x = m.b.linear("fc7", x, m.b.group("fc7", 4096), relu);
  return m.b.linear("fc8", x, m.classes, biased(Activation::None));
}

}  // namespace

ModelSpec alexnet(uint32_t side, const std::vector<float>& widths) {
  Start m("alexnet", side, widths);
  ModelBuilder& b = m.b;
  const LayerOptions relu = biased(Activation::Relu);
  uint32_t x = conv(b, "conv1", m.x, 64, window(11, 11, 4, 2, 2), relu);
  x = b.max_pool("pool1", x, window(3, 3, 2));
  x = conv(b, "conv2", x, 192, window(5, 5, 1, 2, 2), relu);
  x = b.max_pool("pool2", x, window(3, 3, 2));
  x = conv(b, "conv3", x, 384, window(3, 3, 1, 1, 1), relu);
  x = conv(b, "conv4", x, 256, window(3, 3, 1, 1, 1), relu);
  x = conv(b, "conv5", x, 256, window(3, 3, 1, 1, 1), relu);
  x = b.max_pool("pool5", x, window(3, 3, 2));
  return m.finish(classifier(m, x), widths);
}

ModelSpec vgg16(uint32_t side, const std::vector<float>& widths) {
  Start m("vgg16", side, widths);
  ModelBuilder& b = m.b;
  const uint32_t stages[5][2] = {{2, 64}, {2, 128}, {3, 256}, {3, 512}, {3, 512}};  // convs, channels
  uint32_t x = m.x;
  for (uint32_t s = 0; s < 5; ++s) {
    for (uint32_t i = 0; i < stages[s][0]; ++i) {
      const std::string name = "conv" + std::to_string(s + 1) + "_" + std::to_string(i + 1);
      x = conv(b, name, x, stages[s][1], window(3, 3, 1, 1, 1), biased(Activation::Relu));
    }
    x = b.max_pool("pool" + std::to_string(s + 1), x, window(2, 2, 2));
  }
  return m.finish(classifier(m, x), widths);
}

}  // namespace shoal::arch
