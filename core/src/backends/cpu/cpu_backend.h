// shoal's own CPU kernels (one set of kernels/cpu_kernels.inc) as a backend: host memory,
// one packed copy of each convolution's full-width weights in the engine's memory (shared by
// every subnet), layers cut into bands of output rows over the context's threads, and
// operators that run any part of a subnet's channels (narrows()).
#ifndef SHOAL_CORE_BACKENDS_CPU_CPU_BACKEND_H_
#define SHOAL_CORE_BACKENDS_CPU_CPU_BACKEND_H_

#include "shoal/backend.h"
#include "shoal/cpu_kernels.h"

namespace shoal {

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(const CpuKernels& kernels) : kernels_(kernels) {}
  const char* name() const override { return kernels_.name; }
  bool host_memory() const override { return true; }
  bool narrows() const override { return true; }
  uint32_t weight_block() const override { return kernels_.weight_block; }
  const CpuKernels* cpu_kernels() const override { return &kernels_; }
  Result<std::unique_ptr<BackendContext>> context(const ContextOptions& options) const override;
  size_t layer_bytes(const Layer& layer) const override;
  void pack(const Layer& layer, void* layer_memory) const override;
  Result<std::unique_ptr<Operator>> prepare(BackendContext& ctx, const Layer& layer,
                                            const void* layer_memory) const override;

 private:
  CpuKernels kernels_;
};

}  // namespace shoal

#endif  // SHOAL_CORE_BACKENDS_CPU_CPU_BACKEND_H_
