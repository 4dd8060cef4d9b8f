// The layers an ONNX graph becomes (convolution, batch-norm, activations, pooling, add,
// concat, fully connected, softmax), each folding into the one before where it can.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <sstream>

#include "lowering.h"
#include "shoal/concat_order.h"

namespace shoal::onnx_import {

void Lowering::lower_conv() {
  const Value* xp = value(0);
  const HostTensor* w = constant(1);
  if (!xp) return refuse("its input is a constant");
  if (!w) return refuse("its weights are computed, not a constant");
  const Value x = *xp;
  if (x.vector()) return refuse("its input is a vector");
  if (w->dims.size() != static_cast<size_t>(x.rank)) {
    return refuse(std::to_string(w->dims.size() - 2) + "-d convolution (shoal's is 2-d, or 1-d on a sequence)");
  }
  const uint32_t O = static_cast<uint32_t>(w->dims[0]), I = static_cast<uint32_t>(w->dims[1]);
  const uint32_t kh = x.rank == 3 ? 1 : static_cast<uint32_t>(w->dims[2]), kw = static_cast<uint32_t>(w->dims.back());
  const int64_t group = attr_int("group", 1);
  const bool depthwise = group > 1 && group == x.c && O == x.c && I == 1;
  if (group != 1 && !depthwise) {
    return refuse(I == 1 && group == x.c
                      ? "depthwise with a channel multiplier of " + std::to_string(O / x.c) + " (shoal's is 1)"
                      : "grouped convolution with " + std::to_string(group) + " groups (shoal's are 1 or depthwise)");
  }
  if (!depthwise && I != x.c) return refuse("weights for " + std::to_string(I) + " input channels, input has " + std::to_string(x.c));
  std::vector<int64_t> strides = as_2d(attr_ints("strides"), false), dil = as_2d(attr_ints("dilations"), false);
  if (strides.empty()) strides = {1, 1};
  if (dil.empty()) dil = {1, 1};
  const std::vector<int64_t> ks = as_2d(attr_ints("kernel_shape"), false);
  if (strides.size() != 2 || dil.size() != 2 || (!ks.empty() && (ks.size() != 2 || ks[0] != kh || ks[1] != kw))) {
    return refuse("strides, dilations or kernel_shape that do not fit a 2-d kernel");
  }
  for (int64_t v : {strides[0], strides[1], dil[0], dil[1], int64_t{kh}, int64_t{kw}}) {
    if (v < 1 || v > 255) return refuse("a kernel, stride or dilation outside 1..255");
  }
  uint32_t p[4];
  if (!pads_from(x, kh, kw, strides, dil, p)) return;
  const int64_t eh = int64_t{x.h} + p[0] + p[2] - dil[0] * (kh - 1) - 1, ew = int64_t{x.w} + p[1] + p[3] - dil[1] * (kw - 1) - 1;
  if (eh < 0 || ew < 0) return refuse("a kernel larger than its padded input");
  const uint32_t oh = static_cast<uint32_t>(eh / strides[0] + 1), ow = static_cast<uint32_t>(ew / strides[1] + 1);
  const HostTensor* b = constant(2);
  if (!input_name(2).empty() && !b) return refuse("its bias is computed, not a constant");
  if (b && b->elements() != O) return refuse("a bias of " + std::to_string(b->elements()) + " values for " + std::to_string(O) + " channels");

  LoweredNode n;
  n.node.op = fb::OpType::Conv2d;
  n.node.depthwise = depthwise;
  n.node.window = fb::Window(kh, kw, static_cast<uint32_t>(strides[0]), static_cast<uint32_t>(strides[1]), p[0], p[1],
                             p[2], p[3], static_cast<uint32_t>(dil[0]), static_cast<uint32_t>(dil[1]));
  n.node.inputs = {x.tensor};
  const std::vector<float> wv = w->as_floats();
  Value y;
  y.c = O, y.h = oh, y.w = ow;
  if (depthwise) {
    // Output channel k is input channel k: the input's order and origins carry over.
    y.perm = x.perm, y.origin = x.origin;
    n.in_origin = x.origin;
    n.weights.resize(size_t{O} * kh * kw);
    for (uint32_t k = 0; k < O; ++k) {
      for (uint32_t i = 0; i < kh * kw; ++i) n.weights[size_t{k} * kh * kw + i] = wv[size_t{x.perm[k]} * kh * kw + i];
    }
    y.tensor = new_tensor(node_->output(0), out_.tensors[x.tensor].group, oh, ow);
  } else {
    for (uint32_t o = 0; o < O; ++o) y.perm.push_back(o);
    n.weights.resize(size_t{O} * kh * kw * I);
    for (uint32_t o = 0; o < O; ++o) {
      for (uint32_t ky = 0; ky < kh; ++ky) {
        for (uint32_t kx = 0; kx < kw; ++kx) {
          for (uint32_t k = 0; k < I; ++k) {
            n.weights[((size_t{o} * kh + ky) * kw + kx) * I + k] = wv[((size_t{o} * I + x.perm[k]) * kh + ky) * kw + kx];
          }
        }
      }
    }
    n.in_origin = x.origin;
    y.tensor = new_tensor(node_->output(0), new_class(O), oh, ow);
  }
  n.shift.assign(O, 0.0f);
  if (b) {
    const std::vector<float> bv = b->as_floats();
    for (uint32_t k = 0; k < O; ++k) n.shift[k] = bv[y.perm[k]];
  }
  n.scale.assign(O, 1.0f);
  n.node.outputs = {y.tensor};
  const uint32_t index = add_node(std::move(n));
  if (!depthwise) {
    for (uint32_t o = 0; o < O; ++o) y.origin.push_back({index, o});
  }
  bind(0, std::move(y));
}

void Lowering::affine(const Value& x, const std::vector<float>& scale, const std::vector<float>& shift) {
  if (LoweredNode* n = fusable(x); n && !n->scale.empty()) {
    // Folded: y = s * (scale * acc + shift) + t, per stored channel.
    for (uint32_t k = 0; k < x.c; ++k) {
      const uint32_t c = x.perm[k];
      n->scale[k] *= scale[c];
      n->shift[k] = n->shift[k] * scale[c] + shift[c];
    }
    return alias(x, x);
  }
  if (x.padded) return refuse("its input comes from a Pad");
  // A 1x1 depthwise layer of weight 1 carries the affine.
  LoweredNode n;
  n.node.op = fb::OpType::Conv2d;
  n.node.depthwise = true;
  n.node.window = fb::Window(1, 1, 1, 1, 0, 0, 0, 0, 1, 1);
  n.node.inputs = {x.tensor};
  n.weights.assign(x.c, 1.0f);
  n.in_origin = x.origin;
  for (uint32_t k = 0; k < x.c; ++k) n.scale.push_back(scale[x.perm[k]]), n.shift.push_back(shift[x.perm[k]]);
  Value y = output_like(x, new_tensor(node_->output(0), out_.tensors[x.tensor].group, x.h, x.w));
  n.node.outputs = {y.tensor};
  add_node(std::move(n));
  bind(0, std::move(y));
}

void Lowering::lower_batchnorm() {
  const Value* x = value(0);
  if (!x) return refuse("its input is a constant");
  for (int i = 1; i < 5; ++i) {
    if (!constant(i)) return refuse("its statistics are computed, not constants");
    if (constant(i)->elements() != x->c) return refuse("statistics of " + std::to_string(constant(i)->elements()) + " values for " + std::to_string(x->c) + " channels");
  }
  if (attr_int("training_mode", 0)) return refuse("training_mode is on (export the model in eval mode)");
  if (out_.opset < 9 && attr_int("spatial", 1) != 1) return refuse("spatial=0 (per-element statistics)");
  for (int i = 1; i < node_->output_size(); ++i) {
    if (output_used(i)) return refuse("its running statistics outputs are used (a training graph)");
  }
  if (x->vector() && x->h * x->w > 1) return refuse("batch-norm over a flattened feature map");
  const float eps = attr_float("epsilon", 1e-5f);
  const std::vector<float> g = constant(1)->as_floats(), beta = constant(2)->as_floats(), mean = constant(3)->as_floats(),
                           var = constant(4)->as_floats();
  std::vector<float> scale(x->c), shift(x->c);
  for (uint32_t c = 0; c < x->c; ++c) {
    scale[c] = g[c] / std::sqrt(var[c] + eps);
    shift[c] = beta[c] - mean[c] * scale[c];
  }
  affine(*x, scale, shift);
}

void Lowering::lower_activation(fb::Activation act) {
  const Value* xp = value(0);
  if (!xp) return refuse("its input is a constant");
  const Value x = *xp;
  if (x.padded) return refuse("its input comes from a Pad");
  if (LoweredNode* n = fusable(x)) {
    if (n->node.op == fb::OpType::Conv2d || n->node.op == fb::OpType::Linear || n->node.op == fb::OpType::Add) {
      n->node.activation = act;
      return alias(x, x);
    }
  }
  LoweredNode n;
  n.node.op = fb::OpType::Activation;
  n.node.activation = act;
  n.node.inputs = {x.tensor};
  Value y = output_like(x, new_tensor(node_->output(0), out_.tensors[x.tensor].group, x.h, x.w));
  n.node.outputs = {y.tensor};
  add_node(std::move(n));
  bind(0, std::move(y));
}

void Lowering::lower_clip() {
  float lo = -FLT_MAX, hi = FLT_MAX;
  if (out_.opset < 11) {
    lo = attr_float("min", lo), hi = attr_float("max", hi);
  } else {
    for (int i = 1; i <= 2; ++i) {
      if (input_name(i).empty()) continue;
      const HostTensor* t = constant(i);
      if (!t || t->elements() != 1) return refuse("its bounds are computed, not constants");
      (i == 1 ? lo : hi) = t->as_floats()[0];
    }
  }
  if (lo == 0.0f && hi == 6.0f) return lower_activation(fb::Activation::Relu6);
  if (lo == 0.0f && hi >= FLT_MAX) return lower_activation(fb::Activation::Relu);
  std::ostringstream s;
  s << "clips to [" << lo << ", " << hi << "]; shoal's activations are ReLU [0, inf) and ReLU6 [0, 6]";
  refuse(s.str());
}

void Lowering::lower_pool(bool max) {
  const Value* xp = value(0);
  if (!xp) return refuse("its input is a constant");
  const Value x = *xp;
  if (x.vector()) return refuse("its input is a vector");
  if (max && node_->output_size() > 1 && output_used(1)) return refuse("its Indices output is used");
  if (max && x.padded) return refuse("its input comes from a Pad (zeros are not max pooling's padding)");
  const size_t dims = attr_ints("kernel_shape").size();
  if (dims != static_cast<size_t>(x.rank - 2)) return refuse(std::to_string(dims) + "-d pooling (shoal's is 2-d, or 1-d on a sequence)");
  const std::vector<int64_t> ks = as_2d(attr_ints("kernel_shape"), false);
  std::vector<int64_t> strides = as_2d(attr_ints("strides"), false), dil = as_2d(attr_ints("dilations"), false);
  if (strides.empty()) strides = {1, 1};
  if (!dil.empty() && (dil.size() != 2 || dil[0] != 1 || dil[1] != 1)) return refuse("dilated pooling");
  dil = {1, 1};
  for (int64_t v : {strides[0], strides[1], ks[0], ks[1]}) {
    if (v < 1 || v > 255) return refuse("a kernel or stride outside 1..255");
  }
  const uint32_t kh = static_cast<uint32_t>(ks[0]), kw = static_cast<uint32_t>(ks[1]);
  uint32_t p[4];
  if (!pads_from(x, kh, kw, strides, dil, p)) return;
  const bool declared_pads = p[0] - x.pad[0] || p[1] - x.pad[1] || p[2] - x.pad[2] || p[3] - x.pad[3];
  // ONNX's default (count_include_pad=0) leaves padding out of the divisor; opsets before 7
  // have no attribute and do the same.
  const bool exclude = !max && (out_.opset < 7 || !attr_int("count_include_pad", 0));
  if (exclude && x.padded && declared_pads) {
    return refuse("count_include_pad=0 with padding after a Pad (the Pad's zeros count, the padding's do not)");
  }
  const uint32_t size[2] = {x.h, x.w}, k[2] = {kh, kw};
  uint32_t out[2];
  for (int a = 0; a < 2; ++a) {
    const int64_t s = strides[a], span = int64_t{size[a]} + p[a] + p[a + 2] - k[a];
    if (span < 0) return refuse("a window larger than its padded input");
    int64_t n = span / s + 1;
    if (attr_int("ceil_mode", 0)) {
      n = (span + s - 1) / s + 1;
      if ((n - 1) * s >= int64_t{size[a]} + p[a]) --n;  // the last window must start inside
      const int64_t need = (n - 1) * s + k[a] - size[a] - p[a];
      if (need > p[a + 2]) {
        if (!max && !exclude) {
          return refuse("ceil_mode adds a partial window with count_include_pad=1 (PyTorch divides it by its taps "
                        "inside the padded input, which shoal's average pooling does not)");
        }
        p[a + 2] = static_cast<uint32_t>(need);
      }
    }
    out[a] = static_cast<uint32_t>(n);
  }
  if (p[0] >= kh || p[2] >= kh || p[1] >= kw || p[3] >= kw) return refuse("padding as large as the window");
  if (kh == 1 && kw == 1 && out[0] == x.h && out[1] == x.w) return alias(x, x);  // a 1x1 window, stride 1: nothing
  LoweredNode n;
  n.node.op = max ? fb::OpType::MaxPool : fb::OpType::AvgPool;
  // Padding out of the divisor where there is any (a Pad's zeros count, as ONNX's do).
  n.node.exclude_padding = exclude && !x.padded && (p[0] || p[1] || p[2] || p[3]);
  n.node.window = fb::Window(kh, kw, static_cast<uint32_t>(strides[0]), static_cast<uint32_t>(strides[1]), p[0], p[1],
                             p[2], p[3], 1, 1);
  n.node.inputs = {x.tensor};
  Value y = output_like(x, new_tensor(node_->output(0), out_.tensors[x.tensor].group, out[0], out[1]));
  y.h = out[0], y.w = out[1];
  n.node.outputs = {y.tensor};
  add_node(std::move(n));
  bind(0, std::move(y));
}

void Lowering::lower_global_pool() {
  const Value* xp = value(0);
  if (!xp) return refuse("its input is a constant");
  const Value x = *xp;
  if (x.vector() || x.padded) return refuse("its input is a vector or a Pad");
  if (x.h == 1 && x.w == 1) return alias(x, x);
  LoweredNode n;
  n.node.op = fb::OpType::GlobalAvgPool;
  n.node.inputs = {x.tensor};
  Value y = output_like(x, new_tensor(node_->output(0), out_.tensors[x.tensor].group, 1, 1));
  y.h = y.w = 1;
  n.node.outputs = {y.tensor};
  add_node(std::move(n));
  bind(0, std::move(y));
}

void Lowering::lower_add() {
  if (node_->input_size() != 2) return refuse(std::to_string(node_->input_size()) + " inputs (shoal adds two)");
  const Value* a = value(0);
  const Value* b = value(1);
  if (!a && !b) return refuse("both inputs are constants");
  if (!a || !b) {
    // A bias: a constant per channel, or one for all.
    const Value x = a ? *a : *b;
    if (!constant(a ? 1 : 0)) return refuse("adds nothing to a tensor (an empty input)");
    const HostTensor& c = *constant(a ? 1 : 0);
    const uint64_t n = c.elements();
    size_t big = 0;
    for (int64_t d : c.dims) big += d > 1;
    const size_t from_end = static_cast<size_t>(x.rank - 1);  // the channel axis, counted from the last
    const bool channel_dim = c.dims.size() >= from_end && c.dims[c.dims.size() - from_end] == static_cast<int64_t>(n);
    if (!(n == 1 || (n == x.c && big <= 1 && channel_dim))) {
      return refuse("adds a constant that is not one value per channel");
    }
    const std::vector<float> v = c.as_floats();
    std::vector<float> shift(x.c);
    for (uint32_t k = 0; k < x.c; ++k) shift[k] = v[n == 1 ? 0 : k];
    return affine(x, std::vector<float>(x.c, 1.0f), shift);
  }
  if (a->c != b->c || a->h != b->h || a->w != b->w || a->rank != b->rank) {
    return refuse("inputs of different shapes (shoal adds tensors of one shape)");
  }
  if (a->perm != b->perm) return refuse("its inputs store their channels in different orders (one comes through a Concat)");
  if (a->padded || b->padded) return refuse("an input comes from a Pad");
  const uint32_t ca = out_.find(out_.tensors[a->tensor].group), cb = out_.find(out_.tensors[b->tensor].group);
  if (ca != cb) out_.parent[cb] = ca;
  LoweredNode n;
  n.node.op = fb::OpType::Add;
  n.node.inputs = {a->tensor, b->tensor};
  Value y = output_like(*a, new_tensor(node_->output(0), ca, a->h, a->w));
  n.node.outputs = {y.tensor};
  add_node(std::move(n));
  bind(0, std::move(y));
}

void Lowering::lower_concat() {
  bool all_const = true;
  for (int i = 0; i < node_->input_size(); ++i) all_const = all_const && constant(i);
  if (all_const) return lower_shape_arithmetic();
  const int n = node_->input_size();
  if (n < 2 || n > static_cast<int>(kMaxConcatInputs)) return refuse("shoal concatenates 2 to 16 tensors");
  std::vector<Value> in;
  for (int i = 0; i < n; ++i) {
    if (!value(i)) return refuse("concatenates a constant with computed tensors");
    in.push_back(*value(i));
  }
  const int64_t rank = in[0].rank;
  int64_t axis = attr_int("axis", 1);
  if (axis < 0) axis += rank;
  if (axis != 1) return refuse("concatenates along axis " + std::to_string(axis) + " (shoal concatenates channels)");
  std::vector<uint32_t> caps;
  for (const Value& v : in) {
    if (v.h != in[0].h || v.w != in[0].w || v.rank != in[0].rank || v.padded) {
      return refuse("inputs of different heights and widths");
    }
    if (v.vector() && v.h * v.w > 1) return refuse("concatenates flattened feature maps");
    caps.push_back(v.c);
  }
  Value y;
  y.h = in[0].h, y.w = in[0].w, y.rank = in[0].rank;
  uint32_t total = 0;
  std::vector<uint32_t> offset;
  for (uint32_t c : caps) offset.push_back(total), total += c;
  y.c = total;
  for (const shoal_concat_run& r : concat_runs(caps.data(), caps.size())) {
    for (uint32_t i = 0; i < r.count; ++i) {
      y.perm.push_back(offset[r.input] + in[r.input].perm[r.src + i]);
      y.origin.push_back(in[r.input].origin[r.src + i]);
    }
  }
  y.tensor = new_tensor(node_->output(0), new_class(total), y.h, y.w);
  LoweredNode node;
  node.node.op = fb::OpType::Concat;
  for (const Value& v : in) node.node.inputs.push_back(v.tensor);
  node.node.outputs = {y.tensor};
  add_node(std::move(node));
  bind(0, std::move(y));
}

void Lowering::lower_gemm(bool matmul) {
  const Value* xp = value(0);
  const HostTensor* b = constant(1);
  if (!xp) return refuse("its first input is a constant");
  if (!b) return refuse("its weights are computed, not a constant");
  const Value x = *xp;
  if (!x.vector()) return refuse("multiplies a feature map (shoal's fully connected layer takes a vector: Flatten first)");
  if (b->dims.size() != 2) return refuse("weights of rank " + std::to_string(b->dims.size()) + " (shoal's are a matrix)");
  if (!matmul && attr_int("transA", 0)) return refuse("transA=1 (the input transposed)");
  const bool trans_b = !matmul && attr_int("transB", 0);
  const float alpha = matmul ? 1.0f : attr_float("alpha", 1.0f), beta = matmul ? 1.0f : attr_float("beta", 1.0f);
  const uint64_t K = static_cast<uint64_t>(b->dims[trans_b ? 1 : 0]);
  const uint32_t O = static_cast<uint32_t>(b->dims[trans_b ? 0 : 1]);
  const uint64_t n = uint64_t{x.c} * x.h * x.w;
  if (K != n) return refuse("weights for " + std::to_string(K) + " inputs, input has " + std::to_string(n));
  const HostTensor* c = matmul ? nullptr : constant(2);
  if (!matmul && !input_name(2).empty() && !c) return refuse("its bias is computed, not a constant");
  if (c && c->elements() != 1 && c->elements() != O) return refuse("a bias that is not one value or one per output (C of shape [M, N])");
  LoweredNode node;
  node.node.op = fb::OpType::Linear;
  node.node.inputs = {x.tensor};
  const std::vector<float> bv = b->as_floats();
  const uint32_t hw = x.h * x.w;
  node.weights.resize(size_t{O} * n);
  for (uint32_t o = 0; o < O; ++o) {
    for (uint32_t p = 0; p < hw; ++p) {
      for (uint32_t k = 0; k < x.c; ++k) {
        const uint64_t onnx_k = uint64_t{x.perm[k]} * hw + p;  // C, H, W order
        node.weights[(size_t{o} * hw + p) * x.c + k] = alpha * bv[trans_b ? o * K + onnx_k : onnx_k * O + o];
      }
    }
  }
  node.in_origin = x.origin;
  node.scale.assign(O, 1.0f);
  node.shift.assign(O, 0.0f);
  if (c) {
    const std::vector<float> cv = c->as_floats();
    for (uint32_t o = 0; o < O; ++o) node.shift[o] = beta * cv[cv.size() == 1 ? 0 : o];
  }
  Value y;
  y.c = O, y.h = y.w = 1, y.rank = 2;
  y.tensor = new_tensor(node_->output(0), new_class(O), 1, 1);
  node.node.outputs = {y.tensor};
  const uint32_t index = add_node(std::move(node));
  for (uint32_t o = 0; o < O; ++o) y.perm.push_back(o), y.origin.push_back({index, o});
  bind(0, std::move(y));
}

void Lowering::lower_softmax() {
  const Value* xp = value(0);
  if (!xp) return refuse("its input is a constant");
  const Value x = *xp;
  const int64_t rank = x.rank;
  int64_t axis = attr_int("axis", out_.opset < 13 ? 1 : -1);
  if (axis < 0) axis += rank;
  const bool spatial = x.h * x.w > 1;
  // Before opset 13 the input is seen as [N, rest] from the axis on.
  const bool over_channels = axis == 1 && (!spatial || (out_.opset >= 13 && !x.vector()));
  if (!over_channels) return refuse("a softmax over axis " + std::to_string(axis) + " of a rank-" + std::to_string(rank) + " tensor (shoal's is over channels)");
  if (x.padded) return refuse("its input comes from a Pad");
  LoweredNode n;
  n.node.op = fb::OpType::Softmax;
  n.node.inputs = {x.tensor};
  Value y = output_like(x, new_tensor(node_->output(0), out_.tensors[x.tensor].group, x.h, x.w));
  n.node.outputs = {y.tensor};
  add_node(std::move(n));
  bind(0, std::move(y));
}

}  // namespace shoal::onnx_import
