// The IDX reader on the real Fashion-MNIST files and on broken ones.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdio>

#include "shoal/builder.h"
#include "shoal/dataset.h"
#include "test_models.h"

namespace shoal {
namespace {

const std::string kDir = kFashionMnistDir;

TEST(Dataset, ReadsFashionMnistTestSet) {
  auto images = read_idx_images(kDir + "/t10k-images-idx3-ubyte.gz");
  auto labels = read_idx_labels(kDir + "/t10k-labels-idx1-ubyte.gz");
  ASSERT_TRUE(images.is_ok()) << images.status().to_string();
  ASSERT_TRUE(labels.is_ok()) << labels.status().to_string();
  EXPECT_EQ(images->count, 10000u);
  EXPECT_EQ(images->h, 28u);
  EXPECT_EQ(images->w, 28u);
  ASSERT_EQ(labels->size(), 10000u);
  EXPECT_EQ(labels.value()[0], 9);  // the first test image is an ankle boot
  std::vector<int> per_class(10, 0);
  for (uint8_t l : labels.value()) {
    ASSERT_LT(l, 10);
    ++per_class[l];
  }
  for (int n : per_class) EXPECT_EQ(n, 1000);
  auto limited = read_idx_images(kDir + "/train-images-idx3-ubyte.gz", 100);
  ASSERT_TRUE(limited.is_ok());
  EXPECT_EQ(limited->count, 100u);
  EXPECT_EQ(limited->pixels.size(), 100u * 28 * 28);
}

std::string write_gz(const std::string& name, const std::vector<uint8_t>& bytes) {
  const std::string path = ::testing::TempDir() + name;
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
  return path;
}

TEST(Dataset, ExplainsBrokenFiles) {
  auto missing = read_idx_images("/nonexistent/images.gz");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("apt-get install dataset-fashion-mnist"), std::string::npos);

  auto swapped = read_idx_images(kDir + "/t10k-labels-idx1-ubyte.gz");
  EXPECT_EQ(swapped.status().code(), StatusCode::kCorrupt);
  EXPECT_NE(swapped.status().message().find("not an IDX file of 3 or 4-dimensional"), std::string::npos);

  // Header promises 5 images of 2x2 but only 7 pixels follow.
  const std::string truncated = write_gz("trunc.gz", {0, 0, 8, 3, 0, 0, 0, 5, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7});
  auto t = read_idx_images(truncated);
  EXPECT_EQ(t.status().code(), StatusCode::kCorrupt);
  EXPECT_NE(t.status().message().find("ends early"), std::string::npos);

  const std::string huge = write_gz("huge.gz", {0, 0, 8, 3, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0});
  EXPECT_EQ(read_idx_images(huge).status().code(), StatusCode::kCorrupt);
  EXPECT_EQ(read_idx_images(write_gz("empty.gz", {})).status().code(), StatusCode::kCorrupt);
}

TEST(Dataset, ImagesBecomeNormalisedInputsOrAClearError) {
  const auto& bytes = testing::synth_bytes("fluid-cnn");
  auto model = Model::from_bytes(bytes.data(), bytes.size());
  ASSERT_TRUE(model.is_ok());
  Images img;
  img.count = 1, img.h = 28, img.w = 28;
  img.pixels.assign(28 * 28, 255);
  std::vector<float> in;
  ASSERT_TRUE(image_to_input(img, 0, model.value(), Fit::kExact, &in).is_ok());
  ASSERT_EQ(in.size(), 784u);
  EXPECT_NEAR(in[0], (1.0f - 0.2860f) / 0.3530f, 1e-5);
  img.h = img.w = 14;
  img.pixels.resize(14 * 14);
  const Status wrong = image_to_input(img, 0, model.value(), Fit::kExact, &in);
  EXPECT_EQ(wrong.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(wrong.message().find("--resize"), std::string::npos);
  ASSERT_TRUE(image_to_input(img, 0, model.value(), Fit::kResize, &in).is_ok());
  EXPECT_EQ(in.size(), 784u);
}

// Every pixel value, as it is and scaled up (nearest neighbour), becomes exactly what the
// formula gives per pixel.
TEST(Dataset, EveryPixelValueBecomesItsNormalisedInput) {
  const auto& bytes = testing::synth_bytes("fluid-cnn");
  auto model = Model::from_bytes(bytes.data(), bytes.size());
  ASSERT_TRUE(model.is_ok());
  const float mean = model.value().fb().metadata()->input_mean();
  const float inv_std = 1.0f / model.value().fb().metadata()->input_std();
  auto expected = [&](uint8_t v) { return (v / 255.0f - mean) * inv_std; };
  Images img;
  img.count = 1, img.h = 28, img.w = 28;
  for (uint32_t i = 0; i < 28 * 28; ++i) img.pixels.push_back(static_cast<uint8_t>(i * 7 % 256));
  std::vector<float> in;
  ASSERT_TRUE(image_to_input(img, 0, model.value(), Fit::kExact, &in).is_ok());
  for (uint32_t i = 0; i < 28 * 28; ++i) ASSERT_EQ(in[i], expected(img.pixels[i])) << "pixel " << i;
  Images small;
  small.count = 1, small.h = 14, small.w = 14;
  for (uint32_t i = 0; i < 14 * 14; ++i) small.pixels.push_back(static_cast<uint8_t>(255 - i));
  ASSERT_TRUE(image_to_input(small, 0, model.value(), Fit::kResize, &in).is_ok());
  for (uint32_t y = 0; y < 28; ++y) {
    for (uint32_t x = 0; x < 28; ++x) ASSERT_EQ(in[y * 28 + x], expected(small.pixels[y / 2 * 14 + x / 2])) << y << "," << x;
  }
}

// Per-channel normalisation (ImageNet's three means and stds, an imported network's): each
// channel of every pixel with its own mean and std, a grey image repeated into each.
TEST(Dataset, PerChannelMeansAndStdsNormaliseEachChannel) {
  ModelBuilder b("rgb", 1);
  const uint32_t image = b.group("image", 3, false);
  const uint32_t x = b.input("x", image, 2, 2);
  b.output(b.conv2d("conv", x, b.group("c", 4), make_window(1), LayerOptions{}));
  b.subnet("w1.0", 1.0f, 0.0f, 1.0f, 0);
  b.spec().metadata.input_means = {0.485f, 0.456f, 0.406f};
  b.spec().metadata.input_stds = {0.229f, 0.224f, 0.225f};
  const std::vector<uint8_t> bytes = serialize_model(b.spec());
  auto model = Model::from_bytes(bytes.data(), bytes.size());
  ASSERT_TRUE(model.is_ok()) << model.status().to_string();
  Images rgb;
  rgb.count = 1, rgb.h = 2, rgb.w = 2, rgb.c = 3;
  for (uint32_t i = 0; i < 12; ++i) rgb.pixels.push_back(static_cast<uint8_t>(i * 20));
  std::vector<float> in;
  ASSERT_TRUE(image_to_input(rgb, 0, model.value(), Fit::kExact, &in).is_ok());
  const float* m = b.spec().metadata.input_means.data();
  const float* sd = b.spec().metadata.input_stds.data();
  for (uint32_t i = 0; i < 12; ++i) ASSERT_EQ(in[i], (rgb.pixels[i] / 255.0f - m[i % 3]) * (1.0f / sd[i % 3])) << i;
  Images grey;
  grey.count = 1, grey.h = 1, grey.w = 1;
  grey.pixels = {128};
  ASSERT_TRUE(image_to_input(grey, 0, model.value(), Fit::kResize, &in).is_ok());
  for (uint32_t i = 0; i < 12; ++i) ASSERT_EQ(in[i], (128 / 255.0f - m[i % 3]) * (1.0f / sd[i % 3])) << i;
}

}  // namespace
}  // namespace shoal
