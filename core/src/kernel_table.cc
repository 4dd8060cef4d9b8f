#include "shoal/kernel_table.h"

#include "common/pack_conv2d.h"
#include "ref/ref.h"
#if SHOAL_HAVE_X86_KERNELS
#include "x86/x86.h"
#endif
#if SHOAL_HAVE_NEON_KERNELS
#include "arm_neon/neon.h"
#endif
#if SHOAL_HAVE_XNNPACK
#include "xnnpack_backend.h"
#endif
#if SHOAL_HAVE_CUDA
#include "cuda_backend.h"
#endif

namespace shoal {
namespace {

using Conv = void (*)(const shoal_conv2d_params*, const float*, const float*, const float*, const float*, float*);
using Pool = void (*)(const shoal_pool_params*, const float*, float*);

// Elementwise ops (add, activation, softmax) and concatenation are memory-bound and run the reference loops,
// which the compiler vectorises, on every backend.
template <uint32_t kBlock>
size_t packed_floats(const shoal_conv2d_params* p, uint32_t cout) {
  return shoal_conv2d_packed_floats(p, cout, kBlock);
}
template <uint32_t kBlock>
void pack(const shoal_conv2d_params* p, uint32_t cout, const float* w, float* out) {
  shoal_conv2d_pack_oc_blocks(p, cout, kBlock, w, out);
}

// Every backend's weight block, in one place: the tables below and weight_block_of read it.
constexpr uint32_t kAvx2Block = 8, kAvx512Block = 16, kNeonBlock = 4;

// kBlock 0: the model's OHWI weights in place.
template <uint32_t kBlock>
KernelTable table(const char* name, Conv conv, Pool max_pool, Pool avg_pool, Pool global_avg_pool) {
  return {name,
          conv,
          kBlock ? packed_floats<kBlock> : nullptr,
          kBlock ? pack<kBlock> : nullptr,
          kBlock,
          max_pool,
          avg_pool,
          global_avg_pool,
          shoal_add_nhwc_f32__ref,
          shoal_activation_nhwc_f32__ref,
          shoal_softmax_nhwc_f32__ref,
          shoal_concat_nhwc_f32__ref,
          nullptr};
}

// A backend's entry: the backend, and the reference kernels for what it declines.
[[maybe_unused]] KernelTable backend_table(const char* name, const Backend* backend) {
  KernelTable t = ref_kernels();
  t.name = name;
  t.backend = backend;
  return t;
}

}  // namespace

const KernelTable& ref_kernels() {
  static const KernelTable t = table<0>("ref", shoal_conv2d_nhwc_f32__ref, shoal_maxpool_nhwc_f32__ref,
                                        shoal_avgpool_nhwc_f32__ref, shoal_global_avgpool_nhwc_f32__ref);
  return t;
}

std::vector<const KernelTable*> available_kernels() {
  std::vector<const KernelTable*> tables = {&ref_kernels()};
#if SHOAL_HAVE_X86_KERNELS
  static const KernelTable avx2 =
      table<kAvx2Block>("avx2", shoal_conv2d_nhwc_f32_oc8__avx2, shoal_maxpool_nhwc_f32__avx2,
                        shoal_avgpool_nhwc_f32__avx2, shoal_global_avgpool_nhwc_f32__avx2);
  static const KernelTable avx512 =
      table<kAvx512Block>("avx512", shoal_conv2d_nhwc_f32_oc16__avx512, shoal_maxpool_nhwc_f32__avx512,
                          shoal_avgpool_nhwc_f32__avx512, shoal_global_avgpool_nhwc_f32__avx512);
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) tables.push_back(&avx2);
  if (__builtin_cpu_supports("avx512f")) tables.push_back(&avx512);
#endif
#if SHOAL_HAVE_NEON_KERNELS
  static const KernelTable neon =
      table<kNeonBlock>("neon", shoal_conv2d_nhwc_f32_oc4__neon, shoal_maxpool_nhwc_f32__neon,
                        shoal_avgpool_nhwc_f32__neon, shoal_global_avgpool_nhwc_f32__neon);
  tables.push_back(&neon);  // every aarch64 CPU has NEON
#endif
#if SHOAL_HAVE_XNNPACK
  // XNNPACK's operators run convolutions and pooling; what it declines runs shoal's reference.
  static const KernelTable xnnpack = backend_table("xnnpack", &xnnpack_backend());
  tables.push_back(&xnnpack);
#endif
#if SHOAL_HAVE_CUDA
  // shoal's CUDA kernels on the GPU; concatenation (declined) on the reference, on the host.
  static const KernelTable cuda = backend_table("cuda", &cuda_backend());
  if (cuda_device_present()) tables.push_back(&cuda);
#endif
  return tables;
}

const KernelTable& best_kernels() {
  static const KernelTable* best = [] {
    const KernelTable* own = nullptr;
    for (const KernelTable* t : available_kernels()) {
      if (!t->backend) own = t;
    }
    return own;
  }();
  return *best;
}

uint32_t weight_block_of(const std::string& backend) {
  if (backend == "avx2") return kAvx2Block;
  if (backend == "avx512") return kAvx512Block;
  if (backend == "neon") return kNeonBlock;
  return 0;
}

const KernelTable* find_kernels(const std::string& name) {
  for (const KernelTable* t : available_kernels()) {
    if (name == t->name) return t;
  }
  return nullptr;
}

}  // namespace shoal
