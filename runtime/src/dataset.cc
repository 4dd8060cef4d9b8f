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

// The magic (0x0000 0x08 ndims) and dimensions, big-endian: `ndims` of them, or up to
// `max_dims` (colour images: count x height x width x channels).
Status read_header(gzFile_s* f, const std::string& path, uint32_t ndims, std::vector<uint32_t>* dims,
                   uint32_t max_dims = 0) {
  uint8_t magic[4];
  SHOAL_RETURN_IF_ERROR(read_exact(f, path, magic, 4, "header"));
  const bool rank_ok = magic[3] == ndims || (max_dims && magic[3] > ndims && magic[3] <= max_dims);
  if (magic[0] != 0 || magic[1] != 0 || magic[2] != 0x08 || !rank_ok) {
    return Status(StatusCode::kCorrupt, "'" + path + "' is not an IDX file of " + std::to_string(ndims) +
                                            (max_dims ? " or " + std::to_string(max_dims) : "") +
                                            "-dimensional uint8 data (wrong images/labels file?)");
  }
  dims->resize(magic[3]);
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
  SHOAL_RETURN_IF_ERROR(read_header(f.get(), path, 3, &dims, 4));
  const uint32_t channels = dims.size() == 4 ? dims[3] : 1;
  if (dims[1] == 0 || dims[2] == 0 || dims[1] > kMaxSide || dims[2] > kMaxSide || channels == 0 || channels > 4) {
    return Status(StatusCode::kCorrupt, "'" + path + "' has images of an implausible size");
  }
  Images images;
  images.count = limit && limit < dims[0] ? limit : dims[0];
  images.h = dims[1];
  images.w = dims[2];
  images.c = channels;
  images.pixels.resize(size_t{images.count} * images.h * images.w * images.c);
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

}  // namespace shoal
