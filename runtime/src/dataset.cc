#include "shoal/dataset.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace shoal {
namespace {

constexpr uint32_t kMaxItems = 10'000'000;
constexpr uint32_t kMaxSide = 4096;

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

Status open(const std::string& path, GzFile* file) {
  file->reset(gzopen(path.c_str(), "rb"));
  if (!*file) {
    return Status(errno == ENOENT ? StatusCode::kNotFound : StatusCode::kIo,
                  "cannot open '" + path + "': " + std::strerror(errno) +
                      (errno == ENOENT ? " (Fashion-MNIST: apt-get install dataset-fashion-mnist)" : ""));
  }
  return Status::ok();
}

Status read_exact(gzFile_s* f, const std::string& path, void* data, size_t bytes, const char* what) {
  uint8_t* p = static_cast<uint8_t*>(data);
  while (bytes > 0) {
    const unsigned chunk = static_cast<unsigned>(std::min<size_t>(bytes, 1u << 30));
    const int got = gzread(f, p, chunk);
    if (got <= 0) {
      return Status(StatusCode::kCorrupt, "'" + path + "' ends early while reading its " + what +
                                              " (truncated or not an IDX file)");
    }
    p += got;
    bytes -= static_cast<size_t>(got);
  }
  return Status::ok();
}

// The magic (0x0000 0x08 ndims) and dimensions, big-endian.
Status read_header(gzFile_s* f, const std::string& path, uint32_t ndims, std::vector<uint32_t>* dims) {
  uint8_t magic[4];
  SHOAL_RETURN_IF_ERROR(read_exact(f, path, magic, 4, "header"));
  if (magic[0] != 0 || magic[1] != 0 || magic[2] != 0x08 || magic[3] != ndims) {
    return Status(StatusCode::kCorrupt, "'" + path + "' is not an IDX file of " + std::to_string(ndims) +
                                            "-dimensional uint8 data (wrong images/labels file?)");
  }
  dims->resize(ndims);
  for (uint32_t& d : *dims) {
    uint8_t b[4];
    SHOAL_RETURN_IF_ERROR(read_exact(f, path, b, 4, "header"));
    d = uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | b[3];
  }
  if ((*dims)[0] > kMaxItems) return Status(StatusCode::kCorrupt, "'" + path + "' claims too many items");
  return Status::ok();
}

}  // namespace

Result<Images> read_idx_images(const std::string& path, uint32_t limit) {
  GzFile f;
  SHOAL_RETURN_IF_ERROR(open(path, &f));
  std::vector<uint32_t> dims;
  SHOAL_RETURN_IF_ERROR(read_header(f.get(), path, 3, &dims));
  if (dims[1] == 0 || dims[2] == 0 || dims[1] > kMaxSide || dims[2] > kMaxSide) {
    return Status(StatusCode::kCorrupt, "'" + path + "' has images of an implausible size");
  }
  Images images;
  images.count = limit && limit < dims[0] ? limit : dims[0];
  images.h = dims[1];
  images.w = dims[2];
  images.pixels.resize(size_t{images.count} * images.h * images.w);
  SHOAL_RETURN_IF_ERROR(read_exact(f.get(), path, images.pixels.data(), images.pixels.size(), "pixels"));
  return images;
}

Result<std::vector<uint8_t>> read_idx_labels(const std::string& path, uint32_t limit) {
  GzFile f;
  SHOAL_RETURN_IF_ERROR(open(path, &f));
  std::vector<uint32_t> dims;
  SHOAL_RETURN_IF_ERROR(read_header(f.get(), path, 1, &dims));
  std::vector<uint8_t> labels(limit && limit < dims[0] ? limit : dims[0]);
  SHOAL_RETURN_IF_ERROR(read_exact(f.get(), path, labels.data(), labels.size(), "labels"));
  return labels;
}

Status image_to_input(const Images& images, uint32_t index, const Model& model, Fit fit,
                      std::vector<float>* out) {
  const TensorShape s = model.shape(model.fb().input());
  if (fit == Fit::kExact && (images.h != s.h || images.w != s.w || images.c != s.c)) {
    return Status(StatusCode::kInvalidArgument,
                  "the images are " + std::to_string(images.h) + "x" + std::to_string(images.w) + "x" +
                      std::to_string(images.c) + " but the model takes " + std::to_string(s.h) + "x" +
                      std::to_string(s.w) + "x" + std::to_string(s.c) +
                      "; pass --resize to scale them (nearest neighbour, grey repeated)");
  }
  if (images.c != s.c && images.c != 1) {
    return Status(StatusCode::kInvalidArgument, "cannot map " + std::to_string(images.c) +
                                                    "-channel images onto " + std::to_string(s.c) + " channels");
  }
  const fb::Metadata* md = model.fb().metadata();
  const float mean = md ? md->input_mean() : 0.0f;
  const float inv_std = 1.0f / (md && md->input_std() > 0.0f ? md->input_std() : 1.0f);
  out->resize(s.elements());
  const uint8_t* img = images.image(index);
  for (uint32_t y = 0; y < s.h; ++y) {
    const uint32_t sy = static_cast<uint32_t>(uint64_t{y} * images.h / s.h);
    for (uint32_t x = 0; x < s.w; ++x) {
      const uint32_t sx = static_cast<uint32_t>(uint64_t{x} * images.w / s.w);
      for (uint32_t c = 0; c < s.c; ++c) {
        const uint8_t v = img[(size_t{sy} * images.w + sx) * images.c + (images.c == 1 ? 0 : c)];
        (*out)[(size_t{y} * s.w + x) * s.c + c] = (v / 255.0f - mean) * inv_std;
      }
    }
  }
  return Status::ok();
}

}  // namespace shoal
