#include "common/conv2d_oc_blocks.h"
#include "neon_vec.h"
#include "cpu_kernels.h"

// 32 vector registers: 4 blocks (16 output channels) x 5 pixels = 20 accumulators.
extern "C" void shoal_conv2d_nhwc_f32_oc4__neon(const shoal_conv2d_params* p, const float* x, const float* packed,
                                                const float* scale, const float* shift, float* y) {
  shoal::simd::Conv2dOcBlocks<shoal::simd::Neon, 20, 4>::run(p, x, packed, scale, shift, y);
}
