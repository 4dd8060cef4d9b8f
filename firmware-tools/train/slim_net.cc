#include "slim_net.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace shoal::train {
namespace {

constexpr double kBnEpsilon = 1e-5;

torch::Tensor activate(const torch::Tensor& x, fb::Activation a) {
  if (a == fb::Activation::Relu) return torch::relu(x);
  if (a == fb::Activation::Relu6) return torch::clamp(x, 0.0, 6.0);
  return x;
}

}  // namespace

SlimNetImpl::SlimNetImpl(ModelSpec spec) : spec_(std::move(spec)) {
  const auto capacity = [&](uint32_t tensor) {
    return int64_t{spec_.groups[spec_.tensors[tensor].group].capacity};
  };
  layers_.resize(spec_.nodes.size());
  for (size_t i = 0; i < spec_.nodes.size(); ++i) {
    const NodeSpec& n = spec_.nodes[i];
    if (n.weights < 0) continue;
    const TensorSpec& in = spec_.tensors[n.inputs[0]];
    const int64_t out_c = capacity(n.outputs[0]);
    int64_t in_c = n.depthwise ? 1 : capacity(n.inputs[0]), kh = in.h, kw = in.w;
    if (n.op == fb::OpType::Conv2d) {
      const fb::Window& w = *n.window;
      if (w.pad_top() != w.pad_bottom() || w.pad_left() != w.pad_right()) {
        throw std::invalid_argument(n.name + ": the trainer needs equal padding on opposite sides");
      }
      kh = w.kernel_h();
      kw = w.kernel_w();
    }
    const std::string key = "node" + std::to_string(i);
    Layer& l = layers_[i];
    l.weight = register_parameter(key + "_weight", torch::zeros({out_c, in_c, kh, kw}));
    if (n.scale >= 0) {
      const int64_t sets = spec_.affine_sets;
      l.gamma = register_parameter(key + "_gamma", torch::ones({sets, out_c}));
      l.beta = register_parameter(key + "_beta", torch::zeros({sets, out_c}));
      l.mean = register_buffer(key + "_mean", torch::zeros({sets, out_c}));
      l.var = register_buffer(key + "_var", torch::ones({sets, out_c}));
    } else if (n.shift >= 0) {
      l.bias = register_parameter(key + "_bias", torch::zeros({out_c}));
    }
  }
}

void SlimNetImpl::initialize() {
  torch::NoGradGuard no_grad;
  for (Layer& l : layers_) {
    if (!l.weight.defined()) continue;
    const double fan_in = static_cast<double>(l.weight.numel() / l.weight.size(0));
    l.weight.normal_(0.0, std::sqrt(2.0 / fan_in));
    if (l.gamma.defined()) {
      l.gamma.fill_(1.0);
      l.beta.zero_();
      l.mean.zero_();
      l.var.fill_(1.0);
    }
    if (l.bias.defined()) l.bias.zero_();
  }
}

uint32_t SlimNetImpl::subnet_index(const std::string& name) const {
  for (size_t i = 0; i < spec_.subnets.size(); ++i) {
    if (spec_.subnets[i].name == name) return static_cast<uint32_t>(i);
  }
  throw std::invalid_argument("the model has no subnet '" + name + "'");
}

torch::Tensor SlimNetImpl::forward(const torch::Tensor& input, uint32_t subnet, bool train) {
  const SubnetSpec& sub = spec_.subnets.at(subnet);
  const auto range = [&](uint32_t tensor) { return sub.ranges[spec_.tensors[tensor].group]; };
  std::vector<torch::Tensor> t(spec_.tensors.size());
  t[spec_.input] = input;
  for (size_t i = 0; i < spec_.nodes.size(); ++i) {
    const NodeSpec& n = spec_.nodes[i];
    const uint32_t out = n.outputs[0];
    const torch::Tensor& x = t[n.inputs[0]];
    if (n.op == fb::OpType::Softmax && out == spec_.output) return x.flatten(1);  // the logits
    torch::Tensor y;
    switch (n.op) {
      case fb::OpType::Conv2d:
      case fb::OpType::Linear: {
        const Layer& l = layers_[i];
        const fb::GroupRange ro = range(out), ri = range(n.inputs[0]);
        torch::Tensor w = l.weight.slice(0, ro.lo(), ro.hi());
        if (!n.depthwise) w = w.slice(1, ri.lo(), ri.hi());
        if (n.op == fb::OpType::Linear) {
          y = torch::conv2d(x, w);
        } else {
          const fb::Window& k = *n.window;
          y = torch::conv2d(x, w, {}, {k.stride_h(), k.stride_w()}, {k.pad_top(), k.pad_left()},
                            {k.dilation_h(), k.dilation_w()}, n.depthwise ? ro.hi() - ro.lo() : 1);
        }
        if (l.gamma.defined()) {
          const int64_t set = sub.affine_set;
          y = torch::batch_norm(y, l.gamma[set].slice(0, ro.lo(), ro.hi()),
                                l.beta[set].slice(0, ro.lo(), ro.hi()), l.mean[set].slice(0, ro.lo(), ro.hi()),
                                l.var[set].slice(0, ro.lo(), ro.hi()), train, bn_momentum_, kBnEpsilon, false);
        } else if (l.bias.defined()) {
          y = y + l.bias.slice(0, ro.lo(), ro.hi()).view({1, -1, 1, 1});
        }
        y = activate(y, n.activation);
        break;
      }
      case fb::OpType::MaxPool:
      case fb::OpType::AvgPool: {
        const fb::Window& k = *n.window;
        const std::vector<int64_t> kernel{k.kernel_h(), k.kernel_w()}, stride{k.stride_h(), k.stride_w()},
            pad{k.pad_top(), k.pad_left()};
        y = n.op == fb::OpType::MaxPool ? torch::max_pool2d(x, kernel, stride, pad)
                                         : torch::avg_pool2d(x, kernel, stride, pad, false, true);
        break;
      }
      case fb::OpType::GlobalAvgPool:
        y = x.mean({2, 3}, true);
        break;
      case fb::OpType::Add:
        y = activate(x + t[n.inputs[1]], n.activation);
        break;
      case fb::OpType::Activation:
        y = activate(x, n.activation);
        break;
      case fb::OpType::Softmax:
        y = torch::softmax(x, 1);
        break;
      case fb::OpType::Concat:
        throw std::runtime_error("layer '" + n.name + "': the trainer does not train concatenations yet");
    }
    t[out] = y;
  }
  return t[spec_.output];
}

ModelSpec SlimNetImpl::export_spec() const {
  torch::NoGradGuard no_grad;
  ModelSpec spec = spec_;
  const auto copy = [](const torch::Tensor& src, std::vector<float>& dst) {
    const torch::Tensor c = src.to(torch::kCPU, torch::kFloat).contiguous();
    if (static_cast<size_t>(c.numel()) != dst.size()) throw std::logic_error("export: buffer size mismatch");
    std::copy(c.data_ptr<float>(), c.data_ptr<float>() + c.numel(), dst.begin());
  };
  for (size_t i = 0; i < spec.nodes.size(); ++i) {
    const NodeSpec& n = spec.nodes[i];
    const Layer& l = layers_[i];
    if (n.weights < 0) continue;
    copy(l.weight.permute({0, 2, 3, 1}), spec.buffers[n.weights]);  // OIHW -> OHWI
    if (l.gamma.defined()) {
      const torch::Tensor g = l.gamma.to(torch::kCPU, torch::kDouble), b = l.beta.to(torch::kCPU, torch::kDouble);
      const torch::Tensor m = l.mean.to(torch::kCPU, torch::kDouble), v = l.var.to(torch::kCPU, torch::kDouble);
      const torch::Tensor scale = g / torch::sqrt(v + kBnEpsilon);
      copy(scale, spec.buffers[n.scale]);
      copy(b - m * scale, spec.buffers[n.shift]);
    } else if (l.bias.defined()) {
      copy(l.bias, spec.buffers[n.shift]);
    }
  }
  return spec;
}

std::vector<std::string> SlimNetImpl::copy_matching(const SlimNetImpl& other) {
  torch::NoGradGuard no_grad;
  std::vector<std::string> copied;
  for (size_t i = 0; i < spec_.nodes.size(); ++i) {
    for (size_t j = 0; j < other.spec_.nodes.size(); ++j) {
      if (spec_.nodes[i].name != other.spec_.nodes[j].name) continue;
      Layer& a = layers_[i];
      const Layer& b = other.layers_[j];
      if (!a.weight.defined() || !b.weight.defined() || !a.weight.sizes().equals(b.weight.sizes())) break;
      a.weight.copy_(b.weight);
      // Batch-norm sets may differ in number: every set of `a` starts from `b`'s last one
      // (the full-width set of a slimmable model, the only one of a plain model).
      if (a.gamma.defined() && b.gamma.defined()) {
        const std::pair<torch::Tensor*, const torch::Tensor*> pairs[] = {
            {&a.gamma, &b.gamma}, {&a.beta, &b.beta}, {&a.mean, &b.mean}, {&a.var, &b.var}};
        for (const auto& [dst, src] : pairs) dst->copy_((*src)[src->size(0) - 1].expand_as(*dst));
      }
      if (a.bias.defined() && b.bias.defined()) a.bias.copy_(b.bias);
      copied.push_back(spec_.nodes[i].name);
      break;
    }
  }
  return copied;
}

void SlimNetImpl::recalibrate_batch_norm(uint32_t subnet, const torch::Tensor& images, int64_t batch) {
  torch::NoGradGuard no_grad;
  const double saved = bn_momentum_;
  int64_t k = 0;
  for (int64_t b = 0; b < images.size(0); b += batch, ++k) {
    bn_momentum_ = 1.0 / static_cast<double>(k + 1);  // the running value becomes the mean over batches
    forward(images.slice(0, b, std::min(images.size(0), b + batch)), subnet, true);
  }
  bn_momentum_ = saved;
}

std::vector<torch::Tensor> SlimNetImpl::parameters_of(const std::vector<std::string>& names) {
  std::vector<torch::Tensor> out;
  for (size_t i = 0; i < spec_.nodes.size(); ++i) {
    if (std::find(names.begin(), names.end(), spec_.nodes[i].name) == names.end()) continue;
    for (const torch::Tensor& p : {layers_[i].weight, layers_[i].gamma, layers_[i].beta, layers_[i].bias}) {
      if (p.defined()) out.push_back(p);
    }
  }
  return out;
}

}  // namespace shoal::train
