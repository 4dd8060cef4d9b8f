// Where backends are listed: shoal's CPU kernel sets (kernels/cpu_kernels.inc), then the
// optional backends. A new backend is one line here.
#include <string>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "cpu_kernels.h"
#include "ref/ref.h"
#if SHOAL_HAVE_XNNPACK
#include "backends/xnnpack/xnnpack_backend.h"
#endif
#if SHOAL_HAVE_CUDA
#include "backends/cuda/cuda_backend.h"
#endif

namespace shoal {
namespace {

// A kernel set's line expands only in a build that has its ISA.
#define SHOAL_BUILT_ANY(...) __VA_ARGS__
#if SHOAL_HAVE_X86_KERNELS
#define SHOAL_BUILT_X86(...) __VA_ARGS__
#else
#define SHOAL_BUILT_X86(...)
#endif
#if SHOAL_HAVE_NEON_KERNELS
#define SHOAL_BUILT_NEON(...) __VA_ARGS__
#else
#define SHOAL_BUILT_NEON(...)
#endif

std::vector<const Backend*> list_backends() {
  std::vector<const Backend*> list;
#define SHOAL_CPU_KERNELS(name, isa, runs, block, conv2d, maxpool, avgpool, global_avgpool)                     \
  SHOAL_BUILT_##isa({                                                                                             \
    static const CpuBackend backend(CpuKernels{#name, block, conv2d, maxpool, avgpool, global_avgpool,         \
                                               shoal_add_nhwc_f32__ref, shoal_activation_nhwc_f32__ref,          \
                                               shoal_softmax_nhwc_f32__ref, shoal_concat_nhwc_f32__ref});        \
    if (runs) list.push_back(&backend);                                                                          \
  })
#include "cpu_kernels.inc"
#undef SHOAL_CPU_KERNELS
#if SHOAL_HAVE_XNNPACK
  list.push_back(&xnnpack_backend());  // XNNPACK's operators; what it declines runs on "ref"
#endif
#if SHOAL_HAVE_CUDA
  if (cuda_device_present()) list.push_back(&cuda_backend());  // likewise, on the host
#endif
  return list;
}

}  // namespace

std::vector<const Backend*> available_backends() {
  static const std::vector<const Backend*> list = list_backends();
  return list;
}

const Backend* find_backend(const std::string& name) {
  for (const Backend* b : available_backends()) {
    if (name == b->name()) return b;
  }
  return nullptr;
}

const Backend& ref_backend() { return *available_backends().front(); }

const Backend& best_backend() {
  static const Backend* best = [] {
    const Backend* own = nullptr;
    for (const Backend* b : available_backends()) {
      if (b->cpu_kernels()) own = b;
    }
    return own;
  }();
  return *best;
}

std::string backend_names() {
  std::string names;
  for (const Backend* b : available_backends()) names += std::string(names.empty() ? "" : ", ") + b->name();
  return names;
}

uint32_t weight_block_of(const std::string& backend) {
#define SHOAL_CPU_KERNELS(name, isa, runs, block, ...) \
  if (backend == #name) return block;
#include "cpu_kernels.inc"
#undef SHOAL_CPU_KERNELS
  return 0;
}

}  // namespace shoal
