// Backends: where layers run besides shoal's own CPU kernels (XNNPACK, a GPU), and the memory
// they run in.
//
// The engine plans one activation arena for the largest sub-network, in host memory, where
// shoal's kernels run (kernel_table.h). A backend prepares one operator per (layer, subnet)
// at create() and declines (returns a null operator) what it does not run; the engine runs
// those on the kernel table, so a backend "supports" exactly the (layer, subnet) pairs it
// returned operators for. A backend whose memory is the host's (XNNPACK) computes in the
// engine's arena. One with memory of its own (a GPU) gets an arena of the same layout from its
// context, and the engine copies a tensor between the two wherever a layer on one side reads a
// tensor made on the other (Engine::transfer_bytes counts them); all of it is allocated at
// create(), so run() allocates nothing on either side.
#ifndef SHOAL_BACKEND_H_
#define SHOAL_BACKEND_H_

#include <cstddef>
#include <memory>

#include "shoal/kernels/params.h"
#include "shoal/status.h"

namespace shoal {

// One prepared layer at one subnet. A device backend may only enqueue the work: the engine
// calls BackendContext::synchronize before it reads the result on the host.
class Operator {
 public:
  virtual ~Operator() = default;
  virtual Status run() = 0;
};

// An operator that calls `run` (a callable returning Status): what most backends need.
template <typename Run>
class CallOperator final : public Operator {
 public:
  explicit CallOperator(Run run) : run_(run) {}
  Status run() override { return run_(); }

 private:
  Run run_;
};

template <typename Run>
Result<std::unique_ptr<Operator>> make_operator(Run run) {
  return std::unique_ptr<Operator>(new CallOperator<Run>(run));
}

// Per-engine state of a backend: its threads, or its device memory and stream. It owns what it
// allocates and frees it when the engine goes.
class BackendContext {
 public:
  virtual ~BackendContext() = default;
  // Device memory (backends whose host_memory() is false): `bytes`, 64-byte aligned, owned by
  // this context. Copies may be asynchronous; synchronize() waits for them and every operator.
  // (Inline, like every virtual here: core is built without RTTI and its users may not be.)
  virtual Result<void*> allocate(size_t /*bytes*/) { return in_host_memory(); }
  virtual Status copy_in(void* /*device*/, const void* /*host*/, size_t /*bytes*/) { return in_host_memory(); }
  virtual Status copy_out(void* /*host*/, const void* /*device*/, size_t /*bytes*/) { return in_host_memory(); }
  virtual Status synchronize() { return Status::ok(); }

 private:
  static Status in_host_memory() {
    return Status(StatusCode::kUnsupported, "this backend computes in host memory and has no memory of its own");
  }
};

enum class PoolKind { kMax, kAverage, kGlobalAverage };

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  // True when the backend computes in host memory (on the engine's arena, no copies).
  virtual bool host_memory() const = 0;
  virtual Result<std::unique_ptr<BackendContext>> context(unsigned threads) const = 0;
  // Bytes the backend holds now, in this process, besides the arena: its operators' weights
  // and buffers (on the device, for a device backend).
  virtual size_t live_bytes() const = 0;
  // Operators over pointers into the backend's arena (the engine's, or its own): `x`/`y` are
  // channel 0 of pixel 0; the params carry the subnet's channel ranges and full-capacity
  // strides. `ohwi`, `scale`, `shift` are the model's full-width host buffers (scale/shift at
  // the subnet's affine set). A null operator declines: that layer runs on the kernel table.
  virtual Result<std::unique_ptr<Operator>> conv2d(BackendContext& ctx, const shoal_conv2d_params& p,
                                                   const float* ohwi, const float* scale, const float* shift,
                                                   const float* x, float* y) const = 0;
  virtual Result<std::unique_ptr<Operator>> pool(BackendContext& ctx, PoolKind kind, const shoal_pool_params& p,
                                                 const float* x, float* y) const = 0;
  // Elementwise layers: declined unless a backend runs them (a device backend should, or every
  // residual add costs two copies).
  virtual Result<std::unique_ptr<Operator>> add(BackendContext&, const shoal_eltwise_params&, const float*,
                                                const float*, float*) const {
    return std::unique_ptr<Operator>();
  }
  virtual Result<std::unique_ptr<Operator>> activation(BackendContext&, const shoal_eltwise_params&, const float*,
                                                       float*) const {
    return std::unique_ptr<Operator>();
  }
  virtual Result<std::unique_ptr<Operator>> softmax(BackendContext&, const shoal_eltwise_params&, const float*,
                                                    float*) const {
    return std::unique_ptr<Operator>();
  }
};

}  // namespace shoal

#endif  // SHOAL_BACKEND_H_
