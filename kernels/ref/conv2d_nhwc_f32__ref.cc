#include "activation.h"
#include "ref.h"

extern "C" void shoal_conv2d_nhwc_f32__ref(const shoal_conv2d_params* p, const float* x,
                                           const float* w, const float* scale,
                                           const float* shift, float* y) {
  const shoal_window& k = p->win;
  const uint32_t taps_w = k.kernel_w;
  for (uint32_t oy = 0; oy < p->out.h; ++oy) {
    for (uint32_t ox = 0; ox < p->out.w; ++ox) {
      float* yp = y + (static_cast<size_t>(oy) * p->out.w + ox) * p->out.stride;
      for (uint32_t co = p->out.lo; co < p->out.hi; ++co) {
        float acc = 0.0f;
        for (uint32_t ky = 0; ky < k.kernel_h; ++ky) {
          const int64_t iy = static_cast<int64_t>(oy) * k.stride_h - k.pad_top +
                             static_cast<int64_t>(ky) * k.dilation_h;
          if (iy < 0 || iy >= p->in.h) continue;
          for (uint32_t kx = 0; kx < taps_w; ++kx) {
            const int64_t ix = static_cast<int64_t>(ox) * k.stride_w - k.pad_left +
                               static_cast<int64_t>(kx) * k.dilation_w;
            if (ix < 0 || ix >= p->in.w) continue;
            const float* xp = x + (static_cast<size_t>(iy) * p->in.w + ix) * p->in.stride;
            const float* wp =
                w + ((static_cast<size_t>(co) * k.kernel_h + ky) * taps_w + kx) * p->w_in_stride;
            if (p->depthwise) {
              acc += xp[co] * wp[0];
            } else {
              for (uint32_t ci = p->in.lo; ci < p->in.hi; ++ci) acc += xp[ci] * wp[ci];
            }
          }
        }
        const float s = scale ? scale[co] : 1.0f;
        const float b = shift ? shift[co] : 0.0f;
        yp[co] = shoal_apply_activation(acc * s + b, p->activation);
      }
    }
  }
}
