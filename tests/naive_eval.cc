#include "naive_eval.h"

#include <algorithm>
#include <cmath>

#include <gtest/gtest.h>

namespace shoal::testing {
namespace {

struct Range {
  uint32_t lo, hi;
  uint32_t n() const { return hi - lo; }
};

}  // namespace

double dense_act(double v, fb::Activation a) {
  if (a == fb::Activation::Relu) return std::max(0.0, v);
  if (a == fb::Activation::Relu6) return std::min(6.0, std::max(0.0, v));
  return v;
}

Dense dense_conv(const Dense& in, const std::vector<double>& w, uint32_t out_c, uint32_t out_h,
                 uint32_t out_w, const DenseWindow& k, bool depthwise) {
  Dense out{out_c, out_h, out_w, std::vector<double>(size_t{out_c} * out_h * out_w, 0.0)};
  const uint32_t ci_n = depthwise ? 1 : in.c;
  for (uint32_t o = 0; o < out_c; ++o)
    for (uint32_t oy = 0; oy < out_h; ++oy)
      for (uint32_t ox = 0; ox < out_w; ++ox) {
        double acc = 0;
        for (uint32_t i = 0; i < ci_n; ++i)
          for (uint32_t ky = 0; ky < k.kh; ++ky)
            for (uint32_t kx = 0; kx < k.kw; ++kx) {
              const int64_t iy = int64_t{oy} * k.sh - k.ph + int64_t{ky} * k.dh;
              const int64_t ix = int64_t{ox} * k.sw - k.pw + int64_t{kx} * k.dw;
              if (iy < 0 || ix < 0 || iy >= in.h || ix >= in.w) continue;
              acc += in.at(depthwise ? o : i, iy, ix) * w[((size_t{o} * ci_n + i) * k.kh + ky) * k.kw + kx];
            }
        out.at(o, oy, ox) = acc;
      }
  return out;
}

Dense dense_pool(const Dense& in, uint32_t out_h, uint32_t out_w, const DenseWindow& k, bool is_max) {
  Dense out{in.c, out_h, out_w, std::vector<double>(size_t{in.c} * out_h * out_w, 0.0)};
  for (uint32_t c = 0; c < in.c; ++c)
    for (uint32_t oy = 0; oy < out_h; ++oy)
      for (uint32_t ox = 0; ox < out_w; ++ox) {
        double acc = is_max ? -INFINITY : 0.0;
        for (uint32_t ky = 0; ky < k.kh; ++ky)
          for (uint32_t kx = 0; kx < k.kw; ++kx) {
            const int64_t iy = int64_t{oy} * k.sh - k.ph + ky;
            const int64_t ix = int64_t{ox} * k.sw - k.pw + kx;
            if (iy < 0 || ix < 0 || iy >= in.h || ix >= in.w) continue;
            acc = is_max ? std::max(acc, in.at(c, iy, ix)) : acc + in.at(c, iy, ix);
          }
        out.at(c, oy, ox) = is_max ? acc : acc / (k.kh * k.kw);
      }
  return out;
}

std::vector<float> to_packed(const Dense& d) {
  std::vector<float> out(size_t{d.c} * d.h * d.w);
  for (uint32_t y = 0; y < d.h; ++y)
    for (uint32_t x = 0; x < d.w; ++x)
      for (uint32_t c = 0; c < d.c; ++c) out[(size_t{y} * d.w + x) * d.c + c] = static_cast<float>(d.at(c, y, x));
  return out;
}

std::map<uint32_t, Dense> naive_eval(const Model& model, uint32_t subnet, const std::vector<float>& input) {
  const fb::Model& m = model.fb();
  const fb::Subnet* sub = m.subnets()->Get(subnet);
  auto range_of = [&](uint32_t tensor) {
    const fb::GroupRange* r = sub->ranges()->Get(m.tensors()->Get(tensor)->group());
    return Range{r->lo(), r->hi()};
  };
  auto blank = [&](uint32_t tensor) {
    Dense d;
    d.c = range_of(tensor).n();
    d.h = m.tensors()->Get(tensor)->height();
    d.w = m.tensors()->Get(tensor)->width();
    d.v.assign(size_t{d.c} * d.h * d.w, 0.0);
    return d;
  };
  std::map<uint32_t, Dense> t;
  Dense& x0 = t[m.input()] = blank(m.input());
  for (uint32_t y = 0; y < x0.h; ++y)
    for (uint32_t x = 0; x < x0.w; ++x)
      for (uint32_t c = 0; c < x0.c; ++c) x0.at(c, y, x) = input[(size_t{y} * x0.w + x) * x0.c + c];

  for (const fb::Node* node : *m.nodes()) {
    const uint32_t in_id = node->inputs()->Get(0), out_id = node->outputs()->Get(0);
    const Dense& in = t.at(in_id);
    Dense out = blank(out_id);
    const Range ri = range_of(in_id), ro = range_of(out_id);
    switch (node->op()) {
      case fb::OpType::Conv2d:
      case fb::OpType::Linear: {
        const TensorShape is = model.shape(in_id);
        const bool linear = node->op() == fb::OpType::Linear;
        const fb::Window* win = node->window();
        const uint32_t kh = linear ? in.h : win->kernel_h(), kw = linear ? in.w : win->kernel_w();
        const uint32_t sh = linear ? 1 : win->stride_h(), sw = linear ? 1 : win->stride_w();
        const uint32_t ph = linear ? 0 : win->pad_top(), pw = linear ? 0 : win->pad_left();
        const uint32_t dh = linear ? 1 : win->dilation_h(), dw = linear ? 1 : win->dilation_w();
        const uint32_t cin_full = node->depthwise() ? 1 : is.c;
        // Cut this subnet's weights out of the full OHWI copy into [o][i][ky][kx].
        const float* wf = model.buffer_f32(node->weights());
        const uint32_t ci_n = node->depthwise() ? 1 : ri.n();
        std::vector<double> w(size_t{ro.n()} * ci_n * kh * kw);
        for (uint32_t o = 0; o < ro.n(); ++o)
          for (uint32_t i = 0; i < ci_n; ++i)
            for (uint32_t ky = 0; ky < kh; ++ky)
              for (uint32_t kx = 0; kx < kw; ++kx) {
                const size_t full = ((size_t{ro.lo + o} * kh + ky) * kw + kx) * cin_full +
                                    (node->depthwise() ? 0 : ri.lo + i);
                w[((size_t{o} * ci_n + i) * kh + ky) * kw + kx] = wf[full];
              }
        const uint32_t sets = m.affine_sets();
        auto affine = [&](int32_t buffer, uint32_t o, double fallback) -> double {
          if (buffer < 0) return fallback;
          const float* b = model.buffer_f32(buffer);
          const bool per_set = m.buffers()->Get(buffer)->data()->size() == size_t{sets} * model.shape(out_id).c * 4 && sets > 1;
          return b[(per_set ? size_t{sub->affine_set()} * model.shape(out_id).c : 0) + ro.lo + o];
        };
        const Dense conv = dense_conv(in, w, ro.n(), out.h, out.w, {kh, kw, sh, sw, ph, pw, dh, dw},
                                      node->depthwise());
        for (uint32_t o = 0; o < ro.n(); ++o)
          for (uint32_t oy = 0; oy < out.h; ++oy)
            for (uint32_t ox = 0; ox < out.w; ++ox) {
              out.at(o, oy, ox) = dense_act(conv.at(o, oy, ox) * affine(node->scale(), o, 1.0) +
                                                affine(node->shift(), o, 0.0), node->activation());
            }
        break;
      }
      case fb::OpType::MaxPool:
      case fb::OpType::AvgPool: {
        const fb::Window* win = node->window();
        out = dense_pool(in, out.h, out.w,
                         {win->kernel_h(), win->kernel_w(), win->stride_h(), win->stride_w(), win->pad_top(),
                          win->pad_left(), 1, 1},
                         node->op() == fb::OpType::MaxPool);
        break;
      }
      case fb::OpType::GlobalAvgPool:
        for (uint32_t c = 0; c < out.c; ++c) {
          double acc = 0;
          for (uint32_t y = 0; y < in.h; ++y)
            for (uint32_t x = 0; x < in.w; ++x) acc += in.at(c, y, x);
          out.at(c, 0, 0) = acc / (in.h * in.w);
        }
        break;
      case fb::OpType::Add: {
        const Dense& b = t.at(node->inputs()->Get(1));
        for (size_t i = 0; i < out.v.size(); ++i) out.v[i] = dense_act(in.v[i] + b.v[i], node->activation());
        break;
      }
      case fb::OpType::Activation:
        for (size_t i = 0; i < out.v.size(); ++i) out.v[i] = dense_act(in.v[i], node->activation());
        break;
      case fb::OpType::Concat: {
        // Every input channel with its key (j + 0.5) / capacity, stably sorted: the output's
        // full-width order; this subnet's channels are the output range of it.
        struct Source { double key; uint32_t input, channel; };
        std::vector<Source> order;
        for (uint32_t b = 0; b < node->inputs()->size(); ++b) {
          const uint32_t cap = model.shape(node->inputs()->Get(b)).c;
          for (uint32_t j = 0; j < cap; ++j) order.push_back({(j + 0.5) / cap, b, j});
        }
        std::stable_sort(order.begin(), order.end(), [](const Source& a, const Source& b) { return a.key < b.key; });
        for (uint32_t o = 0; o < ro.n(); ++o) {
          const Source& from = order.at(ro.lo + o);
          const uint32_t in_b = node->inputs()->Get(from.input);
          const Dense& src = t.at(in_b);
          const Range rb = range_of(in_b);
          if (from.channel < rb.lo || from.channel >= rb.hi) {
            ADD_FAILURE() << "concat channel " << ro.lo + o << " is input " << from.input << "'s channel "
                          << from.channel << ", outside its range";
            continue;
          }
          for (uint32_t y = 0; y < out.h; ++y)
            for (uint32_t x = 0; x < out.w; ++x) out.at(o, y, x) = src.at(from.channel - rb.lo, y, x);
        }
        break;
      }
      case fb::OpType::Softmax:
        for (uint32_t y = 0; y < out.h; ++y)
          for (uint32_t x = 0; x < out.w; ++x) {
            double max = -INFINITY, sum = 0;
            for (uint32_t c = 0; c < out.c; ++c) max = std::max(max, in.at(c, y, x));
            for (uint32_t c = 0; c < out.c; ++c) sum += std::exp(in.at(c, y, x) - max);
            for (uint32_t c = 0; c < out.c; ++c) out.at(c, y, x) = std::exp(in.at(c, y, x) - max) / sum;
          }
        break;
    }
    (void)ri;
    t[out_id] = std::move(out);
  }
  return t;
}

}  // namespace shoal::testing
