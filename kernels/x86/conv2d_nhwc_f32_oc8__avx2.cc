// Compiled with -mavx2 -mfma (kernels/CMakeLists.txt); called only where the CPU has them.

#include "common/conv2d_oc_blocks.h"
#include "avx2_vec.h"
#include "cpu_kernels.h"

extern "C" void shoal_conv2d_nhwc_f32_oc8__avx2(const shoal_conv2d_params* p, const float* x, const float* packed,
                                                const float* scale, const float* shift, float* y) {
  shoal::simd::Conv2dOcBlocks<shoal::simd::Avx2, 9, 3>::run(p, x, packed, scale, shift, y);
}
