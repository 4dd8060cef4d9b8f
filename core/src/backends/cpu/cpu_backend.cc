#include "backends/cpu/cpu_backend.h"

#include <algorithm>
#include <new>

#include "common/pack_conv2d.h"
#include "shoal/concat_order.h"
#if SHOAL_HAVE_THREADS
#include "shoal/thread_pool.h"
#endif

namespace shoal {
namespace {

// Output rows [oy0, oy1) of a windowed layer as a layer of its own: both pointers moved to the
// band's first rows, the top padding what is left of it above the band.
struct RowBand {
  shoal_plane in, out;
  shoal_window win;
  size_t x_offset, y_offset;  // floats
};

RowBand row_band(const shoal_plane& in, const shoal_plane& out, const shoal_window& win, uint32_t oy0,
                 uint32_t oy1) {
  RowBand b{in, out, win, 0, size_t{oy0} * out.w * out.stride};
  b.out.h = oy1 - oy0;
  const int64_t first = int64_t{oy0} * win.stride_h - win.pad_top;  // first input row the band reads
  if (first > 0) {
    const uint32_t skip = static_cast<uint32_t>(std::min<int64_t>(first, in.h));
    b.x_offset = size_t{skip} * in.w * in.stride;
    b.in.h = in.h - skip;
    b.win.pad_top = 0;
  } else {
    b.win.pad_top = static_cast<uint32_t>(-first);
  }
  return b;
}

// With threads > 1 a layer is cut into bands of output rows, a few per thread, where each band
// is worth at least `min_band_work` multiply-adds (handing work to a thread costs about a
// microsecond); the bands depend only on the layer, so results are identical run to run (and
// equal to one thread's: a band computes each output exactly as a whole layer would).
class CpuContext final : public BackendContext {
 public:
  explicit CpuContext(uint64_t min_band_work) : min_band_work_(min_band_work) {}

  template <typename Band>
  void for_row_bands(uint32_t rows, uint64_t work, Band& band) {
    const uint64_t worth = min_band_work_ ? std::max<uint64_t>(1, work / min_band_work_) : rows;
    // A few bands per thread, claimed as threads come free, so a thread that starts late (a
    // busy core) does not hold the layer up.
#if SHOAL_HAVE_THREADS
    const uint32_t bands =
        pool ? static_cast<uint32_t>(std::min<uint64_t>({uint64_t{kBandsPerThread} * pool->threads(), rows, worth}))
             : 1;
    if (bands <= 1) return band(0, rows);
    auto task = [&](uint32_t i) { band(rows * i / bands, rows * (i + 1) / bands); };
    pool->run(bands, task);
#else
    (void)worth;
    band(0, rows);
#endif
  }

#if SHOAL_HAVE_THREADS
  std::unique_ptr<ThreadPool> pool;  // threads > 1
#endif

 private:
  static constexpr uint32_t kBandsPerThread = 4;
  uint64_t min_band_work_;
};

bool is_conv(fb::OpType op) { return op == fb::OpType::Conv2d || op == fb::OpType::Linear; }

// One layer at one subnet. run() sets the channels and runs the kernel over row bands.
class CpuOperator final : public Operator {
 public:
  CpuOperator(const Layer& l, const CpuKernels& k, CpuContext& ctx, const float* w)
      : l_(l), k_(k), ctx_(ctx), w_(w) {}

  Status run(const ActiveChannels& c) override {
    const float* a = static_cast<const float*>(l_.x);
    const float* b = static_cast<const float*>(l_.b);
    float* y = static_cast<float*>(l_.y);
    switch (l_.op) {
      case fb::OpType::Conv2d:
      case fb::OpType::Linear: {
        shoal_conv2d_params& conv = l_.conv;
        conv.in.lo = c.in_lo, conv.in.hi = c.in_hi, conv.out.lo = c.out_lo, conv.out.hi = c.out_hi;
        auto band = [&](uint32_t oy0, uint32_t oy1) {
          const RowBand rb = row_band(conv.in, conv.out, conv.win, oy0, oy1);
          shoal_conv2d_params p = conv;
          p.in = rb.in, p.out = rb.out, p.win = rb.win;
          k_.conv2d(&p, a + rb.x_offset, w_, l_.scale, l_.shift, y + rb.y_offset);
        };
        const uint64_t taps = uint64_t{conv.win.kernel_h} * conv.win.kernel_w;
        const uint64_t work = uint64_t{conv.out.h} * conv.out.w * (c.out_hi - c.out_lo) * taps *
                              (conv.depthwise ? 1 : c.in_hi - c.in_lo);
        ctx_.for_row_bands(conv.out.h, work, band);
        break;
      }
      case fb::OpType::MaxPool:
      case fb::OpType::AvgPool: {
        shoal_pool_params& pool = l_.pool;
        pool.in.lo = pool.out.lo = c.out_lo;
        pool.in.hi = pool.out.hi = c.out_hi;
        auto kernel = l_.op == fb::OpType::MaxPool ? k_.max_pool : k_.avg_pool;
        auto band = [&](uint32_t oy0, uint32_t oy1) {
          const RowBand rb = row_band(pool.in, pool.out, pool.win, oy0, oy1);
          shoal_pool_params p = pool;
          p.in = rb.in, p.out = rb.out, p.win = rb.win;
          kernel(&p, a + rb.x_offset, y + rb.y_offset);
        };
        const uint64_t work =
            uint64_t{pool.out.h} * pool.out.w * (c.out_hi - c.out_lo) * pool.win.kernel_h * pool.win.kernel_w;
        ctx_.for_row_bands(pool.out.h, work, band);
        break;
      }
      case fb::OpType::GlobalAvgPool:
        l_.pool.in.lo = l_.pool.out.lo = c.out_lo;
        l_.pool.in.hi = l_.pool.out.hi = c.out_hi;
        k_.global_avg_pool(&l_.pool, a, y);
        break;
      case fb::OpType::Add:
      case fb::OpType::Activation: {
        l_.elt.lo = c.out_lo, l_.elt.hi = c.out_hi;
        auto band = [&](uint32_t r0, uint32_t r1) {
          shoal_eltwise_params p = l_.elt;
          p.h = r1 - r0;
          const size_t pixels = size_t{r0} * p.w;
          if (l_.op == fb::OpType::Add) {
            k_.add(&p, a + pixels * p.a_stride, b + pixels * p.b_stride, y + pixels * p.y_stride);
          } else {
            k_.activation(&p, a + pixels * p.a_stride, y + pixels * p.y_stride);
          }
        };
        ctx_.for_row_bands(l_.elt.h, uint64_t{l_.elt.h} * l_.elt.w * (c.out_hi - c.out_lo), band);
        break;
      }
      case fb::OpType::Softmax:
        l_.elt.lo = c.out_lo, l_.elt.hi = c.out_hi;
        k_.softmax(&l_.elt, a, y);
        break;
      case fb::OpType::Concat: {
        const uint32_t* strides = l_.x_strides;
        auto band = [&](uint32_t r0, uint32_t r1) {
          const float* x[kMaxConcatInputs];
          const size_t pixel = size_t{r0} * l_.elt.w;
          for (uint32_t i = 0; i < l_.inputs; ++i) x[i] = static_cast<const float*>(l_.xs[i]) + pixel * strides[i];
          shoal_concat_params p = l_.concat;
          p.pixels = (r1 - r0) * l_.elt.w, p.lo = c.out_lo, p.hi = c.out_hi;
          k_.concat(&p, l_.runs, x, strides, y + pixel * p.y_stride);
        };
        ctx_.for_row_bands(l_.elt.h, uint64_t{l_.elt.h} * l_.elt.w * (c.out_hi - c.out_lo), band);
        break;
      }
    }
    return Status::ok();
  }

 private:
  Layer l_;
  const CpuKernels& k_;
  CpuContext& ctx_;
  const float* w_;  // packed, prepacked at export, or the model's OHWI weights
};

}  // namespace

Result<std::unique_ptr<BackendContext>> CpuBackend::context(const ContextOptions& options) const {
  std::unique_ptr<CpuContext> ctx(new (std::nothrow) CpuContext(options.min_band_work));
  if (!ctx) return Status(StatusCode::kOutOfMemory, "out of memory creating a CPU backend context");
#if SHOAL_HAVE_THREADS
  if (options.threads > 1) {
    ctx->pool.reset(new (std::nothrow) ThreadPool(options.threads));
    if (!ctx->pool) return Status(StatusCode::kOutOfMemory, "out of memory creating a thread pool");
  }
#else
  if (options.threads > 1) {
    return Status(StatusCode::kUnsupported, "this build of shoal has no threads (SHOAL_THREADS=OFF): use threads = 1");
  }
#endif
  return std::unique_ptr<BackendContext>(std::move(ctx));
}

size_t CpuBackend::layer_bytes(const Layer& l) const {
  if (!is_conv(l.op) || !kernels_.weight_block || l.prepacked) return 0;
  const size_t floats = shoal_conv2d_packed_floats(&l.conv, l.conv.out.stride, kernels_.weight_block);
  return (floats * sizeof(float) + SHOAL_TENSOR_ALIGNMENT - 1) / SHOAL_TENSOR_ALIGNMENT * SHOAL_TENSOR_ALIGNMENT;
}

void CpuBackend::pack(const Layer& l, void* layer_memory) const {
  if (layer_bytes(l) == 0) return;
  shoal_conv2d_pack_oc_blocks(&l.conv, l.conv.out.stride, kernels_.weight_block, l.weights,
                              static_cast<float*>(layer_memory));
}

Result<std::unique_ptr<Operator>> CpuBackend::prepare(BackendContext& ctx, const Layer& l,
                                                      const void* layer_memory) const {
  if (!l.all_f32()) return std::unique_ptr<Operator>();  // no integer or half kernels yet
  const float* w = l.weights;
  if (is_conv(l.op) && kernels_.weight_block) {
    w = l.prepacked ? l.prepacked : static_cast<const float*>(layer_memory);
  }
  std::unique_ptr<Operator> op(new (std::nothrow) CpuOperator(l, kernels_, static_cast<CpuContext&>(ctx), w));
  if (!op) return Status(StatusCode::kOutOfMemory, "out of memory creating an operator");
  return op;
}

}  // namespace shoal
