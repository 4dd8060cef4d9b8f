// AVX2+FMA as the vector type of the SIMD templates (kernels/common/). Include only from
// files compiled with -mavx2 -mfma (kernels/CMakeLists.txt).
#ifndef SHOAL_KERNELS_X86_AVX2_VEC_H_
#define SHOAL_KERNELS_X86_AVX2_VEC_H_

#include <immintrin.h>
#include <stdint.h>

namespace shoal::simd {

struct Avx2 {
  using Reg = __m256;
  static constexpr uint32_t kLanes = 8;
  static __m256i mask(uint32_t lo, uint32_t hi) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_and_si256(_mm256_cmpgt_epi32(lane, _mm256_set1_epi32(static_cast<int>(lo) - 1)),
                            _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(hi)), lane));
  }
  static Reg zero() { return _mm256_setzero_ps(); }
  static Reg set1(float v) { return _mm256_set1_ps(v); }
  static Reg load(const float* p) { return _mm256_loadu_ps(p); }
  static Reg load_lanes(const float* p, uint32_t lo, uint32_t hi) { return _mm256_maskload_ps(p, mask(lo, hi)); }
  static void store_lanes(float* p, Reg v, uint32_t lo, uint32_t hi) { _mm256_maskstore_ps(p, mask(lo, hi), v); }
  static Reg broadcast(float v) { return _mm256_set1_ps(v); }
  static Reg fma(Reg a, Reg b, Reg c) { return _mm256_fmadd_ps(a, b, c); }
  static Reg max(Reg a, Reg b) { return _mm256_max_ps(a, b); }
  static Reg min(Reg a, Reg b) { return _mm256_min_ps(a, b); }
};

}  // namespace shoal::simd

#endif  // SHOAL_KERNELS_X86_AVX2_VEC_H_
