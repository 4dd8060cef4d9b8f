#include "backends/cuda/cuda_backend.h"

#include <cuda_runtime_api.h>

#include <new>
#include <string>
#include <vector>

#include "cuda/launch.h"

namespace shoal {
namespace {

Status cuda_error(const char* what, cudaError_t e) {
  return Status(e == cudaErrorMemoryAllocation ? StatusCode::kOutOfMemory : StatusCode::kIo,
                std::string(what) + ": " + cudaGetErrorString(e));
}

class CudaContext final : public BackendContext {
 public:
  ~CudaContext() override {
    if (stream) cudaStreamSynchronize(stream);
    for (const Upload& u : uploads_) cudaFree(u.device);
    for (void* p : blocks_) cudaFree(p);
    if (stream) cudaStreamDestroy(stream);
  }
  // The weights this context uploaded (its arena is the engine's to count).
  size_t held_bytes() const override {
    size_t bytes = 0;
    for (const Upload& u : uploads_) bytes += u.bytes;
    return bytes;
  }
  Result<void*> allocate(size_t bytes) override {
    void* p = nullptr;
    const cudaError_t e = cudaMalloc(&p, bytes);  // 256-byte aligned
    if (e != cudaSuccess) return cuda_error("cudaMalloc", e);
    blocks_.push_back(p);
    return p;
  }
  Status copy_in(void* device, const void* host, size_t bytes) override {
    const cudaError_t e = cudaMemcpyAsync(device, host, bytes, cudaMemcpyHostToDevice, stream);
    return e == cudaSuccess ? Status::ok() : cuda_error("copy to the GPU", e);
  }
  Status copy_out(void* host, const void* device, size_t bytes) override {
    const cudaError_t e = cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, stream);
    return e == cudaSuccess ? Status::ok() : cuda_error("copy from the GPU", e);
  }
  Status synchronize() override {
    const cudaError_t e = cudaStreamSynchronize(stream);
    return e == cudaSuccess ? Status::ok() : cuda_error("the GPU's work", e);
  }
  // The device copy of a model buffer: uploaded once, whichever subnet asks first.
  Result<const float*> upload(const float* host, size_t floats) {
    if (!host) return static_cast<const float*>(nullptr);
    for (const Upload& u : uploads_) {
      if (u.host == host && u.bytes >= floats * sizeof(float)) return static_cast<const float*>(u.device);
    }
    void* p = nullptr;
    cudaError_t e = cudaMalloc(&p, floats * sizeof(float));
    if (e != cudaSuccess) return cuda_error("cudaMalloc for weights", e);
    uploads_.push_back({host, static_cast<float*>(p), floats * sizeof(float)});
    e = cudaMemcpy(p, host, floats * sizeof(float), cudaMemcpyHostToDevice);
    if (e != cudaSuccess) return cuda_error("uploading weights", e);
    return static_cast<const float*>(p);
  }
  cudaStream_t stream = nullptr;

 private:
  struct Upload {
    const float* host;
    float* device;
    size_t bytes;
  };
  std::vector<Upload> uploads_;
  std::vector<void*> blocks_;
};

// Enqueues one launch; a failed launch is an error that says why.
template <typename Launch>
Result<std::unique_ptr<Operator>> launch_operator(Launch launch) {
  return make_operator([launch] {
    if (launch()) return Status::ok();
    return cuda_error("a CUDA kernel failed to launch", cudaGetLastError());
  });
}

class CudaBackend final : public Backend {
 public:
  const char* name() const override { return "cuda"; }
  bool host_memory() const override { return false; }
  Result<std::unique_ptr<BackendContext>> context(const ContextOptions&) const override {
    if (!cuda_device_present()) return Status(StatusCode::kUnsupported, "no CUDA device: use a CPU backend");
    std::unique_ptr<CudaContext> ctx(new (std::nothrow) CudaContext);
    if (!ctx) return Status(StatusCode::kOutOfMemory, "out of memory creating a CUDA context");
    const cudaError_t e = cudaStreamCreateWithFlags(&ctx->stream, cudaStreamNonBlocking);
    if (e != cudaSuccess) return cuda_error("cudaStreamCreate", e);
    return std::unique_ptr<BackendContext>(std::move(ctx));
  }
  Result<std::unique_ptr<Operator>> prepare(BackendContext& base, const Layer& l, const void*) const override {
    if (!l.all_f32()) return std::unique_ptr<Operator>();
    CudaContext& ctx = static_cast<CudaContext&>(base);
    const float* x = static_cast<const float*>(l.x);
    const float* b = static_cast<const float*>(l.b);
    float* y = static_cast<float*>(l.y);
    cudaStream_t stream = ctx.stream;
    switch (l.op) {
      case fb::OpType::Conv2d:
      case fb::OpType::Linear: return conv2d(ctx, l.conv, l.weights, l.scale, l.shift, x, y);
      case fb::OpType::MaxPool:
      case fb::OpType::AvgPool: {
        const bool max = l.op == fb::OpType::MaxPool;
        const shoal_pool_params p = l.pool;
        return launch_operator([max, p, x, y, stream] { return cuda::pool(max, p, x, y, stream); });
      }
      case fb::OpType::GlobalAvgPool: {
        const shoal_pool_params p = l.pool;
        return launch_operator([p, x, y, stream] { return cuda::global_avg_pool(p, x, y, stream); });
      }
      case fb::OpType::Add:
      case fb::OpType::Activation: {  // b is null for an activation
        const shoal_eltwise_params p = l.elt;
        return launch_operator([p, x, b, y, stream] { return cuda::eltwise(p, x, b, y, stream); });
      }
      case fb::OpType::Softmax: {
        const shoal_eltwise_params p = l.elt;
        return launch_operator([p, x, y, stream] { return cuda::softmax(p, x, y, stream); });
      }
      case fb::OpType::Concat: return std::unique_ptr<Operator>();  // shoal's reference, on the host
    }
    return std::unique_ptr<Operator>();
  }

 private:
  static Result<std::unique_ptr<Operator>> conv2d(CudaContext& ctx, const shoal_conv2d_params& p, const float* ohwi,
                                                  const float* scale, const float* shift, const float* x, float* y) {
    const size_t taps = size_t{p.win.kernel_h} * p.win.kernel_w;
    Result<const float*> w = ctx.upload(ohwi, size_t{p.out.stride} * taps * p.w_in_stride);
    if (!w.is_ok()) return w.status();
    Result<const float*> sc = ctx.upload(scale, p.out.stride);
    if (!sc.is_ok()) return sc.status();
    Result<const float*> sh = ctx.upload(shift, p.out.stride);
    if (!sh.is_ok()) return sh.status();
    const float *dw = w.value(), *dsc = sc.value(), *dsh = sh.value();
    cudaStream_t stream = ctx.stream;
    return launch_operator([p, x, dw, dsc, dsh, y, stream] { return cuda::conv2d(p, x, dw, dsc, dsh, y, stream); });
  }
};

}  // namespace

bool cuda_device_present() {
  static const bool present = [] {
    int n = 0;
    return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
  }();
  return present;
}

const Backend& cuda_backend() {
  static const CudaBackend backend;
  return backend;
}

}  // namespace shoal
