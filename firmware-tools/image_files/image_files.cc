#include "image_files.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "shoal/npy.h"

#if SHOAL_WITH_PNG_JPEG
#include <png.h>
#include <turbojpeg.h>
#endif

namespace shoal {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kMaxPixels = uint64_t{1} << 26;  // 64 Mpixel: larger is not a photo

struct Decoded {
  uint32_t h = 0, w = 0;
  std::vector<uint8_t> pixels;  // h x w x channels
};

bool has_extension(const fs::path& p, std::initializer_list<const char*> exts) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* x : exts) {
    if (e == x) return true;
  }
  return false;
}

#if SHOAL_WITH_PNG_JPEG
Result<Decoded> decode(const fs::path& file, uint32_t channels) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Status(StatusCode::kNotFound, "cannot open '" + file.string() + "'");
  std::ostringstream s;
  s << in.rdbuf();
  const std::string bytes = s.str();
  Decoded d;
  auto too_big = [&](uint64_t w, uint64_t h) { return w == 0 || h == 0 || w * h > kMaxPixels; };
  if (has_extension(file, {".png"})) {
    png_image image{};
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&image, bytes.data(), bytes.size())) {
      return Status(StatusCode::kCorrupt, "'" + file.string() + "' is not a PNG image: " + image.message);
    }
    if (too_big(image.width, image.height)) {
      png_image_free(&image);
      return Status(StatusCode::kCorrupt, "'" + file.string() + "' is " + std::to_string(image.width) + "x" +
                                              std::to_string(image.height) + " pixels: too large");
    }
    image.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    d.h = image.height, d.w = image.width;
    d.pixels.resize(PNG_IMAGE_SIZE(image));
    if (!png_image_finish_read(&image, nullptr, d.pixels.data(), 0, nullptr)) {
      return Status(StatusCode::kCorrupt, "'" + file.string() + "': " + image.message);
    }
    return d;
  }
  tjhandle tj = tjInitDecompress();
  if (!tj) return Status(StatusCode::kOutOfMemory, "cannot start the JPEG decoder");
  int w = 0, h = 0, sub = 0, space = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  Status status;
  if (tjDecompressHeader3(tj, data, bytes.size(), &w, &h, &sub, &space) != 0) {
    status = Status(StatusCode::kCorrupt, "'" + file.string() + "' is not a JPEG image: " + tjGetErrorStr2(tj));
  } else if (too_big(static_cast<uint64_t>(w), static_cast<uint64_t>(h))) {
    status = Status(StatusCode::kCorrupt, "'" + file.string() + "' is too large");
  } else {
    d.h = static_cast<uint32_t>(h), d.w = static_cast<uint32_t>(w);
    d.pixels.resize(size_t{d.h} * d.w * channels);
    if (tjDecompress2(tj, data, bytes.size(), d.pixels.data(), w, 0, h, channels == 1 ? TJPF_GRAY : TJPF_RGB,
                      TJFLAG_ACCURATEDCT) != 0) {
      status = Status(StatusCode::kCorrupt, "'" + file.string() + "': " + tjGetErrorStr2(tj));
    }
  }
  tjDestroy(tj);
  if (!status.is_ok()) return status;
  return d;
}
#else
Result<Decoded> decode(const fs::path& file, uint32_t) {
  return Status(StatusCode::kUnsupported, "'" + file.string() +
                                              "': this shoal was built without PNG and JPEG decoding (libpng-dev, "
                                              "libturbojpeg0-dev); give IDX or .npy images");
}
#endif

// Bilinear, pixel centres aligned (as PIL and OpenCV resize): the image scaled to rh x rw,
// and of that the h x w from (top, left).
void resize_into(const Decoded& d, uint32_t c, uint32_t h, uint32_t w, double rh, double rw, double top, double left,
                 uint8_t* out) {
  for (uint32_t y = 0; y < h; ++y) {
    const double sy = std::clamp((y + top + 0.5) * d.h / rh - 0.5, 0.0, d.h - 1.0);
    const uint32_t y0 = static_cast<uint32_t>(sy), y1 = std::min(y0 + 1, d.h - 1);
    const double fy = sy - y0;
    for (uint32_t x = 0; x < w; ++x) {
      const double sx = std::clamp((x + left + 0.5) * d.w / rw - 0.5, 0.0, d.w - 1.0);
      const uint32_t x0 = static_cast<uint32_t>(sx), x1 = std::min(x0 + 1, d.w - 1);
      const double fx = sx - x0;
      for (uint32_t k = 0; k < c; ++k) {
        auto at = [&](uint32_t yy, uint32_t xx) { return static_cast<double>(d.pixels[(size_t{yy} * d.w + xx) * c + k]); };
        const double v = (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x1)) + fy * ((1 - fx) * at(y1, x0) + fx * at(y1, x1));
        out[(size_t{y} * w + x) * c + k] = static_cast<uint8_t>(std::lround(std::clamp(v, 0.0, 255.0)));
      }
    }
  }
}

Result<ImageSet> read_folder(const fs::path& dir, uint32_t limit, uint32_t h, uint32_t w, uint32_t c,
                             const std::vector<std::string>& class_names, float crop) {
  ImageSet set;
  std::vector<std::pair<fs::path, int>> files;  // file, class (-1: none)
  std::vector<fs::path> class_dirs;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.is_directory()) class_dirs.push_back(e.path());
  }
  std::sort(class_dirs.begin(), class_dirs.end());
  auto images_in = [&](const fs::path& d, int cls) {
    std::vector<fs::path> found;
    for (const auto& e : fs::directory_iterator(d, ec)) {
      if (e.is_regular_file() && has_extension(e.path(), {".png", ".jpg", ".jpeg"})) found.push_back(e.path());
    }
    std::sort(found.begin(), found.end());
    for (const auto& f : found) files.emplace_back(f, cls);
  };
  if (ec) return Status(StatusCode::kIo, "cannot read the folder '" + dir.string() + "'");
  if (class_dirs.empty()) {
    images_in(dir, -1);
  } else {
    set.labelled = true;
    for (size_t i = 0; i < class_dirs.size(); ++i) {
      const std::string name = class_dirs[i].filename().string();
      int cls = static_cast<int>(i);
      const bool number = !name.empty() && name.size() < 6 && name.find_first_not_of("0123456789") == std::string::npos;
      if (number) {
        cls = std::stoi(name);  // a folder named by the class index
      } else if (!class_names.empty()) {
        auto it = std::find(class_names.begin(), class_names.end(), name);
        if (it == class_names.end()) {
          return Status(StatusCode::kInvalidArgument, "class folder '" + name + "' is neither one of the model's " +
                                                          std::to_string(class_names.size()) + " class names nor a class number");
        }
        cls = static_cast<int>(it - class_names.begin());
      }
      if (cls > 255) return Status(StatusCode::kUnsupported, "class folder '" + name + "' is class " + std::to_string(cls) + "; shoal's labels go to 255");
      images_in(class_dirs[i], cls);
    }
  }
  if (files.empty()) return Status(StatusCode::kNotFound, "no .png, .jpg or .jpeg files in '" + dir.string() + "'");
  if (limit && files.size() > limit) files.resize(limit);
  for (const auto& [file, cls] : files) {
    Result<Decoded> d = decode(file, c);
    if (!d.is_ok()) return d.status();
    if (set.images.count == 0) {
      set.images.h = h ? h : d.value().h, set.images.w = w ? w : d.value().w, set.images.c = c;
    }
    const size_t per = size_t{set.images.h} * set.images.w * c;
    set.images.pixels.resize(set.images.pixels.size() + per);
    const uint32_t oh = set.images.h, ow = set.images.w;
    double rh = oh, rw = ow;  // the size the whole image is scaled to
    if (crop > 0.0f) {  // the shorter side to min(oh, ow) / crop, the rest in proportion
      const double scale = std::min(oh, ow) / crop / std::min(d.value().h, d.value().w);
      rh = std::max<double>(oh, d.value().h * scale), rw = std::max<double>(ow, d.value().w * scale);
    }
    resize_into(d.value(), c, oh, ow, rh, rw, (rh - oh) / 2, (rw - ow) / 2,
                set.images.pixels.data() + set.images.pixels.size() - per);
    set.images.count += 1;
    set.files.push_back(file.string());
    if (cls >= 0) set.labels.push_back(static_cast<uint8_t>(cls));
  }
  return set;
}

Result<ImageSet> read_npy_images(const std::string& path, uint32_t limit) {
  Result<NpyArray> a = read_npy(path);
  if (!a.is_ok()) return a.status();
  const NpyArray& n = a.value();
  const auto& s = n.shape;
  if ((n.dtype != "|u1" && n.dtype != "<u1") || s.size() < 3 || s.size() > 4 || (s.size() == 4 && (s[3] < 1 || s[3] > 4))) {
    return Status(StatusCode::kInvalidArgument, "'" + path + "' holds " + n.dtype + " of " + std::to_string(s.size()) +
                                                    " dimensions; images are uint8 (N, H, W) or (N, H, W, C)");
  }
  ImageSet set;
  Images& im = set.images;
  im.count = static_cast<uint32_t>(limit && limit < s[0] ? limit : s[0]);
  im.h = static_cast<uint32_t>(s[1]), im.w = static_cast<uint32_t>(s[2]), im.c = s.size() == 4 ? static_cast<uint32_t>(s[3]) : 1;
  im.pixels.assign(n.data.begin(), n.data.begin() + static_cast<std::ptrdiff_t>(size_t{im.count} * im.h * im.w * im.c));
  return set;
}

}  // namespace

bool decodes_png_and_jpeg() { return SHOAL_WITH_PNG_JPEG; }

Result<ImageSet> read_images(const std::string& path, uint32_t limit, uint32_t h, uint32_t w, uint32_t channels,
                             const std::vector<std::string>& class_names, float center_crop) {
  if (!(center_crop >= 0.0f && center_crop <= 1.0f)) {
    return Status(StatusCode::kInvalidArgument, "a centre crop is a fraction in (0, 1], as 0.875");
  }
  std::error_code ec;
  if (fs::is_directory(path, ec)) return read_folder(path, limit, h, w, channels == 1 ? 1 : 3, class_names, center_crop);
  if (has_extension(path, {".npy"})) return read_npy_images(path, limit);
  if (has_extension(path, {".png", ".jpg", ".jpeg"})) {
    return Status(StatusCode::kInvalidArgument, "'" + path + "' is one image; give the folder it is in");
  }
  Result<Images> idx = read_idx_images(path, limit);
  if (!idx.is_ok()) return idx.status();
  ImageSet set;
  set.images = std::move(idx.value());
  return set;
}

}  // namespace shoal
