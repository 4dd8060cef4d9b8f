// image_to_input, apart from the IDX reader so that a worker, which converts images but
// reads no data sets, does not link zlib.
#include "shoal/dataset.h"
#include "shoal/pack_image.h"

namespace shoal {

Status image_to_input(const Images& images, uint32_t index, const Model& model, Fit fit,
                      std::vector<float>* out) {
  out->resize(model.shape(model.fb().input()).elements());
  return pack_image(model, images.image(index), images.h, images.w, images.c, fit == Fit::kResize, out->data(),
                    out->size(), "; pass --resize to scale them (nearest neighbour, grey repeated)");
}

}  // namespace shoal
