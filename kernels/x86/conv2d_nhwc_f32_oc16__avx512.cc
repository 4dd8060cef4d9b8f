// Compiled with -mavx512f -mfma (kernels/CMakeLists.txt); called only where the CPU has them.

#include "common/conv2d_oc_blocks.h"
#include "avx512_vec.h"
#include "cpu_kernels.h"

extern "C" void shoal_conv2d_nhwc_f32_oc16__avx512(const shoal_conv2d_params* p, const float* x, const float* packed,
                                                   const float* scale, const float* shift, float* y) {
  shoal::simd::Conv2dOcBlocks<shoal::simd::Avx512, 20, 4>::run(p, x, packed, scale, shift, y);
}
