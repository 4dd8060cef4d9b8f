// Random kernel cases shared by the kernel tests: odd and prime channel counts, channel
// ranges that do not start at 0, strides, padding, dilation, depthwise. Inactive input
// channels hold NaN, so a kernel that reads outside its range shows it; outputs start as
// kUntouched, so a kernel that writes outside its range shows it.
#ifndef SHOAL_TESTS_KERNEL_SWEEP_H_
#define SHOAL_TESTS_KERNEL_SWEEP_H_

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "naive_eval.h"
#include "shoal/kernels/params.h"

namespace shoal::testing {

constexpr float kUntouched = -12345.0f;

struct Sweep {
  std::mt19937 rng{1234};
  uint32_t pick(uint32_t lo, uint32_t hi) { return std::uniform_int_distribution<uint32_t>(lo, hi)(rng); }
  float value() { return std::uniform_real_distribution<float>(-1.0f, 1.0f)(rng); }
  shoal_plane plane(uint32_t h, uint32_t w, uint32_t cap) {
    const uint32_t lo = pick(0, cap - 1);
    return {h, w, cap, lo, pick(lo + 1, cap), {}};
  }
};

// A full-width activation: active channels random, the rest NaN.
inline std::vector<float> activation(Sweep& s, const shoal_plane& p) {
  std::vector<float> v(size_t{p.h} * p.w * p.stride + 16, NAN);
  for (size_t px = 0; px < size_t{p.h} * p.w; ++px)
    for (uint32_t c = p.lo; c < p.hi; ++c) v[px * p.stride + c] = s.value();
  return v;
}

inline Dense compact(const std::vector<float>& v, const shoal_plane& p) {
  Dense d{p.hi - p.lo, p.h, p.w, std::vector<double>(size_t{p.hi - p.lo} * p.h * p.w)};
  for (uint32_t y = 0; y < p.h; ++y)
    for (uint32_t x = 0; x < p.w; ++x)
      for (uint32_t c = p.lo; c < p.hi; ++c) d.at(c - p.lo, y, x) = v[(size_t{y} * p.w + x) * p.stride + c];
  return d;
}

// Compares the active channels with `want` (compact) and checks the rest are untouched.
inline void expect_plane(const std::vector<float>& got, const shoal_plane& p, const Dense& want, const std::string& what) {
  for (uint32_t y = 0; y < p.h; ++y)
    for (uint32_t x = 0; x < p.w; ++x)
      for (uint32_t c = 0; c < p.stride; ++c) {
        const float g = got[(size_t{y} * p.w + x) * p.stride + c];
        if (c < p.lo || c >= p.hi) {
          ASSERT_EQ(g, kUntouched) << what << " wrote channel " << c << " outside [" << p.lo << "," << p.hi << ")";
        } else {
          const double w = want.at(c - p.lo, y, x);
          ASSERT_NEAR(g, w, 1e-4 * (1.0 + std::fabs(w))) << what << " at y=" << y << " x=" << x << " c=" << c;
        }
      }
}

inline uint32_t out_side(uint32_t in, uint32_t k, uint32_t s, uint32_t d, uint32_t pad) {
  const int64_t span = int64_t{d} * (k - 1) + 1;
  const int64_t padded = int64_t{in} + 2 * pad;
  return padded < span ? 0 : static_cast<uint32_t>((padded - span) / s + 1);
}

struct ConvCase {
  shoal_conv2d_params p{};
  std::vector<float> x, w, scale, shift;
  bool affine = true;
  const float* scale_ptr() const { return affine ? scale.data() : nullptr; }
  const float* shift_ptr() const { return affine ? shift.data() : nullptr; }
  std::vector<float> blank_output() const {
    return std::vector<float>(size_t{p.out.h} * p.out.w * p.out.stride, kUntouched);
  }
};

// False when the drawn window does not fit the drawn input (the trial is skipped).
inline bool random_conv(Sweep& s, int trial, ConvCase* c) {
  static const uint32_t caps[] = {1, 2, 3, 5, 7, 8, 13, 16, 17, 31, 40};
  const bool depthwise = trial % 5 == 4;
  // Now and then more input channels than the SIMD kernels' zero row covers (their other path).
  const bool wide = trial % 61 == 7;
  const uint32_t in_cap = wide ? 4099 : caps[s.pick(0, 10)];
  const uint32_t out_cap = depthwise ? in_cap : caps[s.pick(0, 10)];
  shoal_window k{s.pick(1, 5), s.pick(1, 5), s.pick(1, 2), s.pick(1, 2), s.pick(0, 2), s.pick(0, 2), s.pick(1, 2),
                 s.pick(1, 2)};
  // Some rows long enough for the SIMD kernels' longest tiles (12 pixels) and their remainders.
  const uint32_t ih = s.pick(1, wide ? 3 : 13), iw = s.pick(1, trial % 4 == 1 || wide ? 40 : 13);
  const uint32_t oh = out_side(ih, k.kernel_h, k.stride_h, k.dilation_h, k.pad_top);
  const uint32_t ow = out_side(iw, k.kernel_w, k.stride_w, k.dilation_w, k.pad_left);
  if (oh == 0 || ow == 0) return false;
  shoal_conv2d_params& p = c->p;
  p.in = s.plane(ih, iw, in_cap);
  p.out = depthwise ? shoal_plane{oh, ow, out_cap, p.in.lo, p.in.hi, {}} : s.plane(oh, ow, out_cap);
  p.win = k;
  p.w_in_stride = depthwise ? 1 : in_cap;
  p.depthwise = depthwise;
  p.activation = static_cast<int32_t>(s.pick(0, 2));
  c->x = activation(s, p.in);
  c->w.resize(size_t{out_cap} * k.kernel_h * k.kernel_w * p.w_in_stride);
  c->scale.resize(out_cap);
  c->shift.resize(out_cap);
  for (float& v : c->w) v = s.value();
  for (float& v : c->scale) v = s.value();
  for (float& v : c->shift) v = s.value();
  c->affine = trial % 3 != 0;
  return true;
}

struct PoolCase {
  shoal_pool_params p{};
  std::vector<float> x;
  std::vector<float> blank_output() const {
    return std::vector<float>(size_t{p.out.h} * p.out.w * p.out.stride, kUntouched);
  }
};

// Padding below the window size, so every window touches the input (the kernels' contract).
inline bool random_pool(Sweep& s, bool global, PoolCase* c) {
  static const uint32_t caps[] = {1, 3, 4, 7, 16, 17, 33, 64};
  const uint32_t cap = caps[s.pick(0, 7)];
  const uint32_t kh = s.pick(1, 3), kw = s.pick(1, 3);
  shoal_window k{kh, kw, s.pick(1, 2), s.pick(1, 2), s.pick(0, kh - 1), s.pick(0, kw - 1), 1, 1};
  const uint32_t ih = s.pick(1, 12), iw = s.pick(1, 12);
  const uint32_t oh = global ? 1 : out_side(ih, k.kernel_h, k.stride_h, 1, k.pad_top);
  const uint32_t ow = global ? 1 : out_side(iw, k.kernel_w, k.stride_w, 1, k.pad_left);
  if (oh == 0 || ow == 0) return false;
  c->p.in = s.plane(ih, iw, cap);
  c->p.out = {oh, ow, cap, c->p.in.lo, c->p.in.hi, {}};
  c->p.win = k;
  c->p.exclude_padding = s.pick(0, 1);
  c->x = activation(s, c->p.in);
  return true;
}

}  // namespace shoal::testing

#endif  // SHOAL_TESTS_KERNEL_SWEEP_H_
