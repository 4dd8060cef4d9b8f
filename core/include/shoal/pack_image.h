// An image (bytes, height x width x channels) as a model's packed input: (pixel / 255 - mean)
// / std with the model's metadata. The one conversion every way in uses: the C API
// (shoal_model_pack_image), a worker's requests, the data set tools (dataset.h).
#ifndef SHOAL_PACK_IMAGE_H_
#define SHOAL_PACK_IMAGE_H_

#include <cstddef>
#include <cstdint>

#include "shoal/model.h"
#include "shoal/status.h"

namespace shoal {

// `out` holds the model's input elements (h x w x c of its input tensor). An image of another
// size is an error unless `resize`: then it is scaled by nearest neighbour and a grey channel
// repeated; `what_to_do` ends the size error (how the caller's user asks for the resize).
Status pack_image(const Model& model, const uint8_t* pixels, uint32_t h, uint32_t w, uint32_t c, bool resize,
                  float* out, size_t out_count, const char* what_to_do = "");

}  // namespace shoal

#endif  // SHOAL_PACK_IMAGE_H_
