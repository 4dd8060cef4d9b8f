// Backends: what runs a layer (shoal's CPU kernels, XNNPACK, a GPU), and the memory it runs in.
//
// The engine plans one activation arena for the largest sub-network and asks its backend, at
// create(), for one operator per (layer, subnet); the engine's run() is one loop over them.
// A backend declines (returns a null operator) what it does not run, and the engine runs
// that on the reference CPU backend, on the host; so a backend "supports" exactly the
// (layer, subnet) pairs it returned operators for. A backend whose memory is the host's
// (shoal's CPU kernels, XNNPACK) computes in the engine's arena. One with memory of its own
// (a GPU) gets an arena of the same layout from its context, and the engine copies a tensor
// between the two wherever a layer on one side reads a tensor made on the other
// (Engine::transfer_bytes counts them); all of it is allocated at create(), so run()
// allocates nothing on either side.
//
// Adding an op: a case in each backend's prepare() (a backend that has not heard of it
// declines, and the reference CPU backend must run it). Adding a backend: a class here, in a
// folder of its own under core/src/backends/, and one line in core/src/backends/registry.cc.
#ifndef SHOAL_BACKEND_H_
#define SHOAL_BACKEND_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "shoal/kernels/params.h"
#include "shoal/schema/model_generated.h"
#include "shoal/status.h"

namespace shoal {

// The channels a run computes: the subnet's own, or a narrower part of them (one device's
// share of a channel partition, on a backend that narrows()).
struct ActiveChannels {
  uint32_t in_lo, in_hi;    // the layer's (first) input group
  uint32_t out_lo, out_hi;  // its output group
};

// One prepared layer at one subnet. A device backend may only enqueue the work: the engine
// calls BackendContext::synchronize before it reads the result on the host.
class Operator {
 public:
  virtual ~Operator() = default;
  // `active` is the subnet's own ranges unless the backend narrows().
  virtual Status run(const ActiveChannels& active) = 0;
};

// An operator that calls `run` (a callable returning Status, with or without the channels).
template <typename Run>
class CallOperator final : public Operator {
 public:
  explicit CallOperator(Run run) : run_(run) {}
  Status run(const ActiveChannels&) override { return run_(); }

 private:
  Run run_;
};

template <typename Run>
Result<std::unique_ptr<Operator>> make_operator(Run run) {
  std::unique_ptr<Operator> op(new (std::nothrow) CallOperator<Run>(run));
  if (!op) return Status(StatusCode::kOutOfMemory, "out of memory creating an operator");
  return op;
}

// One layer at one subnet, as a backend sees it. The params carry the subnet's channel
// ranges, full-capacity strides and every tensor's element type (shoal_tensor_type); the
// tensor pointers are channel 0 of pixel 0 in the backend's arena (the engine's, or the one
// its context allocated).
struct Layer {
  fb::OpType op = fb::OpType::Conv2d;
  const char* name = "";  // the node's, for errors
  uint32_t node = 0, subnet = 0;
  shoal_conv2d_params conv{};    // Conv2d, Linear
  shoal_pool_params pool{};      // MaxPool, AvgPool, GlobalAvgPool
  shoal_eltwise_params elt{};    // Add, Activation, Softmax; Concat's h, w and y_stride
  shoal_concat_params concat{};  // Concat
  // Concat: its runs and every input's capacity and place (all `concat.runs` and inputs).
  const shoal_concat_run* runs = nullptr;
  const uint32_t* x_strides = nullptr;
  const void* const* xs = nullptr;
  uint32_t inputs = 1;
  // Conv2d and Linear, in host memory: the model's full-width OHWI weights (shared by every
  // subnet), the batch-norm scale and shift at the subnet's affine set (either may be null),
  // and the model's weights packed at export in this backend's weight_block() (or null).
  const float* weights = nullptr;
  const float* scale = nullptr;
  const float* shift = nullptr;
  const float* prepacked = nullptr;
  const void* x = nullptr;  // first input
  const void* b = nullptr;  // second input (Add)
  void* y = nullptr;

  // Whether every tensor the layer touches is f32 (what every kernel shoal has takes).
  bool all_f32() const {
    const shoal_tensor_type* types[] = {&conv.in.type, &conv.out.type, &pool.in.type, &pool.out.type,
                                        &elt.a_type,   &elt.b_type,    &elt.y_type,   &concat.y_type};
    for (const shoal_tensor_type* t : types) {
      if (t->datatype != SHOAL_DATATYPE_F32) return false;
    }
    return true;
  }
};

struct ContextOptions {
  unsigned threads = 1;
  // Work (multiply-adds) worth handing to another thread: shoal's CPU kernels cut a layer
  // into bands of output rows of at least this much.
  uint64_t min_band_work = 200'000;
};

// Per-engine state of a backend: its threads, or its device memory and stream. It owns what it
// allocates and frees it when the engine goes.
class BackendContext {
 public:
  virtual ~BackendContext() = default;
  // Bytes this context's operators hold besides the engine's memory (a backend's own packed
  // weights; on the device, for a device backend), counted by the context itself so two
  // engines built at once on two threads each count their own.
  virtual size_t held_bytes() const { return 0; }
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

struct CpuKernels;

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  // True when the backend computes in host memory (on the engine's arena, no copies).
  virtual bool host_memory() const = 0;
  // True when its operators run at channel ranges narrower than the subnet's (ActiveChannels):
  // what a channel partition (shoal/channel_partition.h) needs.
  virtual bool narrows() const { return false; }
  // The output-channel block its convolution weights are packed in (kernels/common/
  // pack_conv2d.h), 0 for none: a model packed at export for this block (shoal pack) reaches
  // prepare() as Layer::prepacked.
  virtual uint32_t weight_block() const { return 0; }
  // shoal's CPU kernel functions behind this backend, for their twin tests and benchmarks;
  // null for any other backend.
  virtual const CpuKernels* cpu_kernels() const { return nullptr; }
  virtual Result<std::unique_ptr<BackendContext>> context(const ContextOptions& options) const = 0;
  // Host bytes a layer needs in the engine's memory, shared by every subnet (one packed copy
  // of its full-width weights), 64-byte multiples; pack() fills them once, before prepare().
  // The engine plans them with the arena, so Engine::required_bytes counts them.
  virtual size_t layer_bytes(const Layer&) const { return 0; }
  virtual void pack(const Layer&, void* /*layer_memory*/) const {}
  // The operator for one (layer, subnet), or null to decline. `layer_memory` is what pack()
  // filled (null when layer_bytes is 0).
  virtual Result<std::unique_ptr<Operator>> prepare(BackendContext& ctx, const Layer& layer,
                                                    const void* layer_memory) const = 0;
};

// The backends this build has and this CPU runs, reference first: "ref", "avx2", "avx512",
// "neon" (shoal's CPU kernels, kernels/cpu_kernels.inc), then "xnnpack" where built with
// SHOAL_WITH_XNNPACK, and "cuda" where built with SHOAL_WITH_CUDA and a CUDA device is present.
std::vector<const Backend*> available_backends();
// By name, or nullptr.
const Backend* find_backend(const std::string& name);
// shoal's reference kernels: always built, the twin of every other backend, and what runs
// whatever a backend declines.
const Backend& ref_backend();
// shoal's fastest CPU kernels on this CPU (chosen once, by CPUID on x86): the default.
const Backend& best_backend();
// "ref, avx2, ...": the names available_backends() has, for error messages.
std::string backend_names();
// The weight block of any CPU backend shoal has, whether or not this build or CPU runs it
// ("neon" on an x86 machine packing a model for a Pi): 0 for an unknown name or one that
// packs nothing.
uint32_t weight_block_of(const std::string& backend);

}  // namespace shoal

#endif  // SHOAL_BACKEND_H_
