// An ONNX graph, node by node, into shoal layers (lowered.h). Each node either becomes a layer,
// folds into the layer before it (batch-norm, bias, ReLU, Pad), becomes a view of a value
// (Identity, Dropout, Flatten, Reshape to a vector) or a constant (Constant, shape
// arithmetic), or is refused with the reason; every refusal is collected and reported at once.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <sstream>

#include "lowering.h"
#include "proto_tensor.h"

namespace shoal::onnx_import {
namespace {

const char* const kAccepted =
    "Conv (2-d, group 1 or depthwise), BatchNormalization, Relu, Clip (ReLU and ReLU6 bounds), MaxPool, "
    "AveragePool, GlobalAveragePool, Add, Sum, Concat (channels), Flatten and Reshape/Squeeze to a vector, Gemm, "
    "MatMul, Softmax, Pad (zeros, into the next Conv or AveragePool), Dropout and Identity (removed), Constant, "
    "and Shape, Gather, Unsqueeze, Cast, Transpose, Concat on constants";

// Pads of a Conv or pool: the attribute (or auto_pad), plus a pending Pad of the input.
}  // namespace

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
    v.c = static_cast<uint32_t>(dims[1]), v.h = v.w = 1, v.rank = 2;
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
    if (n.output_size() == 0 || n.output(0).empty()) {  // (every op shoal reads makes its first output)
      refuse("a node without an output");
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
      } else if (v.vector() && v.h * v.w > 1 && v.c > 1) {
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

const char* accepted_ops() { return kAccepted; }

Result<Lowered> lower_graph(const onnx::ModelProto& model, const ImportOptions& options, const std::string& file) {
  return Lowering(model, options, file).run();
}

}  // namespace shoal::onnx_import
