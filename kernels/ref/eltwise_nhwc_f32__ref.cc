#include <math.h>

#include "activation.h"
#include "ref.h"

extern "C" void shoal_add_nhwc_f32__ref(const shoal_eltwise_params* p, const float* a,
                                        const float* b, float* y) {
  const size_t pixels = static_cast<size_t>(p->h) * p->w;
  for (size_t i = 0; i < pixels; ++i) {
    for (uint32_t c = p->lo; c < p->hi; ++c) {
      y[i * p->y_stride + c] =
          shoal_apply_activation(a[i * p->a_stride + c] + b[i * p->b_stride + c], p->activation);
    }
  }
}

extern "C" void shoal_activation_nhwc_f32__ref(const shoal_eltwise_params* p, const float* a,
                                               float* y) {
  const size_t pixels = static_cast<size_t>(p->h) * p->w;
  for (size_t i = 0; i < pixels; ++i) {
    for (uint32_t c = p->lo; c < p->hi; ++c) {
      y[i * p->y_stride + c] = shoal_apply_activation(a[i * p->a_stride + c], p->activation);
    }
  }
}

extern "C" void shoal_softmax_nhwc_f32__ref(const shoal_eltwise_params* p, const float* a,
                                            float* y) {
  const size_t pixels = static_cast<size_t>(p->h) * p->w;
  for (size_t i = 0; i < pixels; ++i) {
    const float* ap = a + i * p->a_stride;
    float* yp = y + i * p->y_stride;
    float max = ap[p->lo];
    for (uint32_t c = p->lo; c < p->hi; ++c) max = ap[c] > max ? ap[c] : max;
    float sum = 0.0f;
    for (uint32_t c = p->lo; c < p->hi; ++c) {
      yp[c] = expf(ap[c] - max);
      sum += yp[c];
    }
    for (uint32_t c = p->lo; c < p->hi; ++c) yp[c] /= sum;
  }
}

extern "C" void shoal_concat_nhwc_f32__ref(const shoal_concat_params* p, const shoal_concat_run* runs,
                                           const float* const* x, const uint32_t* x_stride, float* y) {
  for (size_t i = 0; i < p->pixels; ++i) {
    float* yp = y + i * p->y_stride;
    for (uint32_t r = 0; r < p->runs; ++r) {
      const shoal_concat_run& run = runs[r];
      const uint32_t lo = run.dst > p->lo ? run.dst : p->lo;
      const uint32_t end = run.dst + run.count, hi = end < p->hi ? end : p->hi;
      if (lo >= hi) continue;
      const float* xp = x[run.input] + i * x_stride[run.input] + run.src + (lo - run.dst);
      for (uint32_t c = lo; c < hi; ++c) yp[c] = *xp++;
    }
  }
}
