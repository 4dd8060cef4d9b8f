// The image files `shoal run --images` reads: PNG and JPEG folders (written here with libpng and
// libjpeg-turbo), class folders, .npy and 4-d IDX, and every way they can be wrong.
#include <gtest/gtest.h>
#include <png.h>
#include <turbojpeg.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "image_files.h"
#include "shoal/npy.h"

namespace shoal {
namespace {

namespace fs = std::filesystem;

class ImageFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("shoal_image_files_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A w x h image whose pixel (x, y, k) is x * 7 + y * 3 + k * 50 + seed (mod 256).
  static std::vector<uint8_t> pattern(uint32_t h, uint32_t w, uint32_t c, uint32_t seed) {
    std::vector<uint8_t> p(size_t{h} * w * c);
    for (uint32_t y = 0; y < h; ++y) {
      for (uint32_t x = 0; x < w; ++x) {
        for (uint32_t k = 0; k < c; ++k) p[(size_t{y} * w + x) * c + k] = static_cast<uint8_t>(x * 7 + y * 3 + k * 50 + seed);
      }
    }
    return p;
  }
  static void write_png(const fs::path& file, const std::vector<uint8_t>& pixels, uint32_t h, uint32_t w, uint32_t c) {
    png_image image{};
    image.version = PNG_IMAGE_VERSION;
    image.width = w, image.height = h, image.format = c == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    ASSERT_TRUE(png_image_write_to_file(&image, file.c_str(), 0, pixels.data(), 0, nullptr)) << image.message;
  }
  static void write_jpeg(const fs::path& file, const std::vector<uint8_t>& rgb, uint32_t h, uint32_t w) {
    tjhandle tj = tjInitCompress();
    unsigned char* out = nullptr;
    unsigned long size = 0;
    ASSERT_EQ(tjCompress2(tj, rgb.data(), static_cast<int>(w), 0, static_cast<int>(h), TJPF_RGB, &out, &size, TJSAMP_444,
                          100, 0),
              0);
    std::ofstream(file, std::ios::binary).write(reinterpret_cast<const char*>(out), static_cast<std::streamsize>(size));
    tjFree(out);
    tjDestroy(tj);
  }
  fs::path dir_;
};

TEST_F(ImageFiles, PngFolderDecodesExactlyInNameOrderUnlabelled) {
  if (!decodes_png_and_jpeg()) GTEST_SKIP() << "built without libpng and libjpeg-turbo";
  for (uint32_t i = 0; i < 3; ++i) write_png(dir_ / ("img" + std::to_string(i) + ".png"), pattern(6, 5, 3, i), 6, 5, 3);
  Result<ImageSet> set = read_images(dir_.string(), 0, 0, 0, 3, {});
  ASSERT_TRUE(set.is_ok()) << set.status().message();
  EXPECT_FALSE(set->labelled);
  ASSERT_EQ(set->images.count, 3u);
  EXPECT_EQ(set->images.h, 6u);
  EXPECT_EQ(set->images.w, 5u);
  EXPECT_EQ(set->images.c, 3u);
  for (uint32_t i = 0; i < 3; ++i) {
    const std::vector<uint8_t> want = pattern(6, 5, 3, i);
    EXPECT_TRUE(std::equal(want.begin(), want.end(), set->images.image(i))) << "image " << i;
  }
  EXPECT_EQ(fs::path(set->files[2]).filename(), "img2.png");
  // The limit, and grey decoding of colour files.
  Result<ImageSet> grey = read_images(dir_.string(), 2, 0, 0, 1, {});
  ASSERT_TRUE(grey.is_ok());
  EXPECT_EQ(grey->images.count, 2u);
  EXPECT_EQ(grey->images.c, 1u);
}

TEST_F(ImageFiles, ImagesOfAnySizeAreResizedToTheModelsInput) {
  if (!decodes_png_and_jpeg()) GTEST_SKIP() << "built without libpng and libjpeg-turbo";
  // A flat image stays flat at any size; a JPEG at quality 100 stays within a few levels.
  write_png(dir_ / "a.png", std::vector<uint8_t>(40 * 30 * 3, 77), 40, 30, 3);
  write_jpeg(dir_ / "b.jpg", std::vector<uint8_t>(17 * 23 * 3, 200), 17, 23);
  Result<ImageSet> set = read_images(dir_.string(), 0, 8, 9, 3, {});
  ASSERT_TRUE(set.is_ok()) << set.status().message();
  ASSERT_EQ(set->images.count, 2u);
  EXPECT_EQ(set->images.h, 8u);
  EXPECT_EQ(set->images.w, 9u);
  for (size_t i = 0; i < 8 * 9 * 3; ++i) {
    EXPECT_EQ(set->images.image(0)[i], 77);
    EXPECT_NEAR(set->images.image(1)[i], 200, 2);
  }
}

// A centre crop keeps the middle of a wide image: left half 0, right half 200.
TEST_F(ImageFiles, CenterCropTakesTheMiddleOfTheResizedImage) {
  if (!decodes_png_and_jpeg()) GTEST_SKIP() << "built without libpng and libjpeg-turbo";
  std::vector<uint8_t> halves(8 * 16);
  for (uint32_t y = 0; y < 8; ++y) {
    for (uint32_t x = 0; x < 16; ++x) halves[y * 16 + x] = x < 8 ? 0 : 200;
  }
  write_png(dir_ / "wide.png", halves, 8, 16, 1);
  // Fraction 1: the shorter side stays 8, columns 4 to 11 are kept, exactly.
  Result<ImageSet> exact = read_images(dir_.string(), 0, 8, 8, 1, {}, 1.0f);
  ASSERT_TRUE(exact.is_ok()) << exact.status().message();
  for (uint32_t y = 0; y < 8; ++y) {
    for (uint32_t x = 0; x < 8; ++x) EXPECT_EQ(exact->images.image(0)[y * 8 + x], x < 4 ? 0 : 200) << y << "," << x;
  }
  // Fraction 0.5: scaled to 16 x 32, the central 8 x 8: the edges are far from the boundary.
  Result<ImageSet> zoomed = read_images(dir_.string(), 0, 8, 8, 1, {}, 0.5f);
  ASSERT_TRUE(zoomed.is_ok());
  EXPECT_EQ(zoomed->images.image(0)[0], 0);
  EXPECT_EQ(zoomed->images.image(0)[7], 200);
  EXPECT_EQ(zoomed->images.image(0)[4], 150);  // between columns 7 (0) and 8 (200), three quarters in
  // Without a crop the whole width is squeezed in.
  Result<ImageSet> whole = read_images(dir_.string(), 0, 8, 8, 1, {});
  ASSERT_TRUE(whole.is_ok());
  EXPECT_EQ(whole->images.image(0)[0], 0);
  EXPECT_EQ(whole->images.image(0)[3], 0);
  EXPECT_EQ(whole->images.image(0)[4], 200);
  EXPECT_FALSE(read_images(dir_.string(), 0, 8, 8, 1, {}, 1.5f).is_ok());
}

TEST_F(ImageFiles, ClassFoldersLabelByNameOrNumber) {
  if (!decodes_png_and_jpeg()) GTEST_SKIP() << "built without libpng and libjpeg-turbo";
  fs::create_directories(dir_ / "cat");
  fs::create_directories(dir_ / "dog");
  write_png(dir_ / "cat" / "1.png", pattern(4, 4, 1, 1), 4, 4, 1);
  write_png(dir_ / "dog" / "1.png", pattern(4, 4, 1, 2), 4, 4, 1);
  write_png(dir_ / "dog" / "2.png", pattern(4, 4, 1, 3), 4, 4, 1);
  Result<ImageSet> set = read_images(dir_.string(), 0, 4, 4, 1, {"bird", "dog", "cat"});
  ASSERT_TRUE(set.is_ok()) << set.status().message();
  EXPECT_TRUE(set->labelled);
  EXPECT_EQ(set->labels, (std::vector<uint8_t>{2, 1, 1}));
  // Without the model's names: sorted order.
  EXPECT_EQ(read_images(dir_.string(), 0, 4, 4, 1, {})->labels, (std::vector<uint8_t>{0, 1, 1}));
  // A folder that is no class of the model's.
  Result<ImageSet> unknown = read_images(dir_.string(), 0, 4, 4, 1, {"cat", "bird"});
  ASSERT_FALSE(unknown.is_ok());
  EXPECT_NE(unknown.status().message().find("'dog'"), std::string::npos) << unknown.status().message();
  // By number.
  fs::rename(dir_ / "cat", dir_ / "7");
  fs::rename(dir_ / "dog", dir_ / "3");
  EXPECT_EQ(read_images(dir_.string(), 0, 4, 4, 1, {"x"})->labels, (std::vector<uint8_t>{3, 3, 7}));
}

TEST_F(ImageFiles, CorruptEmptyAndWrongFilesAreNamedErrors) {
  std::ofstream(dir_ / "broken.png") << "not a png at all";
  Result<ImageSet> broken = read_images(dir_.string(), 0, 0, 0, 3, {});
  ASSERT_FALSE(broken.is_ok());
  EXPECT_NE(broken.status().message().find("broken.png"), std::string::npos) << broken.status().message();
  if (decodes_png_and_jpeg()) {
    std::ofstream(dir_ / "broken.png", std::ios::trunc) << "\x89PNG\r\n\x1a\n truncated";
    std::ofstream(dir_ / "broken2.jpg") << "\xff\xd8\xff garbage";
    EXPECT_FALSE(read_images(dir_.string(), 0, 0, 0, 3, {}).is_ok());
    fs::remove(dir_ / "broken.png");
    Result<ImageSet> jpg = read_images(dir_.string(), 0, 0, 0, 3, {});
    ASSERT_FALSE(jpg.is_ok());
    EXPECT_NE(jpg.status().message().find("broken2.jpg"), std::string::npos) << jpg.status().message();
    fs::remove(dir_ / "broken2.jpg");
  }
  fs::remove_all(dir_);
  fs::create_directories(dir_);
  EXPECT_EQ(read_images(dir_.string(), 0, 0, 0, 3, {}).status().code(), StatusCode::kNotFound);  // empty
  std::ofstream(dir_ / "one.png") << "x";
  EXPECT_NE(read_images((dir_ / "one.png").string(), 0, 0, 0, 3, {}).status().message().find("give the folder"),
            std::string::npos);
  // .npy of floats, and of uint8 images.
  const std::vector<float> f(2 * 3 * 4, 0.5f);
  ASSERT_TRUE(write_npy((dir_ / "f.npy").string(), {2, 3, 4}, f.data()).is_ok());
  EXPECT_NE(read_images((dir_ / "f.npy").string(), 0, 0, 0, 1, {}).status().message().find("uint8"), std::string::npos);
}

TEST_F(ImageFiles, NpyAndFourDimensionalIdxImages) {
  // uint8 (N, H, W, C) written as NumPy does.
  const std::vector<uint8_t> pixels = pattern(2 * 3, 4, 3, 9);  // 2 images of 3x4x3
  std::string header = "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3, 4, 3), }";
  while ((10 + header.size() + 1) % 64) header += ' ';
  header += '\n';
  {
    std::ofstream out(dir_ / "u8.npy", std::ios::binary);
    out.write("\x93NUMPY\x01\x00", 8);
    out.put(static_cast<char>(header.size())).put(0);
    out << header;
    out.write(reinterpret_cast<const char*>(pixels.data()), static_cast<std::streamsize>(pixels.size()));
  }
  Result<ImageSet> npy = read_images((dir_ / "u8.npy").string(), 0, 0, 0, 3, {});
  ASSERT_TRUE(npy.is_ok()) << npy.status().message();
  EXPECT_EQ(npy->images.count, 2u);
  EXPECT_EQ(npy->images.c, 3u);
  EXPECT_EQ(npy->images.pixels, pixels);
  // The same pixels as a gzipped 4-d IDX file.
  gzFile gz = gzopen((dir_ / "u8.idx.gz").c_str(), "wb");
  const uint8_t head[] = {0, 0, 8, 4, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 3};
  gzwrite(gz, head, sizeof head);
  gzwrite(gz, pixels.data(), static_cast<unsigned>(pixels.size()));
  gzclose(gz);
  Result<ImageSet> idx = read_images((dir_ / "u8.idx.gz").string(), 0, 0, 0, 3, {});
  ASSERT_TRUE(idx.is_ok()) << idx.status().message();
  EXPECT_EQ(idx->images.c, 3u);
  EXPECT_EQ(idx->images.pixels, pixels);
  // A truncated .npy says so.
  std::ofstream(dir_ / "short.npy", std::ios::binary) << "\x93NUMPY\x01";
  EXPECT_FALSE(read_images((dir_ / "short.npy").string(), 0, 0, 0, 3, {}).is_ok());
}

}  // namespace
}  // namespace shoal
