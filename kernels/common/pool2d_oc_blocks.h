// SIMD pooling, written once over a vector type `V` (see conv2d_oc_blocks.h) like the
// convolution: channels are lanes, each output pixel visits its window once per block of
// channels. Max pooling never lets padding win; average pooling counts padding in the
// divisor (PyTorch's count_include_pad = True) unless exclude_padding, as the reference
// twins do.
#ifndef SHOAL_KERNELS_COMMON_POOL2D_OC_BLOCKS_H_
#define SHOAL_KERNELS_COMMON_POOL2D_OC_BLOCKS_H_

#include <float.h>
#include <stddef.h>
#include <stdint.h>

#include "shoal/kernels/params.h"

namespace shoal::simd {

template <typename V, bool kMax>
void pool2d(const shoal_pool_params* p, const float* x, float* y) {
  using Reg = typename V::Reg;
  constexpr uint32_t kLanes = V::kLanes;
  const shoal_window& k = p->win;
  const Reg whole = V::set1(1.0f / static_cast<float>(k.kernel_h * k.kernel_w));
  for (uint32_t oy = 0; oy < p->out.h; ++oy) {
    for (uint32_t ox = 0; ox < p->out.w; ++ox) {
      float* yp = y + (size_t{oy} * p->out.w + ox) * p->out.stride;
      Reg scale = whole;
      if (!kMax && p->exclude_padding) {  // the taps inside the input (pooling has dilation 1)
        const int64_t y0 = int64_t{oy} * k.stride_h - k.pad_top, x0 = int64_t{ox} * k.stride_w - k.pad_left;
        const int64_t rows = (y0 + k.kernel_h < p->in.h ? y0 + k.kernel_h : int64_t{p->in.h}) - (y0 > 0 ? y0 : 0);
        const int64_t cols = (x0 + k.kernel_w < p->in.w ? x0 + k.kernel_w : int64_t{p->in.w}) - (x0 > 0 ? x0 : 0);
        scale = V::set1(1.0f / static_cast<float>(rows > 0 && cols > 0 ? rows * cols : 1));
      }
      for (uint32_t c0 = p->out.lo / kLanes * kLanes; c0 < p->out.hi; c0 += kLanes) {
        const uint32_t lo = p->out.lo > c0 ? p->out.lo - c0 : 0;
        const uint32_t hi = p->out.hi - c0 < kLanes ? p->out.hi - c0 : kLanes;
        Reg acc = kMax ? V::set1(-FLT_MAX) : V::zero();
        for (uint32_t ky = 0; ky < k.kernel_h; ++ky) {
          const int64_t iy = int64_t{oy} * k.stride_h - k.pad_top + int64_t{ky} * k.dilation_h;
          if (iy < 0 || iy >= p->in.h) continue;
          for (uint32_t kx = 0; kx < k.kernel_w; ++kx) {
            const int64_t ix = int64_t{ox} * k.stride_w - k.pad_left + int64_t{kx} * k.dilation_w;
            if (ix < 0 || ix >= p->in.w) continue;
            const Reg v = V::load_lanes(x + (size_t(iy) * p->in.w + size_t(ix)) * p->in.stride + c0, lo, hi);
            acc = kMax ? V::max(acc, v) : V::fma(v, V::set1(1.0f), acc);
          }
        }
        if (!kMax) acc = V::fma(acc, scale, V::zero());
        V::store_lanes(yp + c0, acc, lo, hi);
      }
    }
  }
}

template <typename V>
void global_avg_pool(const shoal_pool_params* p, const float* x, float* y) {
  using Reg = typename V::Reg;
  constexpr uint32_t kLanes = V::kLanes;
  const size_t pixels = size_t{p->in.h} * p->in.w;
  const Reg scale = V::set1(1.0f / static_cast<float>(pixels));
  for (uint32_t c0 = p->out.lo / kLanes * kLanes; c0 < p->out.hi; c0 += kLanes) {
    const uint32_t lo = p->out.lo > c0 ? p->out.lo - c0 : 0;
    const uint32_t hi = p->out.hi - c0 < kLanes ? p->out.hi - c0 : kLanes;
    Reg acc = V::zero();
    for (size_t i = 0; i < pixels; ++i) acc = V::fma(V::load_lanes(x + i * p->in.stride + c0, lo, hi), V::set1(1.0f), acc);
    V::store_lanes(y + c0, V::fma(acc, scale, V::zero()), lo, hi);
  }
}

}  // namespace shoal::simd

#endif  // SHOAL_KERNELS_COMMON_POOL2D_OC_BLOCKS_H_
