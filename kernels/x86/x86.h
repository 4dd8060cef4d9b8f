// x86 kernels (AVX2+FMA, AVX-512F). Same parameters as the reference twins in kernels/ref/;
// convolution weights come packed (common/pack_conv2d.h) instead of OHWI.
#ifndef SHOAL_KERNELS_X86_X86_H_
#define SHOAL_KERNELS_X86_X86_H_

#include "shoal/kernels/params.h"

#ifdef __cplusplus
extern "C" {
#endif

void shoal_conv2d_nhwc_f32_oc8__avx2(const shoal_conv2d_params* p, const float* x, const float* packed,
                                     const float* scale, const float* shift, float* y);
void shoal_conv2d_nhwc_f32_oc16__avx512(const shoal_conv2d_params* p, const float* x, const float* packed,
                                        const float* scale, const float* shift, float* y);

void shoal_maxpool_nhwc_f32__avx2(const shoal_pool_params* p, const float* x, float* y);
void shoal_avgpool_nhwc_f32__avx2(const shoal_pool_params* p, const float* x, float* y);
void shoal_global_avgpool_nhwc_f32__avx2(const shoal_pool_params* p, const float* x, float* y);
void shoal_maxpool_nhwc_f32__avx512(const shoal_pool_params* p, const float* x, float* y);
void shoal_avgpool_nhwc_f32__avx512(const shoal_pool_params* p, const float* x, float* y);
void shoal_global_avgpool_nhwc_f32__avx512(const shoal_pool_params* p, const float* x, float* y);

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // SHOAL_KERNELS_X86_X86_H_
