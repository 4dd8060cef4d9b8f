// An independent evaluation of a model at one subnet, for tests: every tensor is compacted
// to its active channels (NCHW, double) and every layer's weights are cut out of the
// full-width copy, so it shares no indexing with the engine or the kernels.
#ifndef SHOAL_TESTS_NAIVE_EVAL_H_
#define SHOAL_TESTS_NAIVE_EVAL_H_

#include <cstdint>
#include <map>
#include <vector>

#include "shoal/model.h"

namespace shoal::testing {

// One compact tensor: c x h x w.
struct Dense {
  uint32_t c = 0, h = 0, w = 0;
  std::vector<double> v;
  double& at(uint32_t ch, uint32_t y, uint32_t x) { return v[(size_t{ch} * h + y) * w + x]; }
  double at(uint32_t ch, uint32_t y, uint32_t x) const { return v[(size_t{ch} * h + y) * w + x]; }
};

struct DenseWindow {
  uint32_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
};

// Plain convolution (no affine, no activation); w is [o][i][ky][kx], i = 1 when depthwise.
Dense dense_conv(const Dense& in, const std::vector<double>& w, uint32_t out_c, uint32_t out_h,
                 uint32_t out_w, const DenseWindow& win, bool depthwise);
// Max or average (padding counted in the divisor) pooling.
Dense dense_pool(const Dense& in, uint32_t out_h, uint32_t out_w, const DenseWindow& win, bool max);
double dense_act(double v, fb::Activation a);

// `input` is packed HWC (as Engine::run takes it). Returns every tensor computed.
std::map<uint32_t, Dense> naive_eval(const Model& model, uint32_t subnet, const std::vector<float>& input);

// Dense (CHW) -> packed HWC, as Engine::run returns it.
std::vector<float> to_packed(const Dense& d);

}  // namespace shoal::testing

#endif  // SHOAL_TESTS_NAIVE_EVAL_H_
