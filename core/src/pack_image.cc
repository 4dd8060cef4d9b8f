#include "shoal/pack_image.h"

#include <string>

namespace shoal {

Status pack_image(const Model& model, const uint8_t* pixels, uint32_t h, uint32_t w, uint32_t c, bool resize,
                  float* out, size_t out_count, const char* what_to_do) {
  const TensorShape s = model.shape(model.fb().input());
  if (!resize && (h != s.h || w != s.w || c != s.c)) {
    return Status(StatusCode::kInvalidArgument,
                  "the images are " + std::to_string(h) + "x" + std::to_string(w) + "x" + std::to_string(c) +
                      " but the model takes " + std::to_string(s.h) + "x" + std::to_string(s.w) + "x" +
                      std::to_string(s.c) + what_to_do);
  }
  if (c != s.c && c != 1) {
    return Status(StatusCode::kInvalidArgument,
                  "cannot map " + std::to_string(c) + "-channel images onto " + std::to_string(s.c) + " channels");
  }
  if (h == 0 || w == 0) return Status(StatusCode::kInvalidArgument, "an image of no pixels");
  if (out_count != s.elements()) {
    return Status(StatusCode::kInvalidArgument, "room for " + std::to_string(out_count) +
                                                    " floats; the model's input has " + std::to_string(s.elements()));
  }
  const fb::Metadata* md = model.fb().metadata();
  // Per-channel normalisation (checked at load: one mean and std per input channel) or one
  // for all.
  const bool per_channel = md && md->input_means() && md->input_stds();
  auto normalise = [&](uint32_t channel, uint8_t v) {
    const float mean = per_channel ? md->input_means()->Get(channel) : md ? md->input_mean() : 0.0f;
    const float sd = per_channel ? md->input_stds()->Get(channel) : md ? md->input_std() : 1.0f;
    return (v / 255.0f - mean) * (1.0f / (sd > 0.0f ? sd : 1.0f));
  };
  // Each value of a pixel byte computed once, for one channel or each of the first three: 256
  // divisions per table instead of one per pixel (a worker converts every request's image).
  // Channels past three (rare) compute theirs per pixel; nothing here allocates.
  constexpr uint32_t kTables = 3;
  float values[kTables][256];
  const uint32_t tables = per_channel ? (s.c < kTables ? s.c : kTables) : 1;
  for (uint32_t k = 0; k < tables; ++k) {
    for (int v = 0; v < 256; ++v) values[k][v] = normalise(k, static_cast<uint8_t>(v));
  }
  auto value = [&](uint32_t channel, uint8_t v) {
    if (!per_channel) return values[0][v];
    return channel < kTables ? values[channel][v] : normalise(channel, v);
  };
  if (h == s.h && w == s.w && c == s.c) {  // the usual case: as it is
    if (!per_channel) {
      for (size_t i = 0, n = s.elements(); i < n; ++i) out[i] = values[0][pixels[i]];
      return Status::ok();
    }
    for (size_t i = 0, n = s.elements(); i < n; ++i) out[i] = value(static_cast<uint32_t>(i % s.c), pixels[i]);
    return Status::ok();
  }
  for (uint32_t y = 0; y < s.h; ++y) {
    const uint32_t sy = static_cast<uint32_t>(uint64_t{y} * h / s.h);
    for (uint32_t x = 0; x < s.w; ++x) {
      const uint32_t sx = static_cast<uint32_t>(uint64_t{x} * w / s.w);
      for (uint32_t k = 0; k < s.c; ++k) {
        const uint8_t v = pixels[(size_t{sy} * w + sx) * c + (c == 1 ? 0 : k)];
        out[(size_t{y} * s.w + x) * s.c + k] = value(k, v);
      }
    }
  }
  return Status::ok();
}

}  // namespace shoal
