// The lowering of one ONNX graph (lower_graph.cc, lower_layers.cc, lower_constants.cc): what
// it keeps per ONNX value, and the steps it takes node by node. Inside the importer.
#ifndef SHOAL_ONNX_LOWERING_H_
#define SHOAL_ONNX_LOWERING_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "lowered.h"

namespace shoal::onnx_import {

// An activation as ONNX sees it, and where shoal keeps it.
struct Value {
  uint32_t tensor = 0;
  uint32_t c = 0, h = 0, w = 0;  // ONNX's channels and size
  int rank = 4;                  // ONNX's: 4 (N, C, H, W), 3 (N, C, L: height 1) or 2 (vector)
  std::vector<uint32_t> perm;    // stored channel k holds ONNX channel perm[k]
  std::vector<Origin> origin;    // per stored channel
  uint32_t pad[4] = {0, 0, 0, 0};  // a pending Pad (top, left, bottom, right), folded into the next layer
  bool padded = false;
  // [N, C*H*W]: after Flatten, or a vector input.
  bool vector() const { return rank == 2; }
  bool identity_perm() const {
    for (uint32_t k = 0; k < perm.size(); ++k) {
      if (perm[k] != k) return false;
    }
    return true;
  }
};

// "kernel_shape=[3,3]": an attribute as a refusal names it.
std::string attribute_text(const onnx::AttributeProto& a);

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
    const std::string name = !node_->name().empty() ? node_->name() : node_->output_size() ? node_->output(0) : "?";
    std::string s = "node '" + name + "' (" + node_->op_type() +
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


}  // namespace shoal::onnx_import

#endif  // SHOAL_ONNX_LOWERING_H_
