// x86 kernels (AVX2+FMA, AVX-512F). Same parameters as the reference twins in kernels/ref/;
// convolution weights come packed (shoal_conv2d_pack_oc_blocks) instead of OHWI.
#ifndef SHOAL_KERNELS_X86_X86_H_
#define SHOAL_KERNELS_X86_X86_H_

#include "shoal/kernels/params.h"

#ifdef __cplusplus
extern "C" {
#endif

// Packed layout for output-channel blocks of `block` lanes: [co / block][ky][kx][ci][lane],
// every input channel of the full capacity (w_in_stride of them; 1 when depthwise), output
// channels past the capacity zero. One copy serves every input and output channel range.
size_t shoal_conv2d_packed_floats(const shoal_conv2d_params* p, uint32_t out_capacity, uint32_t block);
void shoal_conv2d_pack_oc_blocks(const shoal_conv2d_params* p, uint32_t out_capacity, uint32_t block,
                                 const float* ohwi, float* packed);

void shoal_conv2d_nhwc_f32_oc8__avx2(const shoal_conv2d_params* p, const float* x, const float* packed,
                                     const float* scale, const float* shift, float* y);
void shoal_conv2d_nhwc_f32_oc16__avx512(const shoal_conv2d_params* p, const float* x, const float* packed,
                                        const float* scale, const float* shift, float* y);

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // SHOAL_KERNELS_X86_X86_H_
