// The reference kernels against dense double-precision loops (naive_eval) over sweeps of
// shapes: odd and prime channel counts, channel ranges that do not start at 0, strides,
// padding, dilation, depthwise. Inactive input channels hold NaN, so reading outside the
// active range shows up; inactive output channels must stay untouched.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "naive_eval.h"
#include "ref/ref.h"

namespace shoal::testing {
namespace {

constexpr float kUntouched = -12345.0f;

struct Sweep {
  std::mt19937 rng{1234};
  uint32_t pick(uint32_t lo, uint32_t hi) { return std::uniform_int_distribution<uint32_t>(lo, hi)(rng); }
  float value() { return std::uniform_real_distribution<float>(-1.0f, 1.0f)(rng); }
  shoal_plane plane(uint32_t h, uint32_t w, uint32_t cap) {
    const uint32_t lo = pick(0, cap - 1);
    return {h, w, cap, lo, pick(lo + 1, cap)};
  }
};

// A full-width activation: active channels random, the rest NaN.
std::vector<float> activation(Sweep& s, const shoal_plane& p) {
  std::vector<float> v(size_t{p.h} * p.w * p.stride + 16, NAN);
  for (size_t px = 0; px < size_t{p.h} * p.w; ++px)
    for (uint32_t c = p.lo; c < p.hi; ++c) v[px * p.stride + c] = s.value();
  return v;
}

Dense compact(const std::vector<float>& v, const shoal_plane& p) {
  Dense d{p.hi - p.lo, p.h, p.w, std::vector<double>(size_t{p.hi - p.lo} * p.h * p.w)};
  for (uint32_t y = 0; y < p.h; ++y)
    for (uint32_t x = 0; x < p.w; ++x)
      for (uint32_t c = p.lo; c < p.hi; ++c) d.at(c - p.lo, y, x) = v[(size_t{y} * p.w + x) * p.stride + c];
  return d;
}

// Compares the active channels with `want` (compact) and checks the rest are untouched.
void expect_plane(const std::vector<float>& got, const shoal_plane& p, const Dense& want, const std::string& what) {
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

uint32_t out_side(uint32_t in, uint32_t k, uint32_t s, uint32_t d, uint32_t pad) {
  const int64_t span = int64_t{d} * (k - 1) + 1;
  const int64_t padded = int64_t{in} + 2 * pad;
  return padded < span ? 0 : static_cast<uint32_t>((padded - span) / s + 1);
}

TEST(RefKernels, Conv2dMatchesDenseLoops) {
  Sweep s;
  const uint32_t caps[] = {1, 2, 3, 5, 7, 8, 13, 16, 17};
  int tested = 0;
  for (int trial = 0; trial < 600; ++trial) {
    const bool depthwise = trial % 5 == 4;
    const uint32_t in_cap = caps[s.pick(0, 8)];
    const uint32_t out_cap = depthwise ? in_cap : caps[s.pick(0, 8)];
    DenseWindow k;
    k.kh = s.pick(1, 5), k.kw = s.pick(1, 5);
    k.sh = s.pick(1, 2), k.sw = s.pick(1, 2);
    k.dh = s.pick(1, 2), k.dw = s.pick(1, 2);
    const uint32_t pad_h = s.pick(0, 2), pad_w = s.pick(0, 2);
    k.ph = pad_h, k.pw = pad_w;
    const uint32_t ih = s.pick(1, 11), iw = s.pick(1, 11);
    const uint32_t oh = out_side(ih, k.kh, k.sh, k.dh, pad_h), ow = out_side(iw, k.kw, k.sw, k.dw, pad_w);
    if (oh == 0 || ow == 0) continue;
    shoal_conv2d_params p{};
    p.in = s.plane(ih, iw, in_cap);
    p.out = depthwise ? shoal_plane{oh, ow, out_cap, p.in.lo, p.in.hi} : s.plane(oh, ow, out_cap);
    p.win = {k.kh, k.kw, k.sh, k.sw, pad_h, pad_w, k.dh, k.dw};
    p.w_in_stride = depthwise ? 1 : in_cap;
    p.depthwise = depthwise;
    p.activation = static_cast<int32_t>(s.pick(0, 2));
    const std::vector<float> x = activation(s, p.in);
    std::vector<float> w(size_t{out_cap} * k.kh * k.kw * p.w_in_stride), scale(out_cap), shift(out_cap);
    for (float& v : w) v = s.value();
    for (float& v : scale) v = s.value();
    for (float& v : shift) v = s.value();
    const bool affine = trial % 3 != 0;
    std::vector<float> y(size_t{oh} * ow * out_cap, kUntouched);
    shoal_conv2d_nhwc_f32__ref(&p, x.data(), w.data(), affine ? scale.data() : nullptr,
                               affine ? shift.data() : nullptr, y.data());

    const uint32_t ci_n = depthwise ? 1 : p.in.hi - p.in.lo, co_n = p.out.hi - p.out.lo;
    std::vector<double> wc(size_t{co_n} * ci_n * k.kh * k.kw);
    for (uint32_t o = 0; o < co_n; ++o)
      for (uint32_t i = 0; i < ci_n; ++i)
        for (uint32_t ky = 0; ky < k.kh; ++ky)
          for (uint32_t kx = 0; kx < k.kw; ++kx)
            wc[((size_t{o} * ci_n + i) * k.kh + ky) * k.kw + kx] =
                w[((size_t{p.out.lo + o} * k.kh + ky) * k.kw + kx) * p.w_in_stride + (depthwise ? 0 : p.in.lo + i)];
    Dense want = dense_conv(compact(x, p.in), wc, co_n, oh, ow, k, depthwise);
    for (uint32_t o = 0; o < co_n; ++o)
      for (size_t i = 0; i < size_t{oh} * ow; ++i) {
        double& v = want.v[o * oh * ow + i];
        v = affine ? v * scale[p.out.lo + o] + shift[p.out.lo + o] : v;
        v = dense_act(v, static_cast<fb::Activation>(p.activation));
      }
    expect_plane(y, p.out, want, "conv trial " + std::to_string(trial));
    if (::testing::Test::HasFatalFailure()) return;
    ++tested;
  }
  EXPECT_GT(tested, 300);
}

TEST(RefKernels, PoolingMatchesDenseLoops) {
  Sweep s;
  for (int trial = 0; trial < 300; ++trial) {
    const bool is_max = trial % 2 == 0;
    DenseWindow k;
    k.kh = s.pick(1, 4), k.kw = s.pick(1, 4), k.sh = s.pick(1, 3), k.sw = s.pick(1, 3);
    k.ph = s.pick(0, k.kh - 1), k.pw = s.pick(0, k.kw - 1);
    const uint32_t ih = s.pick(k.kh, 12), iw = s.pick(k.kw, 12);
    const uint32_t oh = out_side(ih, k.kh, k.sh, 1, k.ph), ow = out_side(iw, k.kw, k.sw, 1, k.pw);
    shoal_pool_params p{};
    p.in = s.plane(ih, iw, s.pick(1, 19));
    p.out = {oh, ow, p.in.stride, p.in.lo, p.in.hi};
    p.win = {k.kh, k.kw, k.sh, k.sw, k.ph, k.pw, 1, 1};
    const std::vector<float> x = activation(s, p.in);
    std::vector<float> y(size_t{oh} * ow * p.out.stride, kUntouched);
    (is_max ? shoal_maxpool_nhwc_f32__ref : shoal_avgpool_nhwc_f32__ref)(&p, x.data(), y.data());
    expect_plane(y, p.out, dense_pool(compact(x, p.in), oh, ow, k, is_max), "pool trial " + std::to_string(trial));
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST(RefKernels, GlobalAvgPoolMatchesDenseLoops) {
  Sweep s;
  for (int trial = 0; trial < 100; ++trial) {
    shoal_pool_params p{};
    p.in = s.plane(s.pick(1, 9), s.pick(1, 9), s.pick(1, 33));
    p.out = {1, 1, p.in.stride, p.in.lo, p.in.hi};
    const std::vector<float> x = activation(s, p.in);
    std::vector<float> y(p.out.stride, kUntouched);
    shoal_global_avgpool_nhwc_f32__ref(&p, x.data(), y.data());
    const DenseWindow k{p.in.h, p.in.w, 1, 1, 0, 0, 1, 1};
    expect_plane(y, p.out, dense_pool(compact(x, p.in), 1, 1, k, false), "gap");
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST(RefKernels, ElementwiseMatchDenseLoops) {
  Sweep s;
  for (int trial = 0; trial < 150; ++trial) {
    const uint32_t h = s.pick(1, 7), w = s.pick(1, 7), cap = s.pick(1, 23);
    const shoal_plane pa = s.plane(h, w, cap);
    const shoal_plane pb{h, w, cap, pa.lo, pa.hi};
    const std::vector<float> a = activation(s, pa), b = activation(s, pb);
    shoal_eltwise_params p{h, w, cap, cap, cap, pa.lo, pa.hi, static_cast<int32_t>(s.pick(0, 2))};
    const Dense da = compact(a, pa), db = compact(b, pb);
    const auto act = static_cast<fb::Activation>(p.activation);

    std::vector<float> y(size_t{h} * w * cap, kUntouched);
    shoal_add_nhwc_f32__ref(&p, a.data(), b.data(), y.data());
    Dense want = da;
    for (size_t i = 0; i < want.v.size(); ++i) want.v[i] = dense_act(da.v[i] + db.v[i], act);
    expect_plane(y, pa, want, "add");

    std::fill(y.begin(), y.end(), kUntouched);
    p.activation = SHOAL_ACT_RELU6;
    shoal_activation_nhwc_f32__ref(&p, a.data(), y.data());
    for (size_t i = 0; i < want.v.size(); ++i) want.v[i] = dense_act(da.v[i] * 1.0, fb::Activation::Relu6);
    expect_plane(y, pa, want, "relu6");

    std::fill(y.begin(), y.end(), kUntouched);
    shoal_softmax_nhwc_f32__ref(&p, a.data(), y.data());
    for (uint32_t yy = 0; yy < h; ++yy)
      for (uint32_t xx = 0; xx < w; ++xx) {
        double sum = 0;
        for (uint32_t c = 0; c < da.c; ++c) sum += std::exp(da.at(c, yy, xx));
        for (uint32_t c = 0; c < da.c; ++c) want.at(c, yy, xx) = std::exp(da.at(c, yy, xx)) / sum;
      }
    expect_plane(y, pa, want, "softmax");
    if (::testing::Test::HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace shoal::testing
