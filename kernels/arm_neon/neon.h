// aarch64 kernels (NEON, which every aarch64 CPU has). Same parameters as the reference twins
// in kernels/ref/; convolution weights come packed in blocks of 4 (common/pack_conv2d.h).
#ifndef SHOAL_KERNELS_ARM_NEON_NEON_H_
#define SHOAL_KERNELS_ARM_NEON_NEON_H_

#include "shoal/kernels/params.h"

#ifdef __cplusplus
extern "C" {
#endif

void shoal_conv2d_nhwc_f32_oc4__neon(const shoal_conv2d_params* p, const float* x, const float* packed,
                                     const float* scale, const float* shift, float* y);

void shoal_maxpool_nhwc_f32__neon(const shoal_pool_params* p, const float* x, float* y);
void shoal_avgpool_nhwc_f32__neon(const shoal_pool_params* p, const float* x, float* y);
void shoal_global_avgpool_nhwc_f32__neon(const shoal_pool_params* p, const float* x, float* y);

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // SHOAL_KERNELS_ARM_NEON_NEON_H_
