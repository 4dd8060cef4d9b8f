// image_to_input, apart from the IDX reader so that a worker, which converts images but
// reads no data sets, does not link zlib.
#include "shoal/dataset.h"

namespace shoal {

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
  // Every pixel value's input, computed once: 256 divisions instead of one per pixel (a
  // worker converts every request's image; the values are the same as computed per pixel).
  float value[256];
  for (int v = 0; v < 256; ++v) value[v] = (static_cast<uint8_t>(v) / 255.0f - mean) * inv_std;
  out->resize(s.elements());
  const uint8_t* img = images.image(index);
  float* o = out->data();
  if (images.h == s.h && images.w == s.w && images.c == s.c) {  // the usual case: as it is
    for (size_t i = 0, n = s.elements(); i < n; ++i) o[i] = value[img[i]];
    return Status::ok();
  }
  for (uint32_t y = 0; y < s.h; ++y) {
    const uint32_t sy = static_cast<uint32_t>(uint64_t{y} * images.h / s.h);
    for (uint32_t x = 0; x < s.w; ++x) {
      const uint32_t sx = static_cast<uint32_t>(uint64_t{x} * images.w / s.w);
      for (uint32_t c = 0; c < s.c; ++c) {
        const uint8_t v = img[(size_t{sy} * images.w + sx) * images.c + (images.c == 1 ? 0 : c)];
        o[(size_t{y} * s.w + x) * s.c + c] = value[v];
      }
    }
  }
  return Status::ok();
}

}  // namespace shoal
