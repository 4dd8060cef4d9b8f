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

namespace shoal {
namespace {

using Conv = void (*)(const shoal_conv2d_params*, const float*, const float*, const float*, const float*, float*);
using Pool = void (*)(const shoal_pool_params*, const float*, float*);

// Elementwise ops (add, activation, softmax) are memory-bound and run the reference loops,
// which the compiler vectorises, on every backend.
KernelTable table(const char* name, Conv conv, size_t (*packed_floats)(const shoal_conv2d_params*, uint32_t),
                  void (*pack)(const shoal_conv2d_params*, uint32_t, const float*, float*), Pool max_pool,
                  Pool avg_pool, Pool global_avg_pool) {
  return {name,
          conv,
          packed_floats,
          pack,
          max_pool,
          avg_pool,
          global_avg_pool,
          shoal_add_nhwc_f32__ref,
          shoal_activation_nhwc_f32__ref,
          shoal_softmax_nhwc_f32__ref,
          nullptr};
}

template <uint32_t kBlock>
size_t packed_floats(const shoal_conv2d_params* p, uint32_t cout) {
  return shoal_conv2d_packed_floats(p, cout, kBlock);
}
template <uint32_t kBlock>
void pack(const shoal_conv2d_params* p, uint32_t cout, const float* w, float* out) {
  shoal_conv2d_pack_oc_blocks(p, cout, kBlock, w, out);
}

}  // namespace

const KernelTable& ref_kernels() {
  static const KernelTable t = table("ref", shoal_conv2d_nhwc_f32__ref, nullptr, nullptr, shoal_maxpool_nhwc_f32__ref,
                                     shoal_avgpool_nhwc_f32__ref, shoal_global_avgpool_nhwc_f32__ref);
  return t;
}

std::vector<const KernelTable*> available_kernels() {
  std::vector<const KernelTable*> tables = {&ref_kernels()};
#if SHOAL_HAVE_X86_KERNELS
  static const KernelTable avx2 =
      table("avx2", shoal_conv2d_nhwc_f32_oc8__avx2, packed_floats<8>, pack<8>, shoal_maxpool_nhwc_f32__avx2,
            shoal_avgpool_nhwc_f32__avx2, shoal_global_avgpool_nhwc_f32__avx2);
  static const KernelTable avx512 =
      table("avx512", shoal_conv2d_nhwc_f32_oc16__avx512, packed_floats<16>, pack<16>, shoal_maxpool_nhwc_f32__avx512,
            shoal_avgpool_nhwc_f32__avx512, shoal_global_avgpool_nhwc_f32__avx512);
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) tables.push_back(&avx2);
  if (__builtin_cpu_supports("avx512f")) tables.push_back(&avx512);
#endif
#if SHOAL_HAVE_NEON_KERNELS
  static const KernelTable neon =
      table("neon", shoal_conv2d_nhwc_f32_oc4__neon, packed_floats<4>, pack<4>, shoal_maxpool_nhwc_f32__neon,
            shoal_avgpool_nhwc_f32__neon, shoal_global_avgpool_nhwc_f32__neon);
  tables.push_back(&neon);  // every aarch64 CPU has NEON
#endif
#if SHOAL_HAVE_XNNPACK
  // XNNPACK's operators run convolutions and pooling; what it declines runs shoal's reference.
  static const KernelTable xnnpack = [] {
    KernelTable t = ref_kernels();
    t.name = "xnnpack";
    t.operators = &xnnpack_backend();
    return t;
  }();
  tables.push_back(&xnnpack);
#endif
  return tables;
}

const KernelTable& best_kernels() {
  static const KernelTable* best = [] {
    const KernelTable* own = nullptr;
    for (const KernelTable* t : available_kernels()) {
      if (!t->operators) own = t;
    }
    return own;
  }();
  return *best;
}

const KernelTable* find_kernels(const std::string& name) {
  for (const KernelTable* t : available_kernels()) {
    if (name == t->name) return t;
  }
  return nullptr;
}

}  // namespace shoal
