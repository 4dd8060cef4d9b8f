// Reference kernels: straightforward loops, the twin every optimised kernel is tested against.
#ifndef SHOAL_KERNELS_REF_REF_H_
#define SHOAL_KERNELS_REF_REF_H_

#include "shoal/kernels/params.h"

#ifdef __cplusplus
extern "C" {
#endif

// Also serves fully connected layers: a kernel as large as the input, one output pixel.
void shoal_conv2d_nhwc_f32__ref(const shoal_conv2d_params* p, const float* x, const float* w,
                                const float* scale, const float* shift, float* y);
// Padding never wins the max; every output window must touch at least one input pixel.
void shoal_maxpool_nhwc_f32__ref(const shoal_pool_params* p, const float* x, float* y);
// Padding counts in the divisor (PyTorch's count_include_pad = True).
void shoal_avgpool_nhwc_f32__ref(const shoal_pool_params* p, const float* x, float* y);
// Mean over all in.h x in.w pixels into one output pixel.
void shoal_global_avgpool_nhwc_f32__ref(const shoal_pool_params* p, const float* x, float* y);
void shoal_add_nhwc_f32__ref(const shoal_eltwise_params* p, const float* a, const float* b, float* y);
void shoal_activation_nhwc_f32__ref(const shoal_eltwise_params* p, const float* a, float* y);
// Softmax over channels [lo, hi) of every pixel.
void shoal_softmax_nhwc_f32__ref(const shoal_eltwise_params* p, const float* a, float* y);
// x[i] and x_stride[i]: input i's channel 0 of pixel 0 and its group's capacity.
void shoal_concat_nhwc_f32__ref(const shoal_concat_params* p, const shoal_concat_run* runs,
                                const float* const* x, const uint32_t* x_stride, float* y);

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // SHOAL_KERNELS_REF_REF_H_
