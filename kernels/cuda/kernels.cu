// shoal's CUDA kernels: one thread per output element, the bodies in thread_bodies.h (tested
// on the CPU against the reference kernels), launched 256 threads a block on the caller's
// stream. Parameters go by value (they are small PODs).
#include <cuda_runtime.h>

#include "cuda/launch.h"
#include "cuda/thread_bodies.h"

namespace shoal {
namespace cuda {
namespace {

constexpr unsigned kThreads = 256;

__device__ size_t thread_index() { return size_t{blockIdx.x} * blockDim.x + threadIdx.x; }

__global__ void conv2d_kernel(shoal_conv2d_params p, const float* x, const float* w, const float* scale,
                              const float* shift, float* y, size_t n) {
  const size_t i = thread_index();
  if (i < n) conv2d_thread(p, x, w, scale, shift, y, i);
}

__global__ void pool_kernel(bool max, shoal_pool_params p, const float* x, float* y, size_t n) {
  const size_t i = thread_index();
  if (i < n) pool_thread(max, p, x, y, i);
}

__global__ void global_avg_pool_kernel(shoal_pool_params p, const float* x, float* y, size_t n) {
  const size_t i = thread_index();
  if (i < n) global_avg_pool_thread(p, x, y, i);
}

__global__ void eltwise_kernel(shoal_eltwise_params p, const float* a, const float* b, float* y, size_t n) {
  const size_t i = thread_index();
  if (i < n) eltwise_thread(p, a, b, y, i);
}

__global__ void softmax_kernel(shoal_eltwise_params p, const float* a, float* y, size_t n) {
  const size_t i = thread_index();
  if (i < n) softmax_thread(p, a, y, i);
}

unsigned blocks(size_t n) { return static_cast<unsigned>((n + kThreads - 1) / kThreads); }

bool launched() { return cudaGetLastError() == cudaSuccess; }

}  // namespace

bool conv2d(const shoal_conv2d_params& p, const float* x, const float* w, const float* scale, const float* shift,
            float* y, void* stream) {
  const size_t n = elements(p.out.h, p.out.w, p.out.lo, p.out.hi);
  if (n == 0) return true;
  conv2d_kernel<<<blocks(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(p, x, w, scale, shift, y, n);
  return launched();
}

bool pool(bool max, const shoal_pool_params& p, const float* x, float* y, void* stream) {
  const size_t n = elements(p.out.h, p.out.w, p.out.lo, p.out.hi);
  if (n == 0) return true;
  pool_kernel<<<blocks(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(max, p, x, y, n);
  return launched();
}

bool global_avg_pool(const shoal_pool_params& p, const float* x, float* y, void* stream) {
  const size_t n = p.out.hi - p.out.lo;
  if (n == 0) return true;
  global_avg_pool_kernel<<<blocks(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(p, x, y, n);
  return launched();
}

bool eltwise(const shoal_eltwise_params& p, const float* a, const float* b, float* y, void* stream) {
  const size_t n = elements(p.h, p.w, p.lo, p.hi);
  if (n == 0) return true;
  eltwise_kernel<<<blocks(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(p, a, b, y, n);
  return launched();
}

bool softmax(const shoal_eltwise_params& p, const float* a, float* y, void* stream) {
  const size_t n = size_t{p.h} * p.w;
  if (n == 0) return true;
  softmax_kernel<<<blocks(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(p, a, y, n);
  return launched();
}

}  // namespace cuda
}  // namespace shoal
