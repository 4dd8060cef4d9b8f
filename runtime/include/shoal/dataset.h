// Images and labels in IDX format (as Fashion-MNIST ships them), gzipped or not, and the
// conversion of one uint8 image into a model's float input.
#ifndef SHOAL_DATASET_H_
#define SHOAL_DATASET_H_

#include <cstdint>
#include <string>
#include <vector>

#include "shoal/model.h"

namespace shoal {

inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";
// The validation split: the last 5000 images of the training set. The trainer holds them
// out; calibration and the accuracy profile measure on them.
inline constexpr uint32_t kValidationImages = 5000;
inline uint32_t validation_first(uint32_t train_count) {
  return train_count > kValidationImages ? train_count - kValidationImages : 0;
}

struct Images {
  uint32_t count = 0, h = 0, w = 0, c = 1;
  std::vector<uint8_t> pixels;  // count x h x w x c
  const uint8_t* image(uint32_t i) const { return pixels.data() + size_t{i} * h * w * c; }
};

// `limit` > 0 reads only the first `limit` items.
Result<Images> read_idx_images(const std::string& path, uint32_t limit = 0);
Result<std::vector<uint8_t>> read_idx_labels(const std::string& path, uint32_t limit = 0);

// How an image of another size may be fitted to the model's input.
enum class Fit { kExact, kResize };

// Writes the model's packed input (h x w x c floats) for one image:
// (pixel / 255 - mean) / std, with the model's metadata. kResize scales by nearest neighbour
// and repeats a grey channel; kExact rejects any other size with an error saying so.
Status image_to_input(const Images& images, uint32_t index, const Model& model, Fit fit,
                      std::vector<float>* out);

}  // namespace shoal

#endif  // SHOAL_DATASET_H_
