// The packed convolution weights every SIMD backend reads (AVX2: blocks of 8, AVX-512: 16,
// NEON: 4): [co / block][ky][kx][ci][lane], every input channel of the full capacity
// (w_in_stride of them; 1 when depthwise), output channels past the capacity zero. One copy
// serves every input and output channel range.
#ifndef SHOAL_KERNELS_COMMON_PACK_CONV2D_H_
#define SHOAL_KERNELS_COMMON_PACK_CONV2D_H_

#include "shoal/kernels/params.h"

#ifdef __cplusplus
extern "C" {
#endif

size_t shoal_conv2d_packed_floats(const shoal_conv2d_params* p, uint32_t out_capacity, uint32_t block);
void shoal_conv2d_pack_oc_blocks(const shoal_conv2d_params* p, uint32_t out_capacity, uint32_t block,
                                 const float* ohwi, float* packed);

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // SHOAL_KERNELS_COMMON_PACK_CONV2D_H_
