// The semantic check of a model that passed the FlatBuffers verifier: after it, the engine
// can index, size and slice without checking anything again.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "shoal/concat_order.h"
#include "shoal/model.h"

namespace shoal {
namespace {

constexpr uint32_t kMaxCapacity = 1u << 16;
constexpr uint32_t kMaxSide = 1u << 14;
constexpr uint32_t kMaxKernel = 255;
constexpr uint64_t kMaxTensorElements = uint64_t{1} << 28;  // 1 GiB of floats

Status corrupt(std::string message) { return Status(StatusCode::kCorrupt, std::move(message)); }

std::string node_label(const fb::Node* node, uint32_t index) {
  std::string label = "node " + std::to_string(index);
  if (node->name()) label += " (" + node->name()->str() + ")";
  return label;
}

class Checker {
 public:
  Checker(const fb::Model& m, const uint8_t* base) : m_(m), base_(base) {}

  Status run() {
    SHOAL_RETURN_IF_ERROR(check_groups());
    SHOAL_RETURN_IF_ERROR(check_tensors());
    SHOAL_RETURN_IF_ERROR(check_buffers());
    const uint32_t block = m_.weight_block();
    if (block != 0 && block != 4 && block != 8 && block != 16) {
      return corrupt("weight_block is " + std::to_string(block) + "; packed weights come in blocks of 4, 8 or 16");
    }
    SHOAL_RETURN_IF_ERROR(check_nodes());
    SHOAL_RETURN_IF_ERROR(check_subnets());
    SHOAL_RETURN_IF_ERROR(check_normalisation());
    return check_concat_ranges();
  }

 private:
  uint32_t capacity(uint32_t tensor) const {
    return m_.groups()->Get(m_.tensors()->Get(tensor)->group())->capacity();
  }
  const fb::Tensor* tensor(uint32_t i) const { return m_.tensors()->Get(i); }

  // Per-channel means and stds: absent or one per input channel, every std above 0.
  Status check_normalisation() {
    const fb::Metadata* md = m_.metadata();
    if (!md) return Status::ok();
    const uint32_t channels = capacity(m_.input());
    for (const auto* v : {md->input_means(), md->input_stds()}) {
      if (v && v->size() != channels) {
        return corrupt("the metadata has " + std::to_string(v->size()) + " input means or stds for " +
                       std::to_string(channels) + " input channels");
      }
    }
    if (md->input_stds()) {
      for (float s : *md->input_stds()) {
        if (!(s > 0.0f)) return corrupt("an input std of " + std::to_string(s) + " (must be above 0)");
      }
    }
    return Status::ok();
  }

  Status check_groups() {
    if (m_.groups()->size() == 0) return corrupt("the model has no channel groups");
    for (uint32_t i = 0; i < m_.groups()->size(); ++i) {
      const uint32_t cap = m_.groups()->Get(i)->capacity();
      if (cap == 0 || cap > kMaxCapacity) {
        return corrupt("channel group " + std::to_string(i) + " has capacity " +
                       std::to_string(cap) + " (must be 1.." + std::to_string(kMaxCapacity) + ")");
      }
    }
    return Status::ok();
  }

  Status check_tensors() {
    const uint32_t groups = m_.groups()->size();
    if (m_.tensors()->size() == 0) return corrupt("the model has no tensors");
    for (uint32_t i = 0; i < m_.tensors()->size(); ++i) {
      const fb::Tensor* t = tensor(i);
      const std::string label = "tensor " + std::to_string(i) + " (" + t->name()->str() + ")";
      if (t->group() >= groups) {
        return corrupt(label + " names channel group " + std::to_string(t->group()) +
                       " but there are " + std::to_string(groups));
      }
      if (t->height() == 0 || t->width() == 0 || t->height() > kMaxSide || t->width() > kMaxSide) {
        return corrupt(label + " is " + std::to_string(t->height()) + "x" +
                       std::to_string(t->width()) + " pixels (each side must be 1.." +
                       std::to_string(kMaxSide) + ")");
      }
      if (uint64_t{t->height()} * t->width() * capacity(i) > kMaxTensorElements) {
        return corrupt(label + " is larger than 1 GiB");
      }
      if (t->type() != fb::DataType::F32) {
        const char* type = fb::EnumNameDataType(t->type());
        return Status(StatusCode::kUnsupported, label + " holds " + (*type ? std::string(type) : "an unknown type") +
                                                    " elements; this version of shoal runs F32 tensors only");
      }
    }
    if (m_.input() >= m_.tensors()->size() || m_.output() >= m_.tensors()->size()) {
      return corrupt("the model's input or output tensor index is out of range");
    }
    return Status::ok();
  }

  Status check_buffers() {
    if (!m_.buffers()) return Status::ok();
    for (uint32_t i = 0; i < m_.buffers()->size(); ++i) {
      const auto* data = m_.buffers()->Get(i)->data();
      if (!data) return corrupt("weight buffer " + std::to_string(i) + " has no data");
      if ((data->data() - base_) % kWeightAlignment != 0) {
        return corrupt("weight buffer " + std::to_string(i) +
                       " is not 64-byte aligned in the file; it was not written by a shoal builder");
      }
    }
    return Status::ok();
  }

  // A buffer index that must hold exactly `floats` floats, or be -1 when optional.
  Status check_buffer(const std::string& label, const char* what, int32_t index, uint64_t floats,
                      bool required) {
    if (index < 0) {
      if (index == -1 && !required) return Status::ok();
      return corrupt(label + " has no " + what + " buffer");
    }
    const uint32_t count = m_.buffers() ? m_.buffers()->size() : 0;
    if (static_cast<uint32_t>(index) >= count) {
      return corrupt(label + " names " + what + " buffer " + std::to_string(index) + " but there are " +
                     std::to_string(count));
    }
    const uint64_t bytes = m_.buffers()->Get(index)->data()->size();
    if (bytes != floats * 4) {
      return corrupt(label + ": " + what + " buffer " + std::to_string(index) + " holds " +
                     std::to_string(bytes) + " bytes, the layer needs " + std::to_string(floats * 4));
    }
    return Status::ok();
  }

  // Weights packed at export (shoal pack): whole blocks of Model.weight_block output channels.
  Status check_packed(const std::string& label, const fb::Node* node, uint32_t cout, uint64_t per_out) {
    const uint32_t block = m_.weight_block();
    if (node->packed_weights() == -1) return Status::ok();
    if (block == 0) return corrupt(label + " has packed weights but the model names no weight_block");
    const uint64_t padded = (uint64_t{cout} + block - 1) / block * block;
    return check_buffer(label, "packed weights", node->packed_weights(), padded * per_out, true);
  }

  Status check_affine(const std::string& label, const fb::Node* node, uint32_t cout) {
    for (auto [what, index] : {std::pair<const char*, int32_t>{"scale", node->scale()},
                               std::pair<const char*, int32_t>{"shift", node->shift()}}) {
      if (index < 0) {
        SHOAL_RETURN_IF_ERROR(check_buffer(label, what, index, 0, false));
        continue;
      }
      if (static_cast<uint32_t>(index) >= (m_.buffers() ? m_.buffers()->size() : 0)) {
        return check_buffer(label, what, index, 0, true);
      }
      const uint64_t bytes = m_.buffers()->Get(index)->data()->size();
      const uint64_t rows = m_.affine_sets();
      if (bytes != uint64_t{cout} * 4 && bytes != rows * cout * 4) {
        return corrupt(label + ": " + what + " buffer " + std::to_string(index) + " holds " +
                       std::to_string(bytes) + " bytes; it must hold 1 or " + std::to_string(rows) +
                       " rows of " + std::to_string(cout) + " floats");
      }
    }
    return Status::ok();
  }

  // Output size of a sliding window; false when the window does not fit.
  static bool window_out(uint32_t in, uint32_t k, uint32_t s, uint32_t d, uint32_t p0, uint32_t p1,
                         uint32_t* out) {
    const uint64_t span = uint64_t{d} * (k - 1) + 1;
    const uint64_t padded = uint64_t{in} + p0 + p1;
    if (padded < span) return false;
    *out = static_cast<uint32_t>((padded - span) / s + 1);
    return true;
  }

  Status check_window(const std::string& label, const fb::Window* w, uint32_t in, uint32_t out,
                      bool pool) {
    if (!w) return corrupt(label + " has no window (kernel, stride, padding)");
    const uint32_t ks[] = {w->kernel_h(), w->kernel_w()};
    const uint32_t ss[] = {w->stride_h(), w->stride_w()};
    const uint32_t ds[] = {w->dilation_h(), w->dilation_w()};
    const uint32_t ps[] = {w->pad_top(), w->pad_left(), w->pad_bottom(), w->pad_right()};
    for (int a = 0; a < 2; ++a) {
      if (ks[a] == 0 || ks[a] > kMaxKernel || ss[a] == 0 || ss[a] > kMaxKernel || ds[a] == 0 ||
          ds[a] > kMaxKernel) {
        return corrupt(label + " has a kernel, stride or dilation of 0 or above 255");
      }
      if (ps[a] > kMaxKernel || ps[a + 2] > kMaxKernel) return corrupt(label + " has padding above 255");
      // A pooling window made only of padding would have nothing to pool.
      if (pool && (ds[a] != 1 || ps[a] >= ks[a] || ps[a + 2] >= ks[a])) {
        return corrupt(label + ": pooling needs dilation 1 and padding smaller than the kernel");
      }
    }
    const fb::Tensor* ti = tensor(in);
    const fb::Tensor* to = tensor(out);
    uint32_t oh = 0, ow = 0;
    if (!window_out(ti->height(), ks[0], ss[0], ds[0], ps[0], ps[2], &oh) ||
        !window_out(ti->width(), ks[1], ss[1], ds[1], ps[1], ps[3], &ow) || oh != to->height() ||
        ow != to->width()) {
      return corrupt(label + ": a " + std::to_string(ti->height()) + "x" + std::to_string(ti->width()) +
                     " input with this window does not give the " + std::to_string(to->height()) +
                     "x" + std::to_string(to->width()) + " output the model declares");
    }
    return Status::ok();
  }

  Status check_nodes() {
    const uint32_t tensors = m_.tensors()->size();
    std::vector<bool> produced(tensors, false);
    produced[m_.input()] = true;
    for (uint32_t n = 0; n < m_.nodes()->size(); ++n) {
      const fb::Node* node = m_.nodes()->Get(n);
      const std::string label = node_label(node, n);
      const fb::OpType op = node->op();
      if (op > fb::OpType::MAX) {
        return Status(StatusCode::kUnsupported,
                      label + " has op " + std::to_string(static_cast<int>(op)) +
                          " which this build does not know; use a newer shoal");
      }
      const uint32_t inputs = node->inputs()->size();
      const bool concat = op == fb::OpType::Concat;
      const uint32_t want_inputs = op == fb::OpType::Add ? 2 : 1;
      if ((concat ? inputs < 2 || inputs > kMaxConcatInputs : inputs != want_inputs) ||
          node->outputs()->size() != 1) {
        return corrupt(label + " has " + std::to_string(inputs) + " inputs and " +
                       std::to_string(node->outputs()->size()) + " outputs; " + fb::EnumNameOpType(op) +
                       " takes " + (concat ? "2 to " + std::to_string(kMaxConcatInputs) : std::to_string(want_inputs)) +
                       " and 1");
      }
      for (uint32_t in : *node->inputs()) {
        if (in >= tensors) return corrupt(label + " reads tensor " + std::to_string(in) + ", out of range");
        if (!produced[in]) {
          return corrupt(label + " reads tensor " + std::to_string(in) +
                         " before any node writes it (nodes must be in execution order)");
        }
      }
      const uint32_t out = node->outputs()->Get(0);
      if (out >= tensors) return corrupt(label + " writes tensor " + std::to_string(out) + ", out of range");
      if (produced[out]) return corrupt(label + " writes tensor " + std::to_string(out) + " a second time");
      produced[out] = true;
      if (node->activation() > fb::Activation::MAX) return corrupt(label + " has an unknown activation");
      SHOAL_RETURN_IF_ERROR(check_op(label, node));
    }
    if (!produced[m_.output()] || m_.output() == m_.input()) {
      return corrupt("no node writes the model's output tensor");
    }
    return Status::ok();
  }

  Status check_op(const std::string& label, const fb::Node* node) {
    const uint32_t in = node->inputs()->Get(0), out = node->outputs()->Get(0);
    const fb::Tensor* ti = tensor(in);
    const fb::Tensor* to = tensor(out);
    const bool same_group = ti->group() == to->group();
    if (node->exclude_padding() && node->op() != fb::OpType::AvgPool) {
      return corrupt(label + ": exclude_padding is for AvgPool only");
    }
    const bool same_shape = same_group && ti->height() == to->height() && ti->width() == to->width();
    const bool weighted = node->op() == fb::OpType::Conv2d || node->op() == fb::OpType::Linear;
    if (!weighted && (node->weights() != -1 || node->scale() != -1 || node->shift() != -1 ||
                      node->packed_weights() != -1)) {
      return corrupt(label + ": only Conv2d and Linear nodes carry weights");
    }
    switch (node->op()) {
      case fb::OpType::Conv2d: {
        SHOAL_RETURN_IF_ERROR(check_window(label, node->window(), in, out, false));
        if (node->depthwise() && !same_group) {
          return corrupt(label + ": a depthwise convolution must keep its channel group");
        }
        const fb::Window* w = node->window();
        const uint64_t per_out =
            uint64_t{w->kernel_h()} * w->kernel_w() * (node->depthwise() ? 1 : capacity(in));
        SHOAL_RETURN_IF_ERROR(check_buffer(label, "weights", node->weights(), capacity(out) * per_out, true));
        SHOAL_RETURN_IF_ERROR(check_packed(label, node, capacity(out), per_out));
        return check_affine(label, node, capacity(out));
      }
      case fb::OpType::Linear: {
        if (to->height() != 1 || to->width() != 1) return corrupt(label + ": a Linear output must be 1x1");
        if (node->depthwise() || node->window()) return corrupt(label + ": Linear takes no window");
        const uint64_t per_out = uint64_t{ti->height()} * ti->width() * capacity(in);
        SHOAL_RETURN_IF_ERROR(check_buffer(label, "weights", node->weights(), capacity(out) * per_out, true));
        SHOAL_RETURN_IF_ERROR(check_packed(label, node, capacity(out), per_out));
        return check_affine(label, node, capacity(out));
      }
      case fb::OpType::MaxPool:
      case fb::OpType::AvgPool:
        if (!same_group) return corrupt(label + ": pooling must keep its channel group");
        return check_window(label, node->window(), in, out, true);
      case fb::OpType::GlobalAvgPool:
        if (!same_group || to->height() != 1 || to->width() != 1) {
          return corrupt(label + ": global pooling gives a 1x1 tensor of the same channel group");
        }
        return Status::ok();
      case fb::OpType::Add: {
        const fb::Tensor* tb = tensor(node->inputs()->Get(1));
        if (!same_shape || tb->group() != ti->group() || tb->height() != ti->height() ||
            tb->width() != ti->width()) {
          return corrupt(label + ": Add needs two inputs and an output of one channel group and shape");
        }
        return Status::ok();
      }
      case fb::OpType::Activation:
        if (node->activation() == fb::Activation::None) return corrupt(label + ": Activation of None");
        [[fallthrough]];
      case fb::OpType::Softmax:
        if (!same_shape) return corrupt(label + " must keep its input's channel group and shape");
        return Status::ok();
      case fb::OpType::Concat:
        return check_concat(label, node);
    }
    return corrupt(label + " has an unknown op");
  }

  // Inputs of one shape whose capacities add up to the output's; no window, no activation.
  // Whether every subnet's channels stay one range is check_concat_ranges' (after subnets).
  Status check_concat(const std::string& label, const fb::Node* node) {
    const fb::Tensor* to = tensor(node->outputs()->Get(0));
    uint64_t sum = 0;
    for (uint32_t in : *node->inputs()) {
      if (tensor(in)->height() != to->height() || tensor(in)->width() != to->width()) {
        return corrupt(label + ": Concat needs inputs of the output's height and width");
      }
      sum += capacity(in);
    }
    if (sum != capacity(node->outputs()->Get(0))) {
      return corrupt(label + ": the inputs have " + std::to_string(sum) + " channels in all, the output group " +
                     std::to_string(capacity(node->outputs()->Get(0))));
    }
    if (node->window() || node->depthwise() || node->activation() != fb::Activation::None) {
      return corrupt(label + ": Concat takes no window, depthwise flag or activation");
    }
    return Status::ok();
  }

  // At every subnet, the output range of each Concat holds exactly its inputs' ranges.
  Status check_concat_ranges() {
    for (uint32_t n = 0; n < m_.nodes()->size(); ++n) {
      const fb::Node* node = m_.nodes()->Get(n);
      if (node->op() != fb::OpType::Concat) continue;
      const uint32_t inputs = node->inputs()->size();
      uint32_t caps[kMaxConcatInputs];
      for (uint32_t b = 0; b < inputs; ++b) caps[b] = capacity(node->inputs()->Get(b));
      const std::vector<shoal_concat_run> runs = concat_runs(caps, inputs);
      for (const fb::Subnet* sub : *m_.subnets()) {
        auto range = [&](uint32_t t) { return sub->ranges()->Get(tensor(t)->group()); };
        const fb::GroupRange* out = range(node->outputs()->Get(0));
        uint64_t active = 0;
        for (uint32_t b = 0; b < inputs; ++b) active += range(node->inputs()->Get(b))->hi() - range(node->inputs()->Get(b))->lo();
        bool inside = active == out->hi() - out->lo();
        for (const shoal_concat_run& r : runs) {
          const uint32_t lo = std::max(r.dst, out->lo()), hi = std::min(r.dst + r.count, out->hi());
          if (lo >= hi) continue;
          const fb::GroupRange* in = range(node->inputs()->Get(r.input));
          inside = inside && in->lo() <= r.src + (lo - r.dst) && r.src + (hi - r.dst) <= in->hi();
        }
        if (!inside) {
          return corrupt(node_label(node, n) + ": at subnet " + sub->name()->str() +
                         " the concatenation's channels are not its inputs' channels (a Concat output group's "
                         "range must be the sum of its inputs', and subnets must take every group by the same "
                         "fraction)");
        }
      }
    }
    return Status::ok();
  }

  Status check_subnets() {
    const uint32_t groups = m_.groups()->size();
    if (m_.subnets()->size() == 0) return corrupt("the model has no subnets");
    if (m_.affine_sets() == 0) return corrupt("the model declares 0 affine sets");
    for (uint32_t s = 0; s < m_.subnets()->size(); ++s) {
      const fb::Subnet* sub = m_.subnets()->Get(s);
      const std::string label = "subnet " + std::to_string(s) + " (" + sub->name()->str() + ")";
      for (uint32_t t = 0; t < s; ++t) {
        if (m_.subnets()->Get(t)->name()->string_view() == sub->name()->string_view()) {
          return corrupt(label + " has the same name as subnet " + std::to_string(t));
        }
      }
      if (!(sub->width() > 0.0f && sub->width() <= 1.0f)) {
        return corrupt(label + " has width " + std::to_string(sub->width()) + " (must be in (0, 1])");
      }
      if (sub->ranges()->size() != groups) {
        return corrupt(label + " has " + std::to_string(sub->ranges()->size()) +
                       " channel ranges for " + std::to_string(groups) + " groups");
      }
      if (sub->affine_set() >= m_.affine_sets()) {
        return corrupt(label + " uses affine set " + std::to_string(sub->affine_set()) + " of " +
                       std::to_string(m_.affine_sets()));
      }
      SHOAL_RETURN_IF_ERROR(check_quantization(label, sub));
      for (uint32_t g = 0; g < groups; ++g) {
        const fb::GroupRange* r = sub->ranges()->Get(g);
        const fb::ChannelGroup* group = m_.groups()->Get(g);
        if (r->lo() >= r->hi() || r->hi() > group->capacity()) {
          return corrupt(label + " gives group " + group->name()->str() + " channels [" +
                         std::to_string(r->lo()) + ", " + std::to_string(r->hi()) + ") of " +
                         std::to_string(group->capacity()));
        }
        if (!group->sliceable() && (r->lo() != 0 || r->hi() != group->capacity())) {
          return corrupt(label + " slices group " + group->name()->str() + ", which is not sliceable");
        }
      }
    }
    return Status::ok();
  }

  // A subnet's quantisation, where it has one: a finite positive scale and an int8 zero point
  // for every tensor.
  Status check_quantization(const std::string& label, const fb::Subnet* sub) {
    if (!sub->quantization()) return Status::ok();
    const uint32_t tensors = m_.tensors()->size();
    if (sub->quantization()->size() != tensors) {
      return corrupt(label + " quantises " + std::to_string(sub->quantization()->size()) + " tensors of " +
                     std::to_string(tensors));
    }
    for (uint32_t t = 0; t < tensors; ++t) {
      const fb::Quantization* q = sub->quantization()->Get(t);
      if (!(q->scale() > 0.0f && q->scale() < 3.4e38f) || q->zero_point() < -128 || q->zero_point() > 127) {
        return corrupt(label + " quantises tensor " + std::to_string(t) + " (" + tensor(t)->name()->str() +
                       ") with scale " + std::to_string(q->scale()) + " and zero point " +
                       std::to_string(q->zero_point()) + " (must be a positive scale and -128..127)");
      }
    }
    return Status::ok();
  }

  const fb::Model& m_;
  const uint8_t* base_;
};

}  // namespace

Status check_model(const fb::Model& model, const uint8_t* base) { return Checker(model, base).run(); }

}  // namespace shoal
