// One backend's kernels as function pointers, chosen once when an Engine is created.
#ifndef SHOAL_KERNEL_TABLE_H_
#define SHOAL_KERNEL_TABLE_H_

#include "shoal/kernels/params.h"

namespace shoal {

struct KernelTable {
  const char* name;
  void (*conv2d)(const shoal_conv2d_params*, const float* x, const float* w, const float* scale,
                 const float* shift, float* y);
  void (*max_pool)(const shoal_pool_params*, const float* x, float* y);
  void (*avg_pool)(const shoal_pool_params*, const float* x, float* y);
  void (*global_avg_pool)(const shoal_pool_params*, const float* x, float* y);
  void (*add)(const shoal_eltwise_params*, const float* a, const float* b, float* y);
  void (*activation)(const shoal_eltwise_params*, const float* a, float* y);
  void (*softmax)(const shoal_eltwise_params*, const float* a, float* y);
};

// The reference kernels (kernels/ref/): always built, the twin of every other backend.
const KernelTable& ref_kernels();

}  // namespace shoal

#endif  // SHOAL_KERNEL_TABLE_H_
