#include <string.h>

#include "pack_conv2d.h"

extern "C" size_t shoal_conv2d_packed_floats(const shoal_conv2d_params* p, uint32_t out_capacity, uint32_t block) {
  const size_t blocks = (out_capacity + block - 1) / block;
  return blocks * p->win.kernel_h * p->win.kernel_w * p->w_in_stride * block;
}

extern "C" void shoal_conv2d_pack_oc_blocks(const shoal_conv2d_params* p, uint32_t out_capacity, uint32_t block,
                                            const float* ohwi, float* packed) {
  const size_t taps = size_t{p->win.kernel_h} * p->win.kernel_w, cin = p->w_in_stride;
  memset(packed, 0, shoal_conv2d_packed_floats(p, out_capacity, block) * sizeof(float));
  for (uint32_t co = 0; co < out_capacity; ++co) {
    const size_t b = co / block, lane = co % block;
    for (size_t t = 0; t < taps; ++t) {
      for (size_t ci = 0; ci < cin; ++ci) {
        packed[((b * taps + t) * cin + ci) * block + lane] = ohwi[(co * taps + t) * cin + ci];
      }
    }
  }
}
