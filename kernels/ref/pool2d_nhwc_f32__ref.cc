#include <float.h>

#include "ref.h"

namespace {

// Visits the input pixels under output pixel (oy, ox); returns what average pooling divides
// by: the window's taps including padding, or those inside the input (exclude_padding).
template <typename Visit>
uint32_t for_each_tap(const shoal_pool_params* p, uint32_t oy, uint32_t ox, Visit visit) {
  uint32_t inside = 0;
  const shoal_window& k = p->win;
  for (uint32_t ky = 0; ky < k.kernel_h; ++ky) {
    const int64_t iy = static_cast<int64_t>(oy) * k.stride_h - k.pad_top +
                       static_cast<int64_t>(ky) * k.dilation_h;
    if (iy < 0 || iy >= p->in.h) continue;
    for (uint32_t kx = 0; kx < k.kernel_w; ++kx) {
      const int64_t ix = static_cast<int64_t>(ox) * k.stride_w - k.pad_left +
                         static_cast<int64_t>(kx) * k.dilation_w;
      if (ix < 0 || ix >= p->in.w) continue;
      visit(static_cast<size_t>(iy) * p->in.w + static_cast<size_t>(ix));
      ++inside;
    }
  }
  if (p->exclude_padding) return inside ? inside : 1;
  return k.kernel_h * k.kernel_w;
}

template <bool kMax>
void pool(const shoal_pool_params* p, const float* x, float* y) {
  for (uint32_t oy = 0; oy < p->out.h; ++oy) {
    for (uint32_t ox = 0; ox < p->out.w; ++ox) {
      float* yp = y + (static_cast<size_t>(oy) * p->out.w + ox) * p->out.stride;
      for (uint32_t c = p->out.lo; c < p->out.hi; ++c) {
        float acc = kMax ? -FLT_MAX : 0.0f;
        const uint32_t taps = for_each_tap(p, oy, ox, [&](size_t pixel) {
          const float v = x[pixel * p->in.stride + c];
          if (kMax) {
            acc = v > acc ? v : acc;
          } else {
            acc += v;
          }
        });
        yp[c] = kMax ? acc : acc / static_cast<float>(taps);
      }
    }
  }
}

}  // namespace

extern "C" void shoal_maxpool_nhwc_f32__ref(const shoal_pool_params* p, const float* x, float* y) {
  pool<true>(p, x, y);
}

extern "C" void shoal_avgpool_nhwc_f32__ref(const shoal_pool_params* p, const float* x, float* y) {
  pool<false>(p, x, y);
}

extern "C" void shoal_global_avgpool_nhwc_f32__ref(const shoal_pool_params* p, const float* x,
                                                   float* y) {
  const size_t pixels = static_cast<size_t>(p->in.h) * p->in.w;
  for (uint32_t c = p->out.lo; c < p->out.hi; ++c) {
    float acc = 0.0f;
    for (size_t i = 0; i < pixels; ++i) acc += x[i * p->in.stride + c];
    y[c] = acc / static_cast<float>(pixels);
  }
}
