#include "common/pool2d_oc_blocks.h"
#include "avx512_vec.h"
#include "cpu_kernels.h"

extern "C" void shoal_maxpool_nhwc_f32__avx512(const shoal_pool_params* p, const float* x, float* y) {
  shoal::simd::pool2d<shoal::simd::Avx512, true>(p, x, y);
}

extern "C" void shoal_avgpool_nhwc_f32__avx512(const shoal_pool_params* p, const float* x, float* y) {
  shoal::simd::pool2d<shoal::simd::Avx512, false>(p, x, y);
}

extern "C" void shoal_global_avgpool_nhwc_f32__avx512(const shoal_pool_params* p, const float* x, float* y) {
  shoal::simd::global_avg_pool<shoal::simd::Avx512>(p, x, y);
}
