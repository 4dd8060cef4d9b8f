// shoal's CUDA kernels, as host functions that enqueue one layer on a stream: channel-sliced
// like every CPU kernel (params.h; any input and output channel range of one full-width weight
// copy, batch-norm scale/shift and ReLU/ReLU6 fused). Pointers are device memory; `stream` is
// a cudaStream_t. Each returns false when the launch failed (cudaGetLastError says why).
// Plain C++ here, so the backend that calls them compiles without nvcc.
#ifndef SHOAL_KERNELS_CUDA_LAUNCH_H_
#define SHOAL_KERNELS_CUDA_LAUNCH_H_

#include "shoal/kernels/params.h"

namespace shoal {
namespace cuda {

bool conv2d(const shoal_conv2d_params& p, const float* x, const float* w, const float* scale, const float* shift,
            float* y, void* stream);
bool pool(bool max, const shoal_pool_params& p, const float* x, float* y, void* stream);
bool global_avg_pool(const shoal_pool_params& p, const float* x, float* y, void* stream);
// y = act(a + b); b null: y = act(a).
bool eltwise(const shoal_eltwise_params& p, const float* a, const float* b, float* y, void* stream);
bool softmax(const shoal_eltwise_params& p, const float* a, float* y, void* stream);

}  // namespace cuda
}  // namespace shoal

#endif  // SHOAL_KERNELS_CUDA_LAUNCH_H_
