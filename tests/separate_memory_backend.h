// A backend with memory of its own, for the engine's copies between host and device where no
// GPU is at hand: its arena and weights live in its own allocation (filled with NaN, so a
// tensor the engine forgot to copy poisons the result), copies are memcpy, and its operators
// are shoal's reference kernels run on its own memory. It declines pooling and convolutions
// with 4 or fewer output channels, so every model crosses between the sides, at some subnets
// more often than at others. A test double for a GPU's memory, not a backend to ship.
#ifndef SHOAL_TESTS_SEPARATE_MEMORY_BACKEND_H_
#define SHOAL_TESTS_SEPARATE_MEMORY_BACKEND_H_

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

#include "ref/ref.h"
#include "shoal/backend.h"

namespace shoal::testing {

class SeparateMemoryContext final : public BackendContext {
 public:
  ~SeparateMemoryContext() override {
    for (void* p : blocks_) std::free(p);
  }
  Result<void*> allocate(size_t bytes) override {
    void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!p) return Status(StatusCode::kIo, "out of memory");
    float* f = static_cast<float*>(p);
    for (size_t i = 0; i < bytes / sizeof(float); ++i) f[i] = std::numeric_limits<float>::quiet_NaN();
    blocks_.push_back(p);
    return p;
  }
  Status copy_in(void* device, const void* host, size_t bytes) override {
    ++copies;
    std::memcpy(device, host, bytes);
    return Status::ok();
  }
  Status copy_out(void* host, const void* device, size_t bytes) override {
    ++copies;
    std::memcpy(host, device, bytes);
    return Status::ok();
  }
  Status synchronize() override {
    ++syncs;
    return Status::ok();
  }
  size_t held_bytes() const override { return held; }
  int copies = 0, syncs = 0;
  size_t held = 0;

 private:
  std::vector<void*> blocks_;
};

// A reference kernel call as an operator.
template <typename Fn>
Result<std::unique_ptr<Operator>> ref_operator(Fn fn) {
  return make_operator([fn] {
    fn();
    return Status::ok();
  });
}

class SeparateMemoryBackend final : public Backend {
 public:
  const char* name() const override { return "separate-memory"; }
  bool host_memory() const override { return false; }
  Result<std::unique_ptr<BackendContext>> context(const ContextOptions&) const override {
    return std::unique_ptr<BackendContext>(new SeparateMemoryContext);
  }
  Result<std::unique_ptr<Operator>> prepare(BackendContext& base, const Layer& l, const void*) const override {
    SeparateMemoryContext& ctx = static_cast<SeparateMemoryContext&>(base);
    const float* x = static_cast<const float*>(l.x);
    const float* b = static_cast<const float*>(l.b);
    float* y = static_cast<float*>(l.y);
    switch (l.op) {
      case fb::OpType::Conv2d:
      case fb::OpType::Linear: {
        const shoal_conv2d_params p = l.conv;
        if (p.out.hi - p.out.lo <= 4) return std::unique_ptr<Operator>();
        // "Uploads" the layer's full-width weights and this subnet's affine set.
        const size_t taps = size_t{p.win.kernel_h} * p.win.kernel_w;
        const size_t w_floats = size_t{p.out.stride} * taps * p.w_in_stride;
        std::vector<float> w(l.weights, l.weights + w_floats), sc, sh;
        if (l.scale) sc.assign(l.scale, l.scale + p.out.stride);
        if (l.shift) sh.assign(l.shift, l.shift + p.out.stride);
        ctx.held += (w.size() + sc.size() + sh.size()) * sizeof(float);
        return ref_operator([p, x, y, w, sc, sh] {
          shoal_conv2d_nhwc_f32__ref(&p, x, w.data(), sc.empty() ? nullptr : sc.data(),
                                     sh.empty() ? nullptr : sh.data(), y);
        });
      }
      case fb::OpType::Add: {
        const shoal_eltwise_params p = l.elt;
        return ref_operator([p, x, b, y] { shoal_add_nhwc_f32__ref(&p, x, b, y); });
      }
      case fb::OpType::Activation: {
        const shoal_eltwise_params p = l.elt;
        return ref_operator([p, x, y] { shoal_activation_nhwc_f32__ref(&p, x, y); });
      }
      case fb::OpType::Softmax: {
        const shoal_eltwise_params p = l.elt;
        return ref_operator([p, x, y] { shoal_softmax_nhwc_f32__ref(&p, x, y); });
      }
      default: return std::unique_ptr<Operator>();  // pooling and concatenation
    }
  }
};

inline const Backend& separate_memory_backend() {
  static const SeparateMemoryBackend backend;
  return backend;
}

}  // namespace shoal::testing

#endif  // SHOAL_TESTS_SEPARATE_MEMORY_BACKEND_H_
