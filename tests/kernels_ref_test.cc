// The reference kernels against dense double-precision loops (naive_eval) over sweeps of
// shapes: odd and prime channel counts, channel ranges that do not start at 0, strides,
// padding, dilation, depthwise. Inactive input channels hold NaN, so reading outside the
// active range shows up; inactive output channels must stay untouched.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernel_sweep.h"
#include "naive_eval.h"
#include "ref/ref.h"

namespace shoal::testing {
namespace {

TEST(RefKernels, Conv2dMatchesDenseLoops) {
  Sweep s;
  int tested = 0;
  for (int trial = 0; trial < 600; ++trial) {
    ConvCase c;
    if (!random_conv(s, trial, &c)) continue;
    const shoal_conv2d_params& p = c.p;
    const DenseWindow k{p.win.kernel_h, p.win.kernel_w, p.win.stride_h, p.win.stride_w,
                        p.win.pad_top,  p.win.pad_left, p.win.dilation_h, p.win.dilation_w};
    const bool depthwise = p.depthwise, affine = c.affine;
    const uint32_t oh = p.out.h, ow = p.out.w;
    const std::vector<float>& x = c.x;
    const std::vector<float>& w = c.w;
    const std::vector<float>& scale = c.scale;
    const std::vector<float>& shift = c.shift;
    std::vector<float> y = c.blank_output();
    shoal_conv2d_nhwc_f32__ref(&p, x.data(), w.data(), c.scale_ptr(), c.shift_ptr(), y.data());

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
    p.out = {oh, ow, p.in.stride, p.in.lo, p.in.hi, {}};
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
    p.out = {1, 1, p.in.stride, p.in.lo, p.in.hi, {}};
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
    const shoal_plane pb{h, w, cap, pa.lo, pa.hi, {}};
    const std::vector<float> a = activation(s, pa), b = activation(s, pb);
    shoal_eltwise_params p{h, w, cap, cap, cap, pa.lo, pa.hi, static_cast<int32_t>(s.pick(0, 2)), {}, {}, {}};
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
