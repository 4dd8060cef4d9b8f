// One backend's kernels as function pointers, chosen once when an Engine is created.
#ifndef SHOAL_KERNEL_TABLE_H_
#define SHOAL_KERNEL_TABLE_H_

#include <string>
#include <vector>

#include "shoal/kernels/params.h"

namespace shoal {

class Backend;

struct KernelTable {
  const char* name;
  // `w` is what conv2d_pack wrote, or the model's OHWI weights in place when it is null.
  void (*conv2d)(const shoal_conv2d_params*, const float* x, const float* w, const float* scale,
                 const float* shift, float* y);
  // Optional: floats the packed copy of one layer's full-width weights takes, and packing.
  size_t (*conv2d_packed_floats)(const shoal_conv2d_params*, uint32_t out_capacity);
  void (*conv2d_pack)(const shoal_conv2d_params*, uint32_t out_capacity, const float* ohwi, float* packed);
  // The output-channel block of that packing (kernels/common/pack_conv2d.h), 0 for none: a
  // model packed at export for this block (shoal pack) is used in place, with no copy.
  uint32_t weight_block;
  void (*max_pool)(const shoal_pool_params*, const float* x, float* y);
  void (*avg_pool)(const shoal_pool_params*, const float* x, float* y);
  void (*global_avg_pool)(const shoal_pool_params*, const float* x, float* y);
  void (*add)(const shoal_eltwise_params*, const float* a, const float* b, float* y);
  void (*activation)(const shoal_eltwise_params*, const float* a, float* y);
  void (*softmax)(const shoal_eltwise_params*, const float* a, float* y);
  void (*concat)(const shoal_concat_params*, const shoal_concat_run* runs, const float* const* x,
                 const uint32_t* x_stride, float* y);
  // Set for a backend that prepares one operator per layer and subnet (XNNPACK, a GPU;
  // backend.h); the functions above run whatever it declines.
  const Backend* backend;
};

// The reference kernels (kernels/ref/): always built, the twin of every other backend.
const KernelTable& ref_kernels();
// shoal's fastest kernels on this CPU (chosen once, by CPUID on x86): the default backend.
const KernelTable& best_kernels();
// Every backend this build has and this CPU runs, reference first: "ref", "avx2", "avx512",
// "neon", then "xnnpack" where built with SHOAL_WITH_XNNPACK, and "cuda" where built with
// SHOAL_WITH_CUDA and a CUDA device is present.
std::vector<const KernelTable*> available_kernels();
// By name, or nullptr.
const KernelTable* find_kernels(const std::string& name);
// The weight block of any backend shoal has, whether or not this build or CPU runs it
// ("neon" on an x86 machine packing a model for a Pi): 0 for an unknown name or one that
// packs nothing.
uint32_t weight_block_of(const std::string& backend);

}  // namespace shoal

#endif  // SHOAL_KERNEL_TABLE_H_
