// What one CUDA thread of shoal's GPU kernels computes: one output element of a channel-sliced
// layer, over the same params (shoal/kernels/params.h) and the same full-width layouts as
// every CPU kernel. The .cu kernels are a bounds check around these; the CPU test suite calls
// the same functions for every element and compares them with the reference kernels, so the
// indexing is checked on machines without a GPU.
//
// C++14 and nothing newer than the CUDA 10.2 toolkit offers (the Jetson Nano's), no library
// calls but expf.
#ifndef SHOAL_KERNELS_CUDA_THREAD_BODIES_H_
#define SHOAL_KERNELS_CUDA_THREAD_BODIES_H_

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "shoal/kernels/params.h"

#ifdef __CUDACC__
#define SHOAL_HD __host__ __device__ __forceinline__
#else
#define SHOAL_HD inline
#endif

namespace shoal {
namespace cuda {

SHOAL_HD float activate(float v, int32_t activation) {
  if (activation == SHOAL_ACT_RELU) return v > 0.0f ? v : 0.0f;
  if (activation == SHOAL_ACT_RELU6) return v > 0.0f ? (v < 6.0f ? v : 6.0f) : 0.0f;
  return v;
}

// Threads a layer needs: one per active output element (pixels x active channels), the
// channel fastest so neighbouring threads touch neighbouring floats.
SHOAL_HD size_t elements(uint32_t h, uint32_t w, uint32_t lo, uint32_t hi) {
  return size_t{h} * w * (hi - lo);
}

struct Element {
  size_t pixel;  // oy * width + ox
  uint32_t c;    // absolute channel
};

SHOAL_HD Element element_at(size_t index, uint32_t lo, uint32_t hi) {
  const uint32_t active = hi - lo;
  return Element{index / active, lo + static_cast<uint32_t>(index % active)};
}

// Calls visit(pixel, tap) for every tap of the window over output pixel (oy, ox) that falls
// inside the input: `pixel` is iy * width + ix, `tap` is ky * kernel_w + kx.
template <typename Visit>
SHOAL_HD void for_each_tap(const shoal_plane& in, const shoal_window& k, uint32_t oy, uint32_t ox, Visit& visit) {
  for (uint32_t ky = 0; ky < k.kernel_h; ++ky) {
    const int64_t iy = int64_t{oy} * k.stride_h - k.pad_top + int64_t{ky} * k.dilation_h;
    if (iy < 0 || iy >= in.h) continue;
    for (uint32_t kx = 0; kx < k.kernel_w; ++kx) {
      const int64_t ix = int64_t{ox} * k.stride_w - k.pad_left + int64_t{kx} * k.dilation_w;
      if (ix < 0 || ix >= in.w) continue;
      visit(static_cast<size_t>(iy) * in.w + static_cast<size_t>(ix), ky * k.kernel_w + kx);
    }
  }
}

// y[co] = act(scale[co] * sum over taps and active input channels + shift[co]).
SHOAL_HD void conv2d_thread(const shoal_conv2d_params& p, const float* x, const float* w, const float* scale,
                            const float* shift, float* y, size_t index) {
  const Element e = element_at(index, p.out.lo, p.out.hi);
  const uint32_t taps = p.win.kernel_h * p.win.kernel_w;
  float acc = 0.0f;
  auto visit = [&](size_t pixel, uint32_t tap) {
    const float* xp = x + pixel * p.in.stride;
    const float* wp = w + (size_t{e.c} * taps + tap) * p.w_in_stride;
    if (p.depthwise) {
      acc += xp[e.c] * wp[0];
    } else {
      for (uint32_t ci = p.in.lo; ci < p.in.hi; ++ci) acc += xp[ci] * wp[ci];
    }
  };
  for_each_tap(p.in, p.win, static_cast<uint32_t>(e.pixel / p.out.w), static_cast<uint32_t>(e.pixel % p.out.w), visit);
  const float s = scale ? scale[e.c] : 1.0f, b = shift ? shift[e.c] : 0.0f;
  y[e.pixel * p.out.stride + e.c] = activate(acc * s + b, p.activation);
}

// Max or average pooling; the average divides by every tap, padding included, or by the taps
// inside the input (exclude_padding).
SHOAL_HD void pool_thread(bool max, const shoal_pool_params& p, const float* x, float* y, size_t index) {
  const Element e = element_at(index, p.out.lo, p.out.hi);
  float acc = max ? -3.402823466e+38f : 0.0f;
  uint32_t inside = 0;
  auto visit = [&](size_t pixel, uint32_t) {
    const float v = x[pixel * p.in.stride + e.c];
    acc = max ? (v > acc ? v : acc) : acc + v;
    ++inside;
  };
  for_each_tap(p.in, p.win, static_cast<uint32_t>(e.pixel / p.out.w), static_cast<uint32_t>(e.pixel % p.out.w), visit);
  const uint32_t divisor = p.exclude_padding ? (inside ? inside : 1) : p.win.kernel_h * p.win.kernel_w;
  y[e.pixel * p.out.stride + e.c] = max ? acc : acc / static_cast<float>(divisor);
}

// One thread per active channel (the output is 1 x 1).
SHOAL_HD void global_avg_pool_thread(const shoal_pool_params& p, const float* x, float* y, size_t index) {
  const uint32_t c = p.out.lo + static_cast<uint32_t>(index);
  const size_t pixels = size_t{p.in.h} * p.in.w;
  float acc = 0.0f;
  for (size_t i = 0; i < pixels; ++i) acc += x[i * p.in.stride + c];
  y[c] = acc / static_cast<float>(pixels);
}

// y = act(a + b) (b null: y = act(a)).
SHOAL_HD void eltwise_thread(const shoal_eltwise_params& p, const float* a, const float* b, float* y, size_t index) {
  const Element e = element_at(index, p.lo, p.hi);
  const float v = a[e.pixel * p.a_stride + e.c] + (b ? b[e.pixel * p.b_stride + e.c] : 0.0f);
  y[e.pixel * p.y_stride + e.c] = activate(v, p.activation);
}

// One thread per pixel: softmax over its active channels.
SHOAL_HD void softmax_thread(const shoal_eltwise_params& p, const float* a, float* y, size_t pixel) {
  const float* ap = a + pixel * p.a_stride;
  float* yp = y + pixel * p.y_stride;
  float max = ap[p.lo];
  for (uint32_t c = p.lo; c < p.hi; ++c) max = ap[c] > max ? ap[c] : max;
  float sum = 0.0f;
  for (uint32_t c = p.lo; c < p.hi; ++c) {
    yp[c] = expf(ap[c] - max);
    sum += yp[c];
  }
  for (uint32_t c = p.lo; c < p.hi; ++c) yp[c] /= sum;
}

}  // namespace cuda
}  // namespace shoal

#endif  // SHOAL_KERNELS_CUDA_THREAD_BODIES_H_
