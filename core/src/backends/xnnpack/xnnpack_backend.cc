#include "backends/xnnpack/xnnpack_backend.h"

#include <xnnpack.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

namespace shoal {
namespace {

// XNNPACK allocates through this, so the bytes its operators hold (packed weights,
// indirection buffers) are counted by the context that created them: a context points
// t_counter at its own count while it creates operators, and every block carries that
// counter, its size and its header length just before the pointer XNNPACK gets, so freeing it
// later (on any thread) takes it off the right count. Blocks allocated outside a context
// (XNNPACK's own tables) count nowhere.
thread_local std::atomic<size_t>* t_counter = nullptr;

struct BlockHeader {
  std::atomic<size_t>* counter;
  size_t header;
  size_t size;
};
constexpr size_t kHeader = 32;  // >= sizeof(BlockHeader), a multiple of 16
static_assert(sizeof(BlockHeader) <= kHeader, "the header fits");

BlockHeader* header_of(void* p) { return reinterpret_cast<BlockHeader*>(static_cast<char*>(p) - sizeof(BlockHeader)); }

void* place(void* base, size_t header, size_t size, std::atomic<size_t>* counter) {
  char* p = static_cast<char*>(base) + header;
  *header_of(p) = BlockHeader{counter, header, size};
  if (counter) *counter += size;
  return p;
}

void* allocate_for(std::atomic<size_t>* counter, size_t size) {
  void* base = std::malloc(size + kHeader);
  return base ? place(base, kHeader, size, counter) : nullptr;
}

void* counted_allocate(void*, size_t size) { return allocate_for(t_counter, size); }

void* counted_aligned_allocate(void*, size_t alignment, size_t size) {
  const size_t header = alignment < kHeader ? kHeader : alignment;
  void* base = nullptr;
  if (posix_memalign(&base, header, size + header) != 0) return nullptr;
  return place(base, header, size, t_counter);
}

void counted_deallocate(void*, void* p) {
  if (!p) return;
  const BlockHeader h = *header_of(p);
  if (h.counter) *h.counter -= h.size;
  std::free(static_cast<char*>(p) - h.header);
}

// The grown block counts where the old one did, whichever thread grows it.
void* counted_reallocate(void* context, void* p, size_t size) {
  if (!p) return counted_allocate(context, size);
  void* fresh = allocate_for(header_of(p)->counter, size);
  if (!fresh) return nullptr;
  const size_t old = header_of(p)->size;
  std::memcpy(fresh, p, old < size ? old : size);
  counted_deallocate(context, p);
  return fresh;
}

const xnn_allocator kCountingAllocator = {nullptr, counted_allocate, counted_reallocate, counted_deallocate,
                                          counted_aligned_allocate, counted_deallocate};

class XnnContext final : public BackendContext {
 public:
  explicit XnnContext(pthreadpool_t pool) : pool(pool) {}
  ~XnnContext() override {
    if (pool) pthreadpool_destroy(pool);
  }
  size_t held_bytes() const override { return held.load(); }
  pthreadpool_t pool;
  std::atomic<size_t> held{0};  // outlives its operators: the engine frees them first
};

// What XNNPACK allocates while one is alive counts on `ctx`.
class CountOn {
 public:
  explicit CountOn(XnnContext& ctx) : previous_(t_counter) { t_counter = &ctx.held; }
  ~CountOn() { t_counter = previous_; }

 private:
  std::atomic<size_t>* previous_;
};

class XnnOperator final : public Operator {
 public:
  explicit XnnOperator(xnn_operator_t op, pthreadpool_t pool) : op_(op), pool_(pool) {}
  ~XnnOperator() override { xnn_delete_operator(op_); }
  Status run(const ActiveChannels&) override {
    if (xnn_run_operator(op_, pool_) != xnn_status_success) {
      return Status(StatusCode::kIo, "an XNNPACK operator failed to run");
    }
    return Status::ok();
  }

 private:
  xnn_operator_t op_;
  pthreadpool_t pool_;
};

// XNNPACK states padding on all four sides; shoal states top/left and the output size.
uint32_t pad_after(uint32_t in, uint32_t out, uint32_t kernel, uint32_t stride, uint32_t dilation,
                   uint32_t before) {
  const int64_t need = int64_t{out - 1} * stride + int64_t{kernel - 1} * dilation + 1 - in - before;
  return need > 0 ? static_cast<uint32_t>(need) : 0;
}

// Whether XNNPACK, given that padding, computes exactly shoal's output size.
bool same_output(const shoal_plane& in, const shoal_plane& out, const shoal_window& w, uint32_t pb, uint32_t pr) {
  const int64_t eh = int64_t{w.kernel_h - 1} * w.dilation_h + 1, ew = int64_t{w.kernel_w - 1} * w.dilation_w + 1;
  return (int64_t{in.h} + w.pad_top + pb - eh) / w.stride_h + 1 == out.h &&
         (int64_t{in.w} + w.pad_left + pr - ew) / w.stride_w + 1 == out.w;
}

Status failed(const char* what) {
  return Status(StatusCode::kUnsupported, std::string("XNNPACK refused to ") + what);
}

class XnnpackBackend final : public Backend {
 public:
  const char* name() const override { return "xnnpack"; }
  bool host_memory() const override { return true; }
  Result<std::unique_ptr<BackendContext>> context(const ContextOptions& options) const override {
    const unsigned threads = options.threads;
    static const xnn_status init = xnn_initialize(&kCountingAllocator);
    if (init != xnn_status_success) {
      return Status(StatusCode::kUnsupported, "XNNPACK does not run on this CPU");
    }
    pthreadpool_t pool = threads > 1 ? pthreadpool_create(threads) : nullptr;
    if (threads > 1 && !pool) return Status(StatusCode::kIo, "could not start XNNPACK's thread pool");
    std::unique_ptr<BackendContext> ctx(new (std::nothrow) XnnContext(pool));
    if (!ctx) {
      if (pool) pthreadpool_destroy(pool);
      return Status(StatusCode::kOutOfMemory, "out of memory creating an XNNPACK context");
    }
    return ctx;
  }

  Result<std::unique_ptr<Operator>> prepare(BackendContext& base, const Layer& l, const void*) const override {
    if (!l.all_f32()) return std::unique_ptr<Operator>();
    XnnContext& ctx = static_cast<XnnContext&>(base);
    const CountOn count(ctx);
    const float* x = static_cast<const float*>(l.x);
    float* y = static_cast<float*>(l.y);
    switch (l.op) {
      case fb::OpType::Conv2d:
      case fb::OpType::Linear: return conv2d(ctx, l.conv, l.weights, l.scale, l.shift, x, y);
      case fb::OpType::MaxPool: return pool(ctx, PoolKind::kMax, l.pool, x, y);
      case fb::OpType::AvgPool: return pool(ctx, PoolKind::kAverage, l.pool, x, y);
      case fb::OpType::GlobalAvgPool: return pool(ctx, PoolKind::kGlobalAverage, l.pool, x, y);
      default: return std::unique_ptr<Operator>();  // elementwise and concat: shoal's reference
    }
  }

 private:
  enum class PoolKind { kMax, kAverage, kGlobalAverage };

  static Result<std::unique_ptr<Operator>> conv2d(XnnContext& ctx, const shoal_conv2d_params& p, const float* ohwi,
                                                  const float* scale, const float* shift, const float* x, float* y) {
    const shoal_window& w = p.win;
    const uint32_t pb = pad_after(p.in.h, p.out.h, w.kernel_h, w.stride_h, w.dilation_h, w.pad_top);
    const uint32_t pr = pad_after(p.in.w, p.out.w, w.kernel_w, w.stride_w, w.dilation_w, w.pad_left);
    if (!same_output(p.in, p.out, w, pb, pr)) return std::unique_ptr<Operator>();
    // The sub-network's slice of the weights, batch-norm scale folded in, shift as bias.
    const uint32_t nout = p.out.hi - p.out.lo;
    const uint32_t nin = p.depthwise ? 1 : p.in.hi - p.in.lo, ci0 = p.depthwise ? 0 : p.in.lo;
    const size_t taps = size_t{w.kernel_h} * w.kernel_w;
    std::vector<float> kernel(nout * taps * nin), bias(nout);
    for (uint32_t o = 0; o < nout; ++o) {
      const uint32_t co = p.out.lo + o;
      const float s = scale ? scale[co] : 1.0f;
      bias[o] = shift ? shift[co] : 0.0f;
      for (size_t t = 0; t < taps; ++t)
        for (uint32_t i = 0; i < nin; ++i)
          kernel[(o * taps + t) * nin + i] = ohwi[(co * taps + t) * p.w_in_stride + ci0 + i] * s;
    }
    const float lo = p.activation == SHOAL_ACT_NONE ? -INFINITY : 0.0f;
    const float hi = p.activation == SHOAL_ACT_RELU6 ? 6.0f : INFINITY;
    const uint32_t groups = p.depthwise ? nout : 1, group_out = p.depthwise ? 1 : nout;
    xnn_operator_t op = nullptr;
    if (xnn_create_convolution2d_nhwc_f32(w.pad_top, pr, pb, w.pad_left, w.kernel_h, w.kernel_w, w.stride_h,
                                          w.stride_w, w.dilation_h, w.dilation_w, groups, nin, group_out,
                                          p.in.stride, p.out.stride, kernel.data(), bias.data(), lo, hi, 0,
                                          &op) != xnn_status_success) {
      return failed("create a convolution");
    }
    return set_up(op, ctx, xnn_setup_convolution2d_nhwc_f32(op, 1, p.in.h, p.in.w, x + p.in.lo, y + p.out.lo,
                                                            ctx.pool),
                  "set up a convolution");
  }

  static Result<std::unique_ptr<Operator>> pool(XnnContext& ctx, PoolKind kind, const shoal_pool_params& p,
                                                const float* x, float* y) {
    const shoal_window& w = p.win;
    const uint32_t channels = p.out.hi - p.out.lo;
    pthreadpool_t threads = ctx.pool;
    xnn_operator_t op = nullptr;
    if (kind == PoolKind::kGlobalAverage) {
      if (xnn_create_global_average_pooling_nwc_f32(channels, p.in.stride, p.out.stride, -INFINITY, INFINITY, 0,
                                                    &op) != xnn_status_success) {
        return failed("create a global average pooling");
      }
      return set_up(op, ctx,
                    xnn_setup_global_average_pooling_nwc_f32(op, 1, size_t{p.in.h} * p.in.w, x + p.out.lo,
                                                             y + p.out.lo, threads),
                    "set up a global average pooling");
    }
    const uint32_t pb = pad_after(p.in.h, p.out.h, w.kernel_h, w.stride_h, w.dilation_h, w.pad_top);
    const uint32_t pr = pad_after(p.in.w, p.out.w, w.kernel_w, w.stride_w, w.dilation_w, w.pad_left);
    if (!same_output(p.in, p.out, w, pb, pr)) return std::unique_ptr<Operator>();
    // XNNPACK pools windows of at least two pixels: a 1x1 window (an adaptive pool whose input
    // is already its output's size, in an imported network) stays on shoal's kernel.
    if (w.kernel_h * w.kernel_w < 2) return std::unique_ptr<Operator>();
    if (kind == PoolKind::kMax) {
      if (xnn_create_max_pooling2d_nhwc_f32(w.pad_top, pr, pb, w.pad_left, w.kernel_h, w.kernel_w, w.stride_h,
                                            w.stride_w, w.dilation_h, w.dilation_w, channels, p.in.stride,
                                            p.out.stride, -INFINITY, INFINITY, 0, &op) != xnn_status_success) {
        return failed("create a max pooling");
      }
      return set_up(op, ctx,
                    xnn_setup_max_pooling2d_nhwc_f32(op, 1, p.in.h, p.in.w, x + p.out.lo, y + p.out.lo, threads),
                    "set up a max pooling");
    }
    // XNNPACK leaves padding out of the divisor: padded average pooling that counts it
    // (PyTorch's default) stays on shoal's kernel.
    const bool padded = w.pad_top || w.pad_left || pb || pr;
    if ((padded && !p.exclude_padding) || w.dilation_h != 1 || w.dilation_w != 1) {
      return std::unique_ptr<Operator>();
    }
    if (xnn_create_average_pooling2d_nhwc_f32(w.pad_top, pr, pb, w.pad_left, w.kernel_h, w.kernel_w, w.stride_h, w.stride_w, channels,
                                              p.in.stride, p.out.stride, -INFINITY, INFINITY, 0,
                                              &op) != xnn_status_success) {
      return failed("create an average pooling");
    }
    return set_up(op, ctx,
                  xnn_setup_average_pooling2d_nhwc_f32(op, 1, p.in.h, p.in.w, x + p.out.lo, y + p.out.lo, threads),
                  "set up an average pooling");
  }

  static Result<std::unique_ptr<Operator>> set_up(xnn_operator_t op, XnnContext& ctx, xnn_status setup,
                                                  const char* what) {
    std::unique_ptr<Operator> owned(new (std::nothrow) XnnOperator(op, ctx.pool));
    if (!owned) {
      xnn_delete_operator(op);
      return Status(StatusCode::kOutOfMemory, "out of memory creating an operator");
    }
    if (setup != xnn_status_success) return failed(what);
    return owned;
  }
};

}  // namespace

const Backend& xnnpack_backend() {
  static const XnnpackBackend backend;
  return backend;
}

}  // namespace shoal
