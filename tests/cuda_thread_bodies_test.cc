// The CUDA kernels' thread bodies (kernels/cuda/thread_bodies.h), run here on the CPU for
// every element of a layer, against the reference kernels on the shared sweep of shapes and
// channel ranges (inactive channels NaN on input, untouched on output). What a GPU adds (the
// launches, the memory) is tested by the cross-backend test where a GPU is present.
#include <gtest/gtest.h>

#include "cuda/thread_bodies.h"
#include "kernel_sweep.h"
#include "ref/ref.h"

namespace shoal::testing {
namespace {

TEST(CudaThreadBodies, Conv2dMatchesTheReference) {
  Sweep s;
  int tested = 0;
  for (int trial = 0; trial < 800; ++trial) {
    ConvCase c;
    if (!random_conv(s, trial, &c)) continue;
    std::vector<float> want = c.blank_output(), got = c.blank_output();
    shoal_conv2d_nhwc_f32__ref(&c.p, c.x.data(), c.w.data(), c.scale_ptr(), c.shift_ptr(), want.data());
    const size_t n = cuda::elements(c.p.out.h, c.p.out.w, c.p.out.lo, c.p.out.hi);
    for (size_t i = 0; i < n; ++i) cuda::conv2d_thread(c.p, c.x.data(), c.w.data(), c.scale_ptr(), c.shift_ptr(), got.data(), i);
    expect_plane(got, c.p.out, compact(want, c.p.out), "trial " + std::to_string(trial));
    if (HasFatalFailure()) return;
    ++tested;
  }
  EXPECT_GT(tested, 400);
}

TEST(CudaThreadBodies, PoolingMatchesTheReference) {
  for (int kind = 0; kind < 3; ++kind) {
    Sweep s;
    int tested = 0;
    for (int trial = 0; trial < 300; ++trial) {
      PoolCase c;
      if (!random_pool(s, kind == 2, &c)) continue;
      std::vector<float> want = c.blank_output(), got = c.blank_output();
      if (kind == 0) shoal_maxpool_nhwc_f32__ref(&c.p, c.x.data(), want.data());
      if (kind == 1) shoal_avgpool_nhwc_f32__ref(&c.p, c.x.data(), want.data());
      if (kind == 2) {
        shoal_global_avgpool_nhwc_f32__ref(&c.p, c.x.data(), want.data());
        for (uint32_t i = 0; i < c.p.out.hi - c.p.out.lo; ++i) cuda::global_avg_pool_thread(c.p, c.x.data(), got.data(), i);
      } else {
        const size_t n = cuda::elements(c.p.out.h, c.p.out.w, c.p.out.lo, c.p.out.hi);
        for (size_t i = 0; i < n; ++i) cuda::pool_thread(kind == 0, c.p, c.x.data(), got.data(), i);
      }
      expect_plane(got, c.p.out, compact(want, c.p.out), "kind " + std::to_string(kind) + " trial " + std::to_string(trial));
      if (HasFatalFailure()) return;
      ++tested;
    }
    EXPECT_GT(tested, 200) << "kind " << kind;
  }
}

TEST(CudaThreadBodies, ElementwiseAndSoftmaxMatchTheReference) {
  Sweep s;
  for (int trial = 0; trial < 200; ++trial) {
    const uint32_t h = s.pick(1, 6), w = s.pick(1, 6), cap = s.pick(1, 40);
    const shoal_plane a_plane = s.plane(h, w, cap);
    // Inputs and output of different capacities, the same active range.
    const shoal_plane b_plane{h, w, cap + s.pick(0, 3), a_plane.lo, a_plane.hi, {}};
    const shoal_plane y_plane{h, w, cap + s.pick(0, 3), a_plane.lo, a_plane.hi, {}};
    const std::vector<float> a = activation(s, a_plane), b = activation(s, b_plane);
    const shoal_eltwise_params p{h, w, a_plane.stride, b_plane.stride, y_plane.stride, a_plane.lo, a_plane.hi,
                                 static_cast<int32_t>(s.pick(0, 2)), {}, {}, {}};
    const std::string what = "trial " + std::to_string(trial);
    const size_t n = cuda::elements(h, w, p.lo, p.hi);
    std::vector<float> want(size_t{h} * w * y_plane.stride, kUntouched), got = want;
    shoal_add_nhwc_f32__ref(&p, a.data(), b.data(), want.data());
    for (size_t i = 0; i < n; ++i) cuda::eltwise_thread(p, a.data(), b.data(), got.data(), i);
    expect_plane(got, y_plane, compact(want, y_plane), "add " + what);
    std::fill(want.begin(), want.end(), kUntouched), std::fill(got.begin(), got.end(), kUntouched);
    shoal_activation_nhwc_f32__ref(&p, a.data(), want.data());
    for (size_t i = 0; i < n; ++i) cuda::eltwise_thread(p, a.data(), nullptr, got.data(), i);
    expect_plane(got, y_plane, compact(want, y_plane), "activation " + what);
    std::fill(want.begin(), want.end(), kUntouched), std::fill(got.begin(), got.end(), kUntouched);
    shoal_softmax_nhwc_f32__ref(&p, a.data(), want.data());
    for (size_t px = 0; px < size_t{h} * w; ++px) cuda::softmax_thread(p, a.data(), got.data(), px);
    expect_plane(got, y_plane, compact(want, y_plane), "softmax " + what);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace shoal::testing
