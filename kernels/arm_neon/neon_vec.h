// NEON as the vector type of the SIMD templates (kernels/common/), 4 lanes. Lanes outside
// [lo, hi) are never loaded or stored: partial blocks go through a small stack copy, so
// nothing past a buffer is touched.
#ifndef SHOAL_KERNELS_ARM_NEON_NEON_VEC_H_
#define SHOAL_KERNELS_ARM_NEON_NEON_VEC_H_

#include <arm_neon.h>
#include <stdint.h>

namespace shoal::simd {

struct Neon {
  using Reg = float32x4_t;
  static constexpr uint32_t kLanes = 4;
  static Reg zero() { return vdupq_n_f32(0.0f); }
  static Reg set1(float v) { return vdupq_n_f32(v); }
  static Reg load(const float* p) { return vld1q_f32(p); }
  static Reg load_lanes(const float* p, uint32_t lo, uint32_t hi) {
    if (lo == 0 && hi == kLanes) return vld1q_f32(p);
    float tmp[kLanes] = {0, 0, 0, 0};
    for (uint32_t i = lo; i < hi; ++i) tmp[i] = p[i];
    return vld1q_f32(tmp);
  }
  static void store_lanes(float* p, Reg v, uint32_t lo, uint32_t hi) {
    if (lo == 0 && hi == kLanes) return vst1q_f32(p, v);
    float tmp[kLanes];
    vst1q_f32(tmp, v);
    for (uint32_t i = lo; i < hi; ++i) p[i] = tmp[i];
  }
  static Reg broadcast(float v) { return vdupq_n_f32(v); }
  static Reg fma(Reg a, Reg b, Reg c) { return vfmaq_f32(c, a, b); }
  static Reg max(Reg a, Reg b) { return vmaxq_f32(a, b); }
  static Reg min(Reg a, Reg b) { return vminq_f32(a, b); }
};

}  // namespace shoal::simd

#endif  // SHOAL_KERNELS_ARM_NEON_NEON_VEC_H_
