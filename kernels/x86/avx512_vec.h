// AVX-512F as the vector type of the SIMD templates (kernels/common/). Include only from
// files compiled with -mavx512f -mfma (kernels/CMakeLists.txt).
#ifndef SHOAL_KERNELS_X86_AVX512_VEC_H_
#define SHOAL_KERNELS_X86_AVX512_VEC_H_

#include <immintrin.h>
#include <stdint.h>

namespace shoal::simd {

struct Avx512 {
  using Reg = __m512;
  static constexpr uint32_t kLanes = 16;
  static __mmask16 mask(uint32_t lo, uint32_t hi) {
    return static_cast<__mmask16>(((1u << hi) - 1u) & ~((1u << lo) - 1u));
  }
  static Reg zero() { return _mm512_setzero_ps(); }
  static Reg set1(float v) { return _mm512_set1_ps(v); }
  static Reg load(const float* p) { return _mm512_loadu_ps(p); }
  static Reg load_lanes(const float* p, uint32_t lo, uint32_t hi) { return _mm512_maskz_loadu_ps(mask(lo, hi), p); }
  static void store_lanes(float* p, Reg v, uint32_t lo, uint32_t hi) { _mm512_mask_storeu_ps(p, mask(lo, hi), v); }
  static Reg broadcast(float v) { return _mm512_set1_ps(v); }
  static Reg fma(Reg a, Reg b, Reg c) { return _mm512_fmadd_ps(a, b, c); }
  static Reg max(Reg a, Reg b) { return _mm512_max_ps(a, b); }
  static Reg min(Reg a, Reg b) { return _mm512_min_ps(a, b); }
};

}  // namespace shoal::simd

#endif  // SHOAL_KERNELS_X86_AVX512_VEC_H_
