// Backends that run prepared operators instead of kernels over channel ranges (XNNPACK).
//
// Such a library cannot slice channels at run time, so the engine asks it at create() for
// one operator per layer and sub-network, set up on the layer's fixed places in the arena
// (pointers at the active range's first channel, pixel strides at the full capacity). An
// operator the backend declines (returns null) runs on the kernel table's function instead.
#ifndef SHOAL_OPERATOR_BACKEND_H_
#define SHOAL_OPERATOR_BACKEND_H_

#include <memory>

#include "shoal/kernels/params.h"
#include "shoal/status.h"

namespace shoal {

class Operator {
 public:
  virtual ~Operator() = default;
  virtual Status run() = 0;
};

// Per-engine state of a backend (its thread pool).
class BackendContext {
 public:
  virtual ~BackendContext() = default;
};

enum class PoolKind { kMax, kAverage, kGlobalAverage };

class OperatorBackend {
 public:
  virtual ~OperatorBackend() = default;
  virtual Result<std::unique_ptr<BackendContext>> context(unsigned threads) const = 0;
  // Bytes the library holds now, in this process (its operators' packed weights and buffers).
  virtual size_t live_bytes() const = 0;
  // `p` has the subnet's ranges set; `ohwi`, `scale`, `shift` are the full-width model
  // buffers (scale/shift already at the subnet's affine set), `x`/`y` channel 0 of pixel 0.
  virtual Result<std::unique_ptr<Operator>> conv2d(BackendContext& ctx, const shoal_conv2d_params& p,
                                                   const float* ohwi, const float* scale, const float* shift,
                                                   const float* x, float* y) const = 0;
  virtual Result<std::unique_ptr<Operator>> pool(BackendContext& ctx, PoolKind kind, const shoal_pool_params& p,
                                                 const float* x, float* y) const = 0;
};

}  // namespace shoal

#endif  // SHOAL_OPERATOR_BACKEND_H_
