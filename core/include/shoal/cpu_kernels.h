// One set of shoal's CPU kernels as function pointers (kernels/cpu_kernels.inc lists the
// sets): what the CPU backends run, and what their twin tests and benchmarks call directly
// (Backend::cpu_kernels()).
#ifndef SHOAL_CPU_KERNELS_H_
#define SHOAL_CPU_KERNELS_H_

#include <cstdint>

#include "shoal/kernels/params.h"

namespace shoal {

struct CpuKernels {
  const char* name;
  // The output-channel block conv2d's weights are packed in (shoal_conv2d_pack_oc_blocks,
  // kernels/common/pack_conv2d.h); 0: conv2d reads the model's OHWI weights in place.
  uint32_t weight_block;
  void (*conv2d)(const shoal_conv2d_params*, const float* x, const float* w, const float* scale,
                 const float* shift, float* y);
  void (*max_pool)(const shoal_pool_params*, const float* x, float* y);
  void (*avg_pool)(const shoal_pool_params*, const float* x, float* y);
  void (*global_avg_pool)(const shoal_pool_params*, const float* x, float* y);
  void (*add)(const shoal_eltwise_params*, const float* a, const float* b, float* y);
  void (*activation)(const shoal_eltwise_params*, const float* a, float* y);
  void (*softmax)(const shoal_eltwise_params*, const float* a, float* y);
  void (*concat)(const shoal_concat_params*, const shoal_concat_run* runs, const float* const* x,
                 const uint32_t* x_stride, float* y);
};

}  // namespace shoal

#endif  // SHOAL_CPU_KERNELS_H_
