#include "shoal/engine.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "shoal/arena_planner.h"

namespace shoal {

// Kernels may read up to this many bytes past a tensor (vector tails in optimised backends).
constexpr size_t kOverRead = 64;
constexpr size_t kTensorAlignment = 64;

struct Engine::Step {
  fb::OpType op;
  uint32_t in_group, out_group;
  const float* a;  // first input
  const float* b;  // second input (Add)
  float* y;
  const float* w;
  const float* scale;
  const float* shift;
  uint32_t scale_row, shift_row;  // floats from one affine set to the next; 0 when shared
  shoal_conv2d_params conv;
  shoal_pool_params pool;
  shoal_eltwise_params elt;
};

namespace {

shoal_plane plane(const TensorShape& s) { return {s.h, s.w, s.c, 0, s.c}; }

shoal_window window(const fb::Window* w) {
  if (!w) return {1, 1, 1, 1, 0, 0, 1, 1};
  return {w->kernel_h(), w->kernel_w(), w->stride_h(), w->stride_w(),
          w->pad_top(),  w->pad_left(), w->dilation_h(), w->dilation_w()};
}

}  // namespace

Result<std::unique_ptr<Engine>> Engine::create(const Model& model, const KernelTable& kernels) {
  std::unique_ptr<Engine> engine(new Engine(model));
  SHOAL_RETURN_IF_ERROR(engine->prepare(kernels));
  return engine;
}

Engine::Engine(const Model& model) : model_(&model) {}

Engine::~Engine() {
  std::free(arena_);
  std::free(packed_);
}

Status Engine::prepare(const KernelTable& kernels) {
  const fb::Model& m = model_->fb();
  const uint32_t tensors = m.tensors()->size();
  const uint32_t nodes = m.nodes()->size();
  producer_.assign(tensors, -1);
  last_reader_.assign(tensors, -1);
  for (uint32_t n = 0; n < nodes; ++n) {
    const fb::Node* node = m.nodes()->Get(n);
    producer_[node->outputs()->Get(0)] = static_cast<int32_t>(n);
    for (uint32_t in : *node->inputs()) last_reader_[in] = static_cast<int32_t>(n);
  }
  whole_ = {m.input(), m.output(), 0, static_cast<uint32_t>(producer_[m.output()] + 1)};

  // Step t = 0 is "before any node"; node n runs at step n + 1.
  std::vector<ArenaRequest> requests(tensors);
  for (uint32_t t = 0; t < tensors; ++t) {
    const bool live = producer_[t] >= 0 || t == m.input();
    requests[t].bytes = live ? model_->shape(t).elements() * sizeof(float) + kOverRead : 0;
    requests[t].first = producer_[t] + 1;
    requests[t].last = t == m.output() ? static_cast<int>(nodes) + 1
                                       : std::max(requests[t].first, last_reader_[t] + 1);
  }
  const ArenaPlan plan = plan_arena(requests, kTensorAlignment);
  offsets_ = plan.offsets;
  arena_bytes_ = plan.total;
  arena_ = static_cast<float*>(std::aligned_alloc(kTensorAlignment, arena_bytes_ ? arena_bytes_ : kTensorAlignment));
  if (!arena_) return Status(StatusCode::kIo, "out of memory: the arena needs " + std::to_string(arena_bytes_) + " bytes");
  std::memset(arena_, 0, arena_bytes_);  // touch every page now, not during the first run

  kernels_ = &kernels;
  steps_.resize(nodes);
  for (uint32_t n = 0; n < nodes; ++n) {
    const fb::Node* node = m.nodes()->Get(n);
    Step& s = steps_[n];
    std::memset(&s, 0, sizeof(s));
    const uint32_t in = node->inputs()->Get(0), out = node->outputs()->Get(0);
    const TensorShape is = model_->shape(in), os = model_->shape(out);
    s.op = node->op();
    s.in_group = m.tensors()->Get(in)->group();
    s.out_group = m.tensors()->Get(out)->group();
    s.a = tensor_data(in);
    s.b = node->inputs()->size() > 1 ? tensor_data(node->inputs()->Get(1)) : nullptr;
    s.y = tensor_data(out);
    s.w = model_->buffer_f32(node->weights());
    s.scale = model_->buffer_f32(node->scale());
    s.shift = model_->buffer_f32(node->shift());
    auto row = [&](int32_t buffer) -> uint32_t {
      if (buffer < 0) return 0;
      const bool shared = m.buffers()->Get(buffer)->data()->size() == os.c * sizeof(float);
      return shared ? 0 : os.c;
    };
    s.scale_row = row(node->scale());
    s.shift_row = row(node->shift());
    const int32_t act = static_cast<int32_t>(node->activation());
    if (s.op == fb::OpType::Linear) {
      // A fully connected layer is a convolution whose kernel covers the whole input.
      s.conv = {plane(is), plane(os), {is.h, is.w, 1, 1, 0, 0, 1, 1}, is.c, 0, act};
    } else {
      s.conv = {plane(is), plane(os), window(node->window()),
                node->depthwise() ? 1u : is.c, node->depthwise() ? 1u : 0u, act};
    }
    s.pool = {plane(is), plane(os), window(node->window())};
    s.elt = {os.h, os.w, is.c, is.c, os.c, 0, os.c, act};
  }
  return pack_weights();
}

// One packed copy of every layer's full-width weights, in one allocation, made once.
Status Engine::pack_weights() {
  if (!kernels_->conv2d_pack) return Status::ok();
  std::vector<size_t> offsets(steps_.size(), 0);
  size_t total = 0;
  for (size_t n = 0; n < steps_.size(); ++n) {
    const Step& s = steps_[n];
    if (s.op != fb::OpType::Conv2d && s.op != fb::OpType::Linear) continue;
    offsets[n] = total;
    total += (kernels_->conv2d_packed_floats(&s.conv, s.conv.out.stride) + 15) / 16 * 16;
  }
  packed_bytes_ = total * sizeof(float);
  packed_ = static_cast<float*>(std::aligned_alloc(kTensorAlignment, packed_bytes_ ? packed_bytes_ : kTensorAlignment));
  if (!packed_) return Status(StatusCode::kIo, "out of memory packing " + std::to_string(packed_bytes_) + " bytes of weights");
  for (size_t n = 0; n < steps_.size(); ++n) {
    Step& s = steps_[n];
    if (s.op != fb::OpType::Conv2d && s.op != fb::OpType::Linear) continue;
    kernels_->conv2d_pack(&s.conv, s.conv.out.stride, s.w, packed_ + offsets[n]);
    s.w = packed_ + offsets[n];
  }
  return Status::ok();
}

float* Engine::tensor_data(uint32_t tensor) const {
  return reinterpret_cast<float*>(reinterpret_cast<uint8_t*>(arena_) + offsets_[tensor]);
}

Segment Engine::whole() const { return whole_; }

Result<Segment> Engine::segment(std::string_view from_name, std::string_view to_name) const {
  Result<uint32_t> from = model_->find_tensor(from_name);
  if (!from.is_ok()) return from.status();
  Result<uint32_t> to = model_->find_tensor(to_name);
  if (!to.is_ok()) return to.status();
  const fb::Model& m = model_->fb();
  if (from.value() != m.input() && producer_[from.value()] < 0) {
    return Status(StatusCode::kInvalidArgument, "tensor '" + std::string(from_name) + "' is never computed");
  }
  Segment seg{from.value(), to.value(), static_cast<uint32_t>(producer_[from.value()] + 1),
              static_cast<uint32_t>(producer_[to.value()] + 1)};
  if (producer_[to.value()] < 0 || seg.end_node <= seg.first_node) {
    return Status(StatusCode::kInvalidArgument,
                  "'" + std::string(to_name) + "' is not computed after '" + std::string(from_name) + "'");
  }
  for (uint32_t n = seg.first_node; n < seg.end_node; ++n) {
    for (uint32_t in : *m.nodes()->Get(n)->inputs()) {
      const int32_t p = producer_[in];
      if (in != seg.from && (p < static_cast<int32_t>(seg.first_node) || p >= static_cast<int32_t>(n))) {
        return Status(StatusCode::kInvalidArgument,
                      "cannot cut at '" + std::string(from_name) + "': node " + std::to_string(n) +
                          " also needs tensor '" +
                          m.tensors()->Get(in)->name()->str() + "' from before the cut");
      }
    }
  }
  return seg;
}

size_t Engine::packed_size(uint32_t subnet, uint32_t tensor) const {
  const fb::Model& m = model_->fb();
  const fb::Tensor* t = m.tensors()->Get(tensor);
  const fb::GroupRange* r = m.subnets()->Get(subnet)->ranges()->Get(t->group());
  return size_t{t->height()} * t->width() * (r->hi() - r->lo());
}

Status Engine::run(uint32_t subnet, const Segment& seg, const float* in, size_t in_count,
                   float* out, size_t out_count) {
  const fb::Model& m = model_->fb();
  if (subnet >= m.subnets()->size()) {
    return Status(StatusCode::kInvalidArgument, "subnet index " + std::to_string(subnet) + " out of range");
  }
  if (seg.from >= producer_.size() || seg.to >= producer_.size() || seg.end_node > steps_.size() ||
      seg.first_node != static_cast<uint32_t>(producer_[seg.from] + 1) ||
      seg.end_node != static_cast<uint32_t>(producer_[seg.to] + 1)) {
    return Status(StatusCode::kInvalidArgument, "segment does not belong to this engine");
  }
  if (in_count != packed_size(subnet, seg.from) || out_count != packed_size(subnet, seg.to)) {
    return Status(StatusCode::kInvalidArgument,
                  "input holds " + std::to_string(in_count) + " floats and output " +
                      std::to_string(out_count) + "; this subnet needs " +
                      std::to_string(packed_size(subnet, seg.from)) + " and " +
                      std::to_string(packed_size(subnet, seg.to)));
  }
  const fb::Subnet* sub = m.subnets()->Get(subnet);
  const auto* ranges = sub->ranges();
  const uint32_t affine = sub->affine_set();

  // Moves a tensor between its packed form and its full-width place in the arena.
  auto for_each_pixel = [&](uint32_t t, auto&& move) {
    const fb::Tensor* tensor = m.tensors()->Get(t);
    const fb::GroupRange* r = ranges->Get(tensor->group());
    const size_t stride = model_->shape(t).c, active = r->hi() - r->lo();
    float* full = tensor_data(t) + r->lo();
    const size_t pixels = size_t{tensor->height()} * tensor->width();
    for (size_t p = 0; p < pixels; ++p) move(full + p * stride, p * active, active * sizeof(float));
  };
  for_each_pixel(seg.from, [&](float* arena, size_t packed, size_t bytes) { std::memcpy(arena, in + packed, bytes); });

  for (uint32_t n = seg.first_node; n < seg.end_node; ++n) {
    Step& s = steps_[n];
    const fb::GroupRange* ri = ranges->Get(s.in_group);
    const fb::GroupRange* ro = ranges->Get(s.out_group);
    const KernelTable& k = *kernels_;
    switch (s.op) {
      case fb::OpType::Conv2d:
      case fb::OpType::Linear:
        s.conv.in.lo = ri->lo(), s.conv.in.hi = ri->hi();
        s.conv.out.lo = ro->lo(), s.conv.out.hi = ro->hi();
        k.conv2d(&s.conv, s.a, s.w, s.scale ? s.scale + affine * s.scale_row : nullptr,
                 s.shift ? s.shift + affine * s.shift_row : nullptr, s.y);
        break;
      case fb::OpType::MaxPool:
      case fb::OpType::AvgPool:
      case fb::OpType::GlobalAvgPool:
        s.pool.in.lo = s.pool.out.lo = ro->lo();
        s.pool.in.hi = s.pool.out.hi = ro->hi();
        (s.op == fb::OpType::MaxPool ? k.max_pool
         : s.op == fb::OpType::AvgPool ? k.avg_pool
                                       : k.global_avg_pool)(&s.pool, s.a, s.y);
        break;
      case fb::OpType::Add:
        s.elt.lo = ro->lo(), s.elt.hi = ro->hi();
        k.add(&s.elt, s.a, s.b, s.y);
        break;
      case fb::OpType::Activation:
        s.elt.lo = ro->lo(), s.elt.hi = ro->hi();
        k.activation(&s.elt, s.a, s.y);
        break;
      case fb::OpType::Softmax:
        s.elt.lo = ro->lo(), s.elt.hi = ro->hi();
        k.softmax(&s.elt, s.a, s.y);
        break;
    }
  }
  for_each_pixel(seg.to, [&](float* arena, size_t packed, size_t bytes) { std::memcpy(out + packed, arena, bytes); });
  return Status::ok();
}

}  // namespace shoal
