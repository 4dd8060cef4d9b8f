// Images from the files users have: a folder of PNG or JPEG files (decoded by libpng and
// libjpeg-turbo where built with them), a NumPy .npy array of uint8 images, or IDX (3-d grey
// or 4-d colour, gzipped or not). What `shoal run --images` and `shoal master --images` read.
// A host tool's library: the worker and the firmware never link it.
#ifndef SHOAL_IMAGE_FILES_H_
#define SHOAL_IMAGE_FILES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "shoal/dataset.h"

namespace shoal {

struct ImageSet {
  Images images;
  std::vector<std::string> files;  // a folder's files, in order (empty otherwise)
  // A folder of class folders (class_name/image.jpg, torchvision's ImageFolder layout): each
  // image's class index.
  std::vector<uint8_t> labels;
  bool labelled = false;
};

// `limit` > 0 reads the first `limit` images. A folder's images (sorted by path) are decoded to
// `channels` (1: grey, 3: RGB) and resized to `h` x `w` (bilinear; 0: the first image's size),
// so images of any size fit the model. Class folders map to labels by name in `class_names`
// (the model's), or by number ("0", "7"), or else in sorted order. Errors name the file.
// `center_crop` F in (0, 1] resizes a folder's image so its shorter side is min(h, w) / F and
// takes the central h x w (torchvision's evaluation transform: 0.875 is Resize(256) then
// CenterCrop(224)); 0 resizes the whole image to h x w.
Result<ImageSet> read_images(const std::string& path, uint32_t limit, uint32_t h, uint32_t w, uint32_t channels,
                             const std::vector<std::string>& class_names, float center_crop = 0.0f);

// Whether this build decodes PNG and JPEG.
bool decodes_png_and_jpeg();

}  // namespace shoal

#endif  // SHOAL_IMAGE_FILES_H_
