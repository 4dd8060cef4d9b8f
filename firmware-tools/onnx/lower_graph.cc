// An ONNX graph, node by node, into shoal layers (lowered.h). Each node either becomes a layer,
// folds into the layer before it (batch-norm, bias, ReLU, Pad), becomes a view of a value
// (Identity, Dropout, Flatten, Reshape to a vector) or a constant (Constant, shape
// arithmetic), or is refused with the reason; every refusal is collected and reported at once.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "lowered.h"
#include "proto_tensor.h"
#include "shoal/concat_order.h"

namespace shoal::onnx_import {
namespace {

// An activation as ONNX sees it, and where shoal keeps it.
struct Value {
  uint32_t tensor = 0;
  uint32_t c = 0, h = 0, w = 0;  // ONNX's channels and size
  bool vector = false;           // rank 2 ([N, C*H*W]): after Flatten, or a vector input
  int rank = 4;                  // ONNX's: 4 (N, C, H, W), 3 (N, C, L: height 1) or 2 (vector)
  std::vector<uint32_t> perm;    // stored channel k holds ONNX channel perm[k]
  std::vector<Origin> origin;    // per stored channel
  uint32_t pad[4] = {0, 0, 0, 0};  // a pending Pad (top, left, bottom, right), folded into the next layer
  bool padded = false;
  bool identity_perm() const {
    for (uint32_t k = 0; k < perm.size(); ++k) {
      if (perm[k] != k) return false;
    }
    return true;
  }
};

std::string attribute_text(const onnx::AttributeProto& a) {
  std::ostringstream s;
  s << a.name() << "=";
  switch (a.type()) {
    case onnx::AttributeProto::FLOAT: s << a.f(); break;
    case onnx::AttributeProto::INT: s << a.i(); break;
    case onnx::AttributeProto::STRING: s << a.s(); break;
    case onnx::AttributeProto::INTS:
      s << "[";
      for (int i = 0; i < a.ints_size(); ++i) s << (i ? "," : "") << a.ints(i);
      s << "]";
      break;
    case onnx::AttributeProto::FLOATS:
      s << "[";
      for (int i = 0; i < a.floats_size(); ++i) s << (i ? "," : "") << a.floats(i);
      s << "]";
      break;
    case onnx::AttributeProto::TENSOR: s << "<tensor>"; break;
    default: s << "<" << onnx::AttributeProto::AttributeType_Name(a.type()) << ">";
  }
  return s.str();
}

class Lowering {
 public:
  Lowering(const onnx::ModelProto& model, const ImportOptions& options, const std::string& file)
      : model_(model), graph_(model.graph()), options_(options) {
    out_.file = file;
  }

  Result<Lowered> run();

 private:
  const onnx::NodeProto* node_ = nullptr;  // the node being lowered
  const onnx::ModelProto& model_;
  const onnx::GraphProto& graph_;
  const ImportOptions& options_;
  Lowered out_;
  std::map<std::string, HostTensor> consts_;
  std::map<std::string, Value> values_;
  std::set<std::string> poisoned_;        // made by a refused node: their readers are not named again
  std::map<std::string, int> consumers_;  // node inputs that read each name
  std::vector<int> uses_;                 // per tensor: reads through every name of it
  std::vector<bool> is_output_;           // per tensor
  std::vector<int32_t> producer_;         // per tensor: the node that made it, -1 for the input
  std::vector<std::string> refusals_;

  // -- helpers --
  const onnx::AttributeProto* attr(const char* name) const {
    for (const auto& a : node_->attribute()) {
      if (a.name() == name) return &a;
    }
    return nullptr;
  }
  int64_t attr_int(const char* name, int64_t fallback) const {
    const auto* a = attr(name);
    return a ? a->i() : fallback;
  }
  float attr_float(const char* name, float fallback) const {
    const auto* a = attr(name);
    return a ? a->f() : fallback;
  }
  std::string attr_string(const char* name, const std::string& fallback) const {
    const auto* a = attr(name);
    return a ? a->s() : fallback;
  }
  std::vector<int64_t> attr_ints(const char* name) const {
    const auto* a = attr(name);
    return a ? std::vector<int64_t>(a->ints().begin(), a->ints().end()) : std::vector<int64_t>{};
  }
  // A 1-d layer's attribute (rank 3: N, C, L) as the 2-d one of height 1: kernel and stride 1
  // along the height, pads [begin, end] as [0, begin, 0, end].
  std::vector<int64_t> as_2d(std::vector<int64_t> v, bool pads) const {
    if (v.size() == 1 && !pads) return {1, v[0]};
    if (v.size() == 2 && pads) return {0, v[0], 0, v[1]};
    return v;
  }
  std::string describe() const {
    std::string s = "node '" + (node_->name().empty() ? node_->output(0) : node_->name()) + "' (" + node_->op_type() +
                    ", opset " + std::to_string(out_.opset);
    for (const auto& a : node_->attribute()) s += (&a == &node_->attribute(0) ? "; " : ", ") + attribute_text(a);
    return s + ")";
  }
  // Records why this node cannot be imported; its outputs are poisoned.
  void refuse(const std::string& why) {
    refusals_.push_back(describe() + ": " + why);
    for (const auto& o : node_->output()) poisoned_.insert(o);
  }
  std::string input_name(int i) const { return i < node_->input_size() ? node_->input(i) : std::string(); }
  const HostTensor* constant(int i) const {
    const std::string n = input_name(i);
    if (n.empty()) return nullptr;
    auto it = consts_.find(n);
    return it == consts_.end() ? nullptr : &it->second;
  }
  const Value* value(int i) const {
    auto it = values_.find(input_name(i));
    return it == values_.end() ? nullptr : &it->second;
  }
  bool output_used(int i) const {
    return i < node_->output_size() && !node_->output(i).empty() &&
           (consumers_.count(node_->output(i)) || graph_output(node_->output(i)));
  }
  bool graph_output(const std::string& name) const {
    for (const auto& o : graph_.output()) {
      if (o.name() == name) return true;
    }
    return false;
  }

  uint32_t new_class(uint32_t channels, bool fixed = false) {
    out_.parent.push_back(static_cast<uint32_t>(out_.parent.size()));
    out_.channels.push_back(channels);
    out_.fixed.push_back(fixed);
    return static_cast<uint32_t>(out_.parent.size() - 1);
  }
  uint32_t new_tensor(const std::string& name, uint32_t cls, uint32_t h, uint32_t w) {
    TensorSpec t;
    t.name = name, t.group = cls, t.h = h, t.w = w;
    out_.tensors.push_back(t);
    uses_.push_back(0);
    is_output_.push_back(false);
    producer_.push_back(-1);
    return static_cast<uint32_t>(out_.tensors.size() - 1);
  }
  // Binds ONNX output `i` of this node to `v` (a new tensor, or a view of an input's).
  void bind(int i, Value v) {
    const std::string& name = node_->output(i);
    auto c = consumers_.find(name);
    uses_[v.tensor] += c == consumers_.end() ? 0 : c->second;
    if (graph_output(name)) is_output_[v.tensor] = true;
    values_[name] = std::move(v);
  }
  // A view: the output is the input's tensor, one read of it (this node's) replaced by the
  // output's readers.
  void alias(const Value& in, Value out) {
    uses_[in.tensor] -= 1;
    bind(0, std::move(out));
  }
  uint32_t add_node(LoweredNode n) {
    n.onnx_name = node_->name().empty() ? node_->output(0) : node_->name();
    if (n.node.name.empty()) n.node.name = n.onnx_name;
    out_.nodes.push_back(std::move(n));
    const uint32_t index = static_cast<uint32_t>(out_.nodes.size() - 1);
    for (uint32_t t : out_.nodes.back().node.outputs) producer_[t] = static_cast<int32_t>(index);
    return index;
  }
  // The node that made v's tensor, when this node is its only reader and it may absorb
  // what this node does (an affine, a bias, an activation).
  LoweredNode* fusable(const Value& v) {
    if (v.padded || uses_[v.tensor] != 1 || is_output_[v.tensor] || producer_[v.tensor] < 0) return nullptr;
    LoweredNode& n = out_.nodes[producer_[v.tensor]];
    if (n.node.activation != fb::Activation::None) return nullptr;
    return &n;
  }
  Value output_like(const Value& in, uint32_t tensor) const {
    Value v = in;
    v.tensor = tensor;
    v.padded = false;
    std::fill(v.pad, v.pad + 4, 0);
    return v;
  }
  bool pads_from(const Value& in, uint32_t kh, uint32_t kw, const std::vector<int64_t>& strides,
                 const std::vector<int64_t>& dilations, uint32_t pads[4]);

  // -- ops --
  void lower_node();
  void lower_conv();
  void lower_batchnorm();
  void lower_activation(fb::Activation act);
  void lower_clip();
  void lower_pool(bool max);
  void lower_global_pool();
  void lower_add();
  void lower_concat();
  void lower_flatten(int64_t axis);
  void lower_reshape();
  void lower_gemm(bool matmul);
  void lower_softmax();
  void lower_pad();
  void lower_constant();
  void lower_shape_arithmetic();
  // A per-channel affine y = scale * x + shift (natural order) as a 1x1 depthwise layer, or
  // folded into the layer that made x.
  void affine(const Value& x, const std::vector<float>& scale, const std::vector<float>& shift);
  Status take_input();
};

Status Lowering::take_input() {
  std::vector<const onnx::ValueInfoProto*> inputs;
  std::set<std::string> inits;
  for (const auto& t : graph_.initializer()) inits.insert(t.name());
  for (const auto& in : graph_.input()) {
    if (!inits.count(in.name()) && !options_.constants.count(in.name())) inputs.push_back(&in);
  }
  if (inputs.size() != 1) {
    std::string names;
    for (const auto* in : inputs) names += (names.empty() ? "" : ", ") + in->name();
    return Status(StatusCode::kUnsupported,
                  out_.file + ": shoal models take one input; the graph has " + std::to_string(inputs.size()) +
                      (names.empty() ? "" : " (" + names + ")") +
                      (inputs.size() > 1 ? ": give the others as data (--constant NAME=FILE)" : ""));
  }
  const onnx::ValueInfoProto& in = *inputs[0];
  if (!in.type().has_tensor_type()) return Status(StatusCode::kUnsupported, out_.file + ": the input is not a tensor");
  const auto& shape = in.type().tensor_type().shape();
  std::vector<int64_t> dims;
  for (const auto& d : shape.dim()) dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
  Value v;
  if (dims.size() == 4) {
    v.c = dims[1] > 0 ? static_cast<uint32_t>(dims[1]) : 0;
    v.h = options_.height ? options_.height : dims[2] > 0 ? static_cast<uint32_t>(dims[2]) : 0;
    v.w = options_.width ? options_.width : dims[3] > 0 ? static_cast<uint32_t>(dims[3]) : 0;
    if (!v.c) return Status(StatusCode::kUnsupported, out_.file + ": the input's channel count is not fixed");
    if (!v.h || !v.w) {
      return Status(StatusCode::kInvalidArgument,
                    out_.file + ": the graph leaves the input's height and width open; give them (--input-size HxW)");
    }
  } else if (dims.size() == 3 && dims[1] > 0 && (dims[2] > 0 || options_.width)) {
    v.c = static_cast<uint32_t>(dims[1]), v.h = 1, v.rank = 3;
    v.w = options_.width ? options_.width : static_cast<uint32_t>(dims[2]);
  } else if (dims.size() == 2 && dims[1] > 0) {
    v.c = static_cast<uint32_t>(dims[1]), v.h = v.w = 1, v.vector = true, v.rank = 2;
  } else {
    return Status(StatusCode::kUnsupported,
                  out_.file + ": input '" + in.name() + "' has rank " + std::to_string(dims.size()) +
                      "; shoal takes images (N, C, H, W), sequences (N, C, L) or vectors (N, C)");
  }
  const uint32_t cls = new_class(v.c, true);
  v.tensor = new_tensor(in.name(), cls, v.h, v.w);
  for (uint32_t k = 0; k < v.c; ++k) v.perm.push_back(k), v.origin.push_back({kInputSource, k});
  out_.input = v.tensor;
  uses_[v.tensor] = consumers_[in.name()];
  values_[in.name()] = std::move(v);
  return Status::ok();
}

Result<Lowered> Lowering::run() {
  for (const auto& op : model_.opset_import()) {
    if (op.domain().empty() || op.domain() == "ai.onnx") out_.opset = op.version();
  }
  if (out_.opset < kMinOpset || out_.opset > kMaxOpset) {
    return Status(StatusCode::kUnsupported, out_.file + ": opset " + std::to_string(out_.opset) + "; shoal imports " +
                                                std::to_string(kMinOpset) + " to " + std::to_string(kMaxOpset) +
                                                " (export with opset_version=" + std::to_string(kMaxOpset) + ")");
  }
  for (const auto& n : graph_.node()) {
    for (const auto& i : n.input()) {
      if (!i.empty()) consumers_[i] += 1;
    }
  }
  for (const auto& t : graph_.initializer()) {
    Result<HostTensor> h = from_proto(t, out_.file + ": initializer '" + t.name() + "'");
    if (!h.is_ok()) return h.status();
    consts_[t.name()] = std::move(h.value());
  }
  for (const auto& [name, t] : options_.constants) consts_[name] = t;
  SHOAL_RETURN_IF_ERROR(take_input());
  for (const auto& n : graph_.node()) {
    node_ = &n;
    bool skip = false;
    for (const auto& i : n.input()) skip = skip || poisoned_.count(i) > 0;
    if (skip) {
      for (const auto& o : n.output()) poisoned_.insert(o);
      continue;
    }
    for (const auto& i : n.input()) {
      if (!i.empty() && !values_.count(i) && !consts_.count(i)) {
        return Status(StatusCode::kCorrupt, out_.file + ": " + describe() + " reads '" + i +
                                                "', which no earlier node makes (nodes out of order?)");
      }
    }
    if (!n.domain().empty() && n.domain() != "ai.onnx") {
      refuse("an op of domain '" + n.domain() + "', not the standard ONNX ops");
      continue;
    }
    lower_node();
  }
  if (graph_.output_size() != 1) {
    refusals_.push_back("the graph has " + std::to_string(graph_.output_size()) + " outputs; shoal models have one");
  } else if (!poisoned_.count(graph_.output(0).name())) {
    auto it = values_.find(graph_.output(0).name());
    if (it == values_.end()) {
      refusals_.push_back("the output '" + graph_.output(0).name() + "' is a constant, not computed from the input");
    } else {
      const Value& v = it->second;
      if (v.padded) {
        refusals_.push_back("the output comes from a Pad with no layer after it");
      } else if (v.tensor == out_.input) {
        refusals_.push_back("the graph computes nothing: its output is its input");
      } else if (!v.identity_perm()) {
        refusals_.push_back("the output's channels come from a Concat, which shoal stores in its own order; "
                            "add a layer after it");
      } else if (v.vector && v.h * v.w > 1 && v.c > 1) {
        refusals_.push_back("the output is a flattened feature map (C x H x W), which shoal stores as H x W x C");
      } else {
        out_.output = v.tensor;
        out_.fixed[out_.find(out_.tensors[v.tensor].group)] = true;
      }
    }
  }
  if (!refusals_.empty()) {
    std::string msg = out_.file + ": shoal cannot import " + std::to_string(refusals_.size()) +
                      (refusals_.size() == 1 ? " node" : " nodes") + " (nothing was written):";
    for (const auto& r : refusals_) msg += "\n  " + r;
    return Status(StatusCode::kUnsupported, msg);
  }
  return std::move(out_);
}

void Lowering::lower_node() {
  const std::string& op = node_->op_type();
  if (op == "Conv") return lower_conv();
  if (op == "BatchNormalization") return lower_batchnorm();
  if (op == "Relu") return lower_activation(fb::Activation::Relu);
  if (op == "Clip") return lower_clip();
  if (op == "MaxPool") return lower_pool(true);
  if (op == "AveragePool") return lower_pool(false);
  if (op == "GlobalAveragePool") return lower_global_pool();
  if (op == "Add" || op == "Sum") return lower_add();
  if (op == "Concat") return lower_concat();
  if (op == "Flatten") return lower_flatten(attr_int("axis", 1));
  if (op == "Reshape") return lower_reshape();
  if (op == "Squeeze") return lower_reshape();
  if (op == "Gemm") return lower_gemm(false);
  if (op == "MatMul") return lower_gemm(true);
  if (op == "Softmax") return lower_softmax();
  if (op == "Pad") return lower_pad();
  if (op == "Constant") return lower_constant();
  if (op == "Shape" || op == "Gather" || op == "Unsqueeze" || op == "Cast" || op == "Transpose") {
    return lower_shape_arithmetic();
  }
  if (op == "Identity" || op == "Dropout") {
    if (op == "Dropout" && output_used(1)) return refuse("its mask output is used");
    if (op == "Dropout" && constant(2) && !constant(2)->as_ints().empty() && constant(2)->as_ints()[0]) {
      return refuse("training_mode is on");
    }
    if (const HostTensor* c = constant(0)) {
      consts_[node_->output(0)] = *c;
      return;
    }
    return alias(*value(0), *value(0));
  }
  refuse("shoal has no " + op + " (it imports: " + accepted_ops() + ")");
}

const char* const kAccepted =
    "Conv (2-d, group 1 or depthwise), BatchNormalization, Relu, Clip (ReLU and ReLU6 bounds), MaxPool, "
    "AveragePool, GlobalAveragePool, Add, Sum, Concat (channels), Flatten and Reshape/Squeeze to a vector, Gemm, "
    "MatMul, Softmax, Pad (zeros, into the next Conv or AveragePool), Dropout and Identity (removed), Constant, "
    "and Shape, Gather, Unsqueeze, Cast, Transpose, Concat on constants";

// Pads of a Conv or pool: the attribute (or auto_pad), plus a pending Pad of the input.
bool Lowering::pads_from(const Value& in, uint32_t kh, uint32_t kw, const std::vector<int64_t>& strides,
                         const std::vector<int64_t>& dilations, uint32_t pads[4]) {
  const std::string auto_pad = attr_string("auto_pad", "NOTSET");
  std::vector<int64_t> p = as_2d(attr_ints("pads"), true);
  if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    p.assign(4, 0);
    const uint32_t size[2] = {in.h, in.w}, k[2] = {kh, kw};
    for (int a = 0; a < 2; ++a) {
      const int64_t s = strides[a], out = (size[a] + s - 1) / s;
      const int64_t total = std::max<int64_t>(0, (out - 1) * s + (k[a] - 1) * dilations[a] + 1 - size[a]);
      const int64_t small = total / 2, big = total - small;
      p[a] = auto_pad == "SAME_UPPER" ? small : big;
      p[a + 2] = auto_pad == "SAME_UPPER" ? big : small;
    }
  } else if (auto_pad == "VALID" || p.empty()) {
    p.assign(4, 0);
  } else if (auto_pad != "NOTSET") {
    refuse("auto_pad " + auto_pad);
    return false;
  }
  if (p.size() != 4) {
    refuse("pads of " + std::to_string(p.size()) + " values (a 2-d layer has 4)");
    return false;
  }
  for (int i = 0; i < 4; ++i) {
    const int64_t v = p[i] + in.pad[i];
    if (v < 0 || v > 255) {
      refuse("padding " + std::to_string(v) + " (shoal pads 0 to 255)");
      return false;
    }
    pads[i] = static_cast<uint32_t>(v);
  }
  return true;
}

void Lowering::lower_conv() {
  const Value* xp = value(0);
  const HostTensor* w = constant(1);
  if (!xp) return refuse("its input is a constant");
  if (!w) return refuse("its weights are computed, not a constant");
  const Value x = *xp;
  if (x.vector) return refuse("its input is a vector");
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
  if (x->vector && x->h * x->w > 1) return refuse("batch-norm over a flattened feature map");
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
  if (x.vector) return refuse("its input is a vector");
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
  if (x.vector || x.padded) return refuse("its input is a vector or a Pad");
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
    if (v.vector && v.h * v.w > 1) return refuse("concatenates flattened feature maps");
    caps.push_back(v.c);
  }
  Value y;
  y.h = in[0].h, y.w = in[0].w, y.vector = in[0].vector, y.rank = in[0].rank;
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

void Lowering::lower_flatten(int64_t axis) {
  const Value* x = value(0);
  if (!x) return lower_shape_arithmetic();
  if (x->padded) return refuse("its input comes from a Pad");
  if (axis < 0) axis += x->rank;
  if (axis != 1) return refuse("flattens at axis " + std::to_string(axis) + " (shoal keeps the batch apart: axis 1)");
  Value y = *x;
  y.vector = true, y.rank = 2;
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
    if (x->vector || drop != spatial || x->h != 1 || x->w != 1) {
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
      y.vector = true, y.rank = 2;
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

void Lowering::lower_gemm(bool matmul) {
  const Value* xp = value(0);
  const HostTensor* b = constant(1);
  if (!xp) return refuse("its first input is a constant");
  if (!b) return refuse("its weights are computed, not a constant");
  const Value x = *xp;
  if (!x.vector) return refuse("multiplies a feature map (shoal's fully connected layer takes a vector: Flatten first)");
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
  y.c = O, y.h = y.w = 1, y.vector = true, y.rank = 2;
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
  const bool over_channels = axis == 1 && (!spatial || (out_.opset >= 13 && !x.vector));
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
  if (x.vector || pads.size() != 8) return refuse("pads a tensor that is not a feature map (N, C, H, W) or sequence");
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

}  // namespace

const char* accepted_ops() { return kAccepted; }

Result<Lowered> lower_graph(const onnx::ModelProto& model, const ImportOptions& options, const std::string& file) {
  return Lowering(model, options, file).run();
}

}  // namespace shoal::onnx_import
