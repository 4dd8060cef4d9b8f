// The declarations of every CPU kernel set (kernels/cpu_kernels.inc), whichever this build
// compiles: same parameters as the reference twins in ref/ref.h; a set with a weight block
// takes convolution weights packed (common/pack_conv2d.h) instead of OHWI.
#ifndef SHOAL_KERNELS_CPU_KERNELS_H_
#define SHOAL_KERNELS_CPU_KERNELS_H_

#include "shoal/kernels/params.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SHOAL_CPU_KERNELS(name, isa, runs, block, conv2d, maxpool, avgpool, global_avgpool)           \
  void conv2d(const shoal_conv2d_params* p, const float* x, const float* w, const float* scale,         \
              const float* shift, float* y);                                                             \
  void maxpool(const shoal_pool_params* p, const float* x, float* y);                                   \
  void avgpool(const shoal_pool_params* p, const float* x, float* y);                                   \
  void global_avgpool(const shoal_pool_params* p, const float* x, float* y);
#include "cpu_kernels.inc"
#undef SHOAL_CPU_KERNELS

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // SHOAL_KERNELS_CPU_KERNELS_H_
