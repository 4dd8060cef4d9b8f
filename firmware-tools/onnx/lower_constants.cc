// What an ONNX graph computes on constants or only views differently: Flatten, Reshape and
// Squeeze to a vector, Pad (held for the next layer), Constant, and the shape arithmetic
// exporters emit (Shape, Gather, Unsqueeze, Cast, Transpose, Concat of constants).
#include <algorithm>
#include <set>

#include "lowering.h"
#include "proto_tensor.h"

namespace shoal::onnx_import {

void Lowering::lower_flatten(int64_t axis) {
  const Value* x = value(0);
  if (!x) return lower_shape_arithmetic();
  if (x->padded) return refuse("its input comes from a Pad");
  if (axis < 0) axis += x->rank;
  if (axis != 1) return refuse("flattens at axis " + std::to_string(axis) + " (shoal keeps the batch apart: axis 1)");
  Value y = *x;
  y.rank = 2;
  alias(*x, std::move(y));
}

void Lowering::lower_reshape() {
  const Value* x = value(0);
  if (!x) return lower_shape_arithmetic();
  const uint64_t n = uint64_t{x->c} * x->h * x->w;
  std::vector<int64_t> shape;
  if (node_->op_type() == "Squeeze") {
    std::vector<int64_t> axes = attr_ints("axes");
    if (constant(1)) axes = constant(1)->as_ints();
    std::set<int64_t> drop;
    for (int64_t a : axes) drop.insert(a < 0 ? a + x->rank : a);
    const std::set<int64_t> spatial = x->rank == 3 ? std::set<int64_t>{2} : std::set<int64_t>{2, 3};
    if (x->vector() || drop != spatial || x->h != 1 || x->w != 1) {
      return refuse("squeezes other axes than a 1x1 map's height and width");
    }
    shape = {-1, x->c};
  } else {
    const HostTensor* s = constant(1);
    if (!s) return refuse("its shape is computed from something other than constants and input shapes");
    shape = s->as_ints();
  }
  if (shape.size() == 2) {
    const int64_t first = shape[0], second = shape[1];
    const bool batch = first == 1 || first == -1 || first == 0;
    if (batch && (second == static_cast<int64_t>(n) || (second == -1 && first != -1))) {
      Value y = *x;
      y.rank = 2;
      return alias(*x, std::move(y));
    }
  }
  if (shape.size() == 4 && x->rank == 4 && (shape[0] == 1 || shape[0] == -1 || shape[0] == 0) &&
      (shape[1] == x->c || shape[1] == 0) && (shape[2] == x->h || shape[2] == 0) && (shape[3] == x->w || shape[3] == 0)) {
    return alias(*x, *x);
  }
  std::string text;
  for (int64_t d : shape) text += (text.empty() ? "" : ",") + std::to_string(d);
  refuse("reshapes to [" + text + "] (shoal reshapes a feature map to a vector [N, C*H*W] only)");
}

void Lowering::lower_pad() {
  const Value* xp = value(0);
  if (!xp) return refuse("pads a constant");
  const Value x = *xp;
  if (attr_string("mode", "constant") != "constant") return refuse("mode " + attr_string("mode", "") + " (shoal pads with zeros)");
  std::vector<int64_t> pads = attr_ints("pads");
  float fill = attr_float("value", 0.0f);
  if (out_.opset >= 11) {
    if (!constant(1)) return refuse("its pads are computed, not a constant");
    pads = constant(1)->as_ints();
    if (!input_name(2).empty()) {
      if (!constant(2) || constant(2)->elements() != 1) return refuse("its fill value is computed");
      fill = constant(2)->as_floats()[0];
    }
    if (!input_name(3).empty()) return refuse("pads only some axes (the axes input)");
  }
  if (fill != 0.0f) return refuse("pads with " + std::to_string(fill) + " (shoal pads with zeros)");
  if (x.rank == 3 && pads.size() == 6) pads = {pads[0], pads[1], 0, pads[2], pads[3], pads[4], 0, pads[5]};
  if (x.vector() || pads.size() != 8) return refuse("pads a tensor that is not a feature map (N, C, H, W) or sequence");
  if (pads[0] || pads[1] || pads[4] || pads[5]) return refuse("pads the batch or channel axis");
  Value y = x;
  const int64_t add[4] = {pads[2], pads[3], pads[6], pads[7]};  // top, left, bottom, right
  for (int i = 0; i < 4; ++i) {
    if (add[i] < 0) return refuse("crops (negative pads)");
    y.pad[i] += static_cast<uint32_t>(add[i]);
  }
  y.padded = true;
  alias(x, std::move(y));
}

void Lowering::lower_constant() {
  HostTensor t;
  if (const auto* a = attr("value")) {
    Result<HostTensor> h = from_proto(a->t(), describe());
    if (!h.is_ok()) return refuse(h.status().message());
    t = std::move(h.value());
  } else if (const auto* f = attr("value_float")) {
    t.values = {f->f()};
  } else if (const auto* fs = attr("value_floats")) {
    t.values.assign(fs->floats().begin(), fs->floats().end());
    t.dims = {static_cast<int64_t>(t.values.size())};
  } else if (const auto* i = attr("value_int")) {
    t.ints = {i->i()}, t.integer = true;
  } else if (const auto* is = attr("value_ints")) {
    t.ints.assign(is->ints().begin(), is->ints().end()), t.integer = true;
    t.dims = {static_cast<int64_t>(t.ints.size())};
  } else {
    return refuse("a constant of a kind shoal does not read");
  }
  consts_[node_->output(0)] = std::move(t);
}

// Shape arithmetic on constants (what exporters emit around Reshape): Shape of a computed
// tensor is known here, so Shape, Gather, Unsqueeze, Cast and Concat fold to constants.
void Lowering::lower_shape_arithmetic() {
  const std::string& op = node_->op_type();
  HostTensor t;
  t.integer = true;
  if (op == "Shape") {
    const Value* x = value(0);
    if (!x) return refuse("the shape of a constant");
    t.ints = x->rank == 2   ? std::vector<int64_t>{1, int64_t{x->c} * x->h * x->w}
             : x->rank == 3 ? std::vector<int64_t>{1, x->c, x->w}
                            : std::vector<int64_t>{1, x->c, x->h, x->w};
    t.dims = {static_cast<int64_t>(t.ints.size())};
    uses_[x->tensor] -= 1;
  } else {
    for (int i = 0; i < node_->input_size(); ++i) {
      if (!input_name(i).empty() && !constant(i)) {
        return refuse("computes on tensors (shoal folds " + op + " only where every input is a constant)");
      }
    }
    const size_t needs = op == "Gather" ? 2 : 1;
    for (size_t i = 0; i < needs; ++i) {
      if (!constant(static_cast<int>(i))) return refuse("is missing input " + std::to_string(i));
    }
    if (op == "Concat") {
      for (int i = 0; i < node_->input_size(); ++i) {
        if (!constant(i)) return refuse("has an empty input");
      }
    }
    const HostTensor& a = *constant(0);
    if (op == "Cast") {
      t = a;
      const int64_t to = attr_int("to", 1);
      if (to == onnx::TensorProto::FLOAT || to == onnx::TensorProto::DOUBLE) {
        t.values = a.as_floats(), t.ints.clear(), t.integer = false;
      } else {
        t.ints = a.as_ints(), t.values.clear(), t.integer = true;
      }
    } else if (op == "Unsqueeze" || op == "Squeeze" || op == "Flatten" || op == "Reshape") {
      t = a;  // the values stay; only the dimensions change
      if (op == "Unsqueeze") {
        std::vector<int64_t> axes = attr_ints("axes");
        if (constant(1)) axes = constant(1)->as_ints();
        std::vector<int64_t> dims = a.dims;
        std::sort(axes.begin(), axes.end());
        for (int64_t ax : axes) {
          if (ax < 0) ax += static_cast<int64_t>(dims.size()) + 1;
          if (ax < 0 || ax > static_cast<int64_t>(dims.size())) return refuse("an axis out of range");
          dims.insert(dims.begin() + ax, 1);
        }
        t.dims = dims;
      } else {
        t.dims = {static_cast<int64_t>(a.elements())};
      }
    } else if (op == "Transpose") {  // a weight stored the other way round (older exporters)
      const size_t rank = a.dims.size();
      std::vector<int64_t> perm = attr_ints("perm");
      if (perm.empty()) {
        for (size_t i = 0; i < rank; ++i) perm.push_back(static_cast<int64_t>(rank - 1 - i));
      }
      std::vector<bool> seen(rank, false);
      for (int64_t p : perm) {
        if (p < 0 || p >= static_cast<int64_t>(rank) || seen[static_cast<size_t>(p)]) return refuse("a perm that is not one of the axes");
        seen[static_cast<size_t>(p)] = true;
      }
      if (perm.size() != rank) return refuse("a perm that is not one of the axes");
      t.integer = a.integer;
      t.dims.resize(rank);
      for (size_t i = 0; i < rank; ++i) t.dims[i] = a.dims[static_cast<size_t>(perm[i])];
      std::vector<uint64_t> in_stride(rank, 1);
      for (size_t i = rank; i-- > 1;) in_stride[i - 1] = in_stride[i] * static_cast<uint64_t>(a.dims[i]);
      const uint64_t n = a.elements();
      std::vector<uint64_t> index(rank, 0);  // the output's, in its order
      for (uint64_t k = 0; k < n; ++k) {
        uint64_t from = 0;
        for (size_t i = 0; i < rank; ++i) from += index[i] * in_stride[static_cast<size_t>(perm[i])];
        if (a.integer) {
          t.ints.push_back(a.ints[from]);
        } else {
          t.values.push_back(a.values[from]);
        }
        for (size_t i = rank; i-- > 0;) {
          if (++index[i] < static_cast<uint64_t>(t.dims[i])) break;
          index[i] = 0;
        }
      }
    } else if (op == "Gather") {
      if (attr_int("axis", 0) != 0 || a.dims.size() != 1) return refuse("gathers from a constant that is not a list");
      const std::vector<int64_t> data = a.as_ints(), index = constant(1)->as_ints();
      for (int64_t i : index) {
        if (i < 0) i += static_cast<int64_t>(data.size());
        if (i < 0 || i >= static_cast<int64_t>(data.size())) return refuse("an index out of range");
        t.ints.push_back(data[static_cast<size_t>(i)]);
      }
      t.dims = constant(1)->dims;
    } else if (op == "Concat") {
      for (int i = 0; i < node_->input_size(); ++i) {
        const std::vector<int64_t> v = constant(i)->as_ints();
        t.ints.insert(t.ints.end(), v.begin(), v.end());
      }
      t.dims = {static_cast<int64_t>(t.ints.size())};
    }
  }
  consts_[node_->output(0)] = std::move(t);
}

}  // namespace shoal::onnx_import
