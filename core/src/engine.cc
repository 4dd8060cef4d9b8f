#include "shoal/engine.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "shoal/arena_planner.h"
#include "shoal/concat_order.h"

namespace shoal {

constexpr uint8_t kOnHost = 1, kOnDevice = 2;
static_assert(SHOAL_DATATYPE_F32 == static_cast<int>(fb::DataType::F32) &&
                  SHOAL_DATATYPE_QINT8 == static_cast<int>(fb::DataType::QInt8) &&
                  SHOAL_DATATYPE_F16 == static_cast<int>(fb::DataType::F16),
              "shoal_datatype follows the model file's DataType");

// What the engine keeps of a node: which groups it reads and writes, where a Concat's inputs
// and runs are, and where the backend's packed weights for it are.
struct Engine::Step {
  fb::OpType op;
  uint32_t in_group, out_group;
  uint32_t first_input, inputs;  // Concat: its inputs in concat_x_ and concat_stride_
  uint32_t first_run, runs;      // Concat: its runs in concat_runs_
  size_t packed_offset, packed_bytes;  // into packed_
};

namespace {

// "'conv1'", or "3" for a node without a name (names are optional).
std::string node_label(const fb::Model& m, uint32_t n) {
  const flatbuffers::String* name = m.nodes()->Get(n)->name();
  return name ? "'" + name->str() + "'" : std::to_string(n);
}

shoal_window window(const fb::Window* w) {
  if (!w) return {1, 1, 1, 1, 0, 0, 1, 1};
  return {w->kernel_h(), w->kernel_w(), w->stride_h(), w->stride_w(),
          w->pad_top(),  w->pad_left(), w->dilation_h(), w->dilation_w()};
}

}  // namespace

Result<std::unique_ptr<Engine>> Engine::make(void* memory, size_t bytes, const Model& model, const Backend& backend,
                                             unsigned threads, uint64_t min_band_work) {
  if (threads < 1 || threads > 256) {
    return Status(StatusCode::kInvalidArgument, "threads must be 1 to 256, not " + std::to_string(threads));
  }
  std::unique_ptr<Engine> engine(new (std::nothrow) Engine(model));
  if (!engine) return Status(StatusCode::kOutOfMemory, "out of memory creating an engine");
  engine->threads_ = threads;
  engine->min_band_work_ = min_band_work;
  SHOAL_RETURN_IF_ERROR(engine->plan(backend));
  const size_t need = engine->memory_bytes();
  if (memory) {
    if (reinterpret_cast<uintptr_t>(memory) % SHOAL_TENSOR_ALIGNMENT != 0) {
      return Status(StatusCode::kInvalidArgument, "the engine's memory must be " +
                                                      std::to_string(SHOAL_TENSOR_ALIGNMENT) +
                                                      "-byte aligned (declare it alignas(SHOAL_TENSOR_ALIGNMENT))");
    }
    if (bytes < need) {
      return Status(StatusCode::kInvalidArgument, "the engine's memory holds " + std::to_string(bytes) +
                                                      " bytes; this model and backend need " + std::to_string(need) +
                                                      " (ask first: shoal_engine_required_bytes in C, Engine::required_bytes in C++)");
    }
  } else {
    engine->owned_ =
        static_cast<uint8_t*>(std::aligned_alloc(SHOAL_TENSOR_ALIGNMENT, need ? need : SHOAL_TENSOR_ALIGNMENT));
    if (!engine->owned_) {
      return Status(StatusCode::kOutOfMemory, "the engine needs " + std::to_string(need) + " bytes");
    }
    memory = engine->owned_;
  }
  SHOAL_RETURN_IF_ERROR(engine->bind(static_cast<uint8_t*>(memory)));
  return engine;
}

Result<std::unique_ptr<Engine>> Engine::create(const Model& model, const Backend& backend, unsigned threads,
                                               uint64_t min_band_work) {
  return make(nullptr, 0, model, backend, threads, min_band_work);
}

Result<std::unique_ptr<Engine>> Engine::create_in(void* memory, size_t bytes, const Model& model,
                                                  const Backend& backend, unsigned threads, uint64_t min_band_work) {
  if (!memory) return Status(StatusCode::kInvalidArgument, "create_in needs memory (or use create)");
  return make(memory, bytes, model, backend, threads, min_band_work);
}

Result<size_t> Engine::required_bytes(const Model& model, const Backend& backend) {
  Engine engine(model);
  SHOAL_RETURN_IF_ERROR(engine.plan(backend));
  return engine.memory_bytes();
}

Engine::Engine(const Model& model) : model_(&model) {}

Engine::~Engine() {
  ops_.clear();  // before the contexts and the memory they run in
  fallback_.reset();
  context_.reset();
  std::free(owned_);
}

size_t Engine::packed_weight_bytes() const { return packed_bytes_ + (context_ ? context_->held_bytes() : 0); }

Status Engine::plan(const Backend& backend) {
  const fb::Model& m = model_->fb();
  const uint32_t tensors = m.tensors()->size();
  const uint32_t nodes = m.nodes()->size();
  Model::TensorUse use = model_->tensor_use();
  producer_ = std::move(use.producer);
  last_reader_ = std::move(use.last_reader);
  whole_ = {m.input(), m.output(), 0, static_cast<uint32_t>(producer_[m.output()] + 1)};

  // Step t = 0 is "before any node"; node n runs at step n + 1.
  std::vector<ArenaRequest> requests(tensors);
  for (uint32_t t = 0; t < tensors; ++t) {
    const bool live = producer_[t] >= 0 || t == m.input();
    requests[t].bytes = live ? model_->shape(t).elements() * sizeof(float) + SHOAL_KERNEL_OVER_READ : 0;
    requests[t].first = producer_[t] + 1;
    requests[t].last = t == m.output() ? static_cast<int>(nodes) + 1
                                       : std::max(requests[t].first, last_reader_[t] + 1);
  }
  const ArenaPlan plan = plan_arena(requests, SHOAL_TENSOR_ALIGNMENT);
  offsets_ = plan.offsets;
  arena_bytes_ = plan.total;

  backend_ = &backend;
  steps_.resize(nodes);
  concat_runs_.clear();
  concat_stride_.clear();
  packed_bytes_ = 0;
  for (uint32_t n = 0; n < nodes; ++n) {
    const fb::Node* node = m.nodes()->Get(n);
    Step& s = steps_[n];
    std::memset(&s, 0, sizeof(s));
    s.op = node->op();
    s.in_group = m.tensors()->Get(node->inputs()->Get(0))->group();
    s.out_group = m.tensors()->Get(node->outputs()->Get(0))->group();
    if (s.op == fb::OpType::Concat) {
      uint32_t caps[kMaxConcatInputs];
      s.first_input = static_cast<uint32_t>(concat_stride_.size());
      s.inputs = node->inputs()->size();
      for (uint32_t b = 0; b < s.inputs; ++b) {
        caps[b] = model_->shape(node->inputs()->Get(b)).c;
        concat_stride_.push_back(caps[b]);
      }
      const std::vector<shoal_concat_run> runs = concat_runs(caps, s.inputs);
      s.first_run = static_cast<uint32_t>(concat_runs_.size());
      s.runs = static_cast<uint32_t>(runs.size());
      concat_runs_.insert(concat_runs_.end(), runs.begin(), runs.end());
    }
    // The backend's bytes for this layer; the same at every subnet (full-width weights).
    s.packed_offset = packed_bytes_;
    s.packed_bytes = backend.layer_bytes(layer(n, 0, nullptr));
    packed_bytes_ += s.packed_bytes;
  }
  return Status::ok();
}

Layer Engine::layer(uint32_t n, uint32_t sub, uint8_t* base) const {
  const fb::Model& m = model_->fb();
  const fb::Node* node = m.nodes()->Get(n);
  const fb::Subnet* subnet = m.subnets()->Get(sub);
  const Step& s = steps_[n];
  const uint32_t in = node->inputs()->Get(0), out = node->outputs()->Get(0);
  const TensorShape is = model_->shape(in), os = model_->shape(out);
  const fb::GroupRange* ri = subnet->ranges()->Get(s.in_group);
  const fb::GroupRange* ro = subnet->ranges()->Get(s.out_group);
  // Each tensor's element type, and its quantisation at this subnet where it has one.
  const auto type = [&](uint32_t t) -> shoal_tensor_type {
    shoal_tensor_type ty{static_cast<int32_t>(m.tensors()->Get(t)->type()), 0.0f, 0};
    if (subnet->quantization()) {
      ty.scale = subnet->quantization()->Get(t)->scale();
      ty.zero_point = subnet->quantization()->Get(t)->zero_point();
    }
    return ty;
  };
  const shoal_tensor_type ti = type(in), to = type(out);
  const shoal_tensor_type tb = node->inputs()->size() > 1 ? type(node->inputs()->Get(1)) : ti;
  const shoal_plane pi{is.h, is.w, is.c, ri->lo(), ri->hi(), ti}, po{os.h, os.w, os.c, ro->lo(), ro->hi(), to};
  const auto at = [&](uint32_t t) -> uint8_t* { return base ? base + offsets_[t] : nullptr; };
  Layer l;
  l.op = s.op;
  l.name = node->name() ? node->name()->c_str() : "";  // a node's name is optional
  l.node = n;
  l.subnet = sub;
  const int32_t act = static_cast<int32_t>(node->activation());
  if (s.op == fb::OpType::Linear) {
    // A fully connected layer is a convolution whose kernel covers the whole input.
    l.conv = {pi, po, {is.h, is.w, 1, 1, 0, 0, 1, 1}, is.c, 0, act};
  } else {
    l.conv = {pi, po, window(node->window()), node->depthwise() ? 1u : is.c, node->depthwise() ? 1u : 0u, act};
  }
  l.pool = {pi, po, window(node->window()), node->exclude_padding()};
  l.pool.in.lo = ro->lo(), l.pool.in.hi = ro->hi();  // pooling keeps its channels
  l.elt = {os.h, os.w, is.c, is.c, os.c, ro->lo(), ro->hi(), act, ti, tb, to};
  l.concat = {os.h * os.w, os.c, ro->lo(), ro->hi(), s.runs, to};
  if (s.op == fb::OpType::Concat) {
    l.runs = &concat_runs_[s.first_run];
    l.x_strides = &concat_stride_[s.first_input];
    const std::vector<const void*>& xs = base && base == device_ ? concat_device_x_ : concat_x_;
    l.xs = xs.empty() ? nullptr : &xs[s.first_input];
    l.inputs = s.inputs;
  }
  const uint32_t affine = subnet->affine_set();
  auto at_affine = [&](int32_t buffer) -> const float* {
    const float* f = model_->buffer_f32(buffer);
    if (!f) return nullptr;
    const bool shared = m.buffers()->Get(buffer)->data()->size() == os.c * sizeof(float);
    return shared ? f : f + size_t{affine} * os.c;
  };
  l.weights = model_->buffer_f32(node->weights());
  l.scale = at_affine(node->scale());
  l.shift = at_affine(node->shift());
  if (backend_->weight_block() && backend_->weight_block() == m.weight_block()) {
    l.prepacked = model_->buffer_f32(node->packed_weights());
  }
  l.x = at(in);
  l.b = node->inputs()->size() > 1 ? at(node->inputs()->Get(1)) : nullptr;
  l.y = at(out);
  return l;
}

// The arena first, then the backend's packed weights, packed once; then one operator per
// (layer, subnet), on the layer's fixed places in the backend's arena: the engine's own, or
// one of the same layout in a device backend's memory.
Status Engine::bind(uint8_t* memory) {
  arena_ = reinterpret_cast<float*>(memory);
  packed_ = memory + arena_bytes_;
  std::memset(arena_, 0, arena_bytes_);  // touch every page now, not during the first run
  const fb::Model& m = model_->fb();
  const Backend& backend = *backend_;
  Result<std::unique_ptr<BackendContext>> ctx = backend.context({threads_, min_band_work_});
  if (!ctx.is_ok()) return ctx.status();
  context_ = std::move(ctx.value());
  if (!backend.host_memory()) {
    Result<void*> arena = context_->allocate(arena_bytes_ ? arena_bytes_ : SHOAL_TENSOR_ALIGNMENT);
    if (!arena.is_ok()) {
      return Status(arena.status().code(), std::string("the ") + backend.name() + " backend could not allocate its " +
                                               std::to_string(arena_bytes_) + "-byte arena: " + arena.status().message());
    }
    device_ = static_cast<uint8_t*>(arena.value());
    where_.assign(m.tensors()->size(), 0);
  }
  concat_x_.clear();
  concat_device_x_.clear();
  for (uint32_t n = 0; n < steps_.size(); ++n) {
    if (steps_[n].op != fb::OpType::Concat) continue;
    for (uint32_t in : *m.nodes()->Get(n)->inputs()) {
      concat_x_.push_back(tensor_data(in));
      if (device_) concat_device_x_.push_back(device_ + offsets_[in]);
    }
  }
  uint8_t* const base = device_ ? device_ : reinterpret_cast<uint8_t*>(arena_);
  const uint32_t subnets = m.subnets()->size();
  ops_.resize(steps_.size() * subnets);
  for (uint32_t n = 0; n < steps_.size(); ++n) {
    const Step& s = steps_[n];
    void* layer_memory = s.packed_bytes ? packed_ + s.packed_offset : nullptr;
    if (layer_memory) backend.pack(layer(n, 0, base), layer_memory);
    for (uint32_t sub = 0; sub < subnets; ++sub) {
      const Layer l = layer(n, sub, base);
      Prepared& p = ops_[size_t{n} * subnets + sub];
      Result<std::unique_ptr<Operator>> op = backend.prepare(*context_, l, layer_memory);
      p.on_device = device_ != nullptr;
      if (op.is_ok() && !op.value() && &backend != &ref_backend()) {  // declined: the reference, on the host
        if (!fallback_) {
          Result<std::unique_ptr<BackendContext>> f = ref_backend().context({1, min_band_work_});
          if (!f.is_ok()) return f.status();
          fallback_ = std::move(f.value());
        }
        op = ref_backend().prepare(*fallback_, layer(n, sub, reinterpret_cast<uint8_t*>(arena_)), nullptr);
        p.on_device = false;
      }
      if (op.is_ok() && !op.value()) {
        op = Status(StatusCode::kUnsupported, "no backend runs it (an op or element type shoal has no kernel for)");
      }
      if (!op.is_ok()) {
        return Status(op.status().code(), "layer " + node_label(m, n) + " at subnet '" +
                                              m.subnets()->Get(sub)->name()->str() + "' on " + backend.name() + ": " +
                                              op.status().message());
      }
      p.op = std::move(op.value());
    }
  }
  return Status::ok();
}

void Engine::begin_run() {
  if (!device_) return;
  std::fill(where_.begin(), where_.end(), uint8_t{0});
  transfer_bytes_ = 0;
}

// Copies the whole tensor (every channel at capacity, as the arena holds it); a copy to the
// host waits for it, and for the operators before it.
Status Engine::have(uint32_t t, uint8_t side) {
  if (!device_ || (where_[t] & side)) return Status::ok();
  const size_t bytes = model_->shape(t).elements() * sizeof(float);
  if (side == kOnDevice) {
    SHOAL_RETURN_IF_ERROR(context_->copy_in(device_ + offsets_[t], tensor_data(t), bytes));
  } else {
    SHOAL_RETURN_IF_ERROR(context_->copy_out(tensor_data(t), device_ + offsets_[t], bytes));
    SHOAL_RETURN_IF_ERROR(context_->synchronize());
  }
  where_[t] |= side;
  transfer_bytes_ += bytes;
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

size_t Engine::packed_size(uint32_t subnet, uint32_t tensor) const { return model_->packed_size(subnet, tensor); }

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
  const fb::GroupRange* ranges = model_->ranges(subnet);
  move_tensor(seg.from, ranges, in, tensor_data(seg.from), true);
  begin_run();
  if (device_) where_[seg.from] = kOnHost;
  SHOAL_RETURN_IF_ERROR(execute(subnet, ranges, seg.first_node, seg.end_node));
  SHOAL_RETURN_IF_ERROR(have(seg.to, kOnHost));
  move_tensor(seg.to, ranges, tensor_data(seg.to), out, false);
  return Status::ok();
}

// Moves a tensor between its packed form and its full-width place in the arena: one copy
// when every channel is active, else a short loop per pixel (a memcpy call per pixel costs
// more than the copy at these sizes).
void Engine::move_tensor(uint32_t t, const fb::GroupRange* ranges, const float* from, float* to,
                         bool into_arena) const {
  const fb::Tensor* tensor = model_->fb().tensors()->Get(t);
  const fb::GroupRange& r = ranges[tensor->group()];
  const size_t stride = model_->shape(t).c, active = r.hi() - r.lo();
  const size_t pixels = size_t{tensor->height()} * tensor->width();
  if (active == stride) return static_cast<void>(std::memcpy(to, from, pixels * stride * sizeof(float)));
  const size_t from_step = into_arena ? active : stride, to_step = into_arena ? stride : active;
  if (into_arena) to += r.lo(); else from += r.lo();
  for (size_t p = 0; p < pixels; ++p, from += from_step, to += to_step) {
    for (size_t c = 0; c < active; ++c) to[c] = from[c];
  }
}

Status Engine::check_nodes(uint32_t subnet, uint32_t first, uint32_t end, const fb::GroupRange* ranges,
                           const TensorIn* in, size_t in_n, const TensorOut* out, size_t out_n) const {
  const fb::Model& m = model_->fb();
  if (subnet >= m.subnets()->size()) {
    return Status(StatusCode::kInvalidArgument, "subnet index " + std::to_string(subnet) + " out of range");
  }
  if (!(first < end && end <= steps_.size())) {
    return Status(StatusCode::kInvalidArgument, "nodes [" + std::to_string(first) + ", " + std::to_string(end) +
                                                    ") are not a range of this model's " +
                                                    std::to_string(steps_.size()) + " nodes");
  }
  if (!ranges) return Status(StatusCode::kInvalidArgument, "no channel ranges");
  const fb::Subnet* sub = m.subnets()->Get(subnet);
  bool narrowed = false;
  for (uint32_t g = 0; g < m.groups()->size(); ++g) {
    const fb::GroupRange* own = sub->ranges()->Get(g);
    const fb::GroupRange& r = ranges[g];
    if (!(own->lo() <= r.lo() && r.lo() < r.hi() && r.hi() <= own->hi())) {
      return Status(StatusCode::kInvalidArgument,
                    "channels [" + std::to_string(r.lo()) + ", " + std::to_string(r.hi()) + ") of group '" +
                        m.groups()->Get(g)->name()->str() + "' are not a non-empty part of [" +
                        std::to_string(own->lo()) + ", " + std::to_string(own->hi()) + "), the channels subnet '" +
                        sub->name()->str() + "' has");
    }
    narrowed = narrowed || r.lo() != own->lo() || r.hi() != own->hi();
  }
  for (uint32_t n = first; narrowed && n < end; ++n) {
    if (steps_[n].op == fb::OpType::Concat) {
      return Status(StatusCode::kUnsupported, "node " + node_label(m, n) +
                                                  " concatenates channels; a channel partition cannot narrow it");
    }
  }
  if (narrowed && !backend_->narrows()) {
    return Status(StatusCode::kUnsupported, "the " + std::string(backend_->name()) +
                                                " backend runs a subnet's own channels only; a channel partition "
                                                "needs shoal's kernels (ref, avx2, avx512, neon)");
  }
  const uint32_t tensors = m.tensors()->size();
  auto given = [&](uint32_t t) {
    for (size_t i = 0; i < in_n; ++i) {
      if (in[i].tensor == t) return true;
    }
    return false;
  };
  for (size_t i = 0; i < in_n; ++i) {
    const uint32_t t = in[i].tensor;
    if (t >= tensors || producer_[t] >= static_cast<int32_t>(first) || (producer_[t] < 0 && t != m.input())) {
      return Status(StatusCode::kInvalidArgument, "input " + std::to_string(i) + " is not a tensor made before node " +
                                                      std::to_string(first));
    }
    for (size_t j = 0; j < i; ++j) {
      if (in[j].tensor == t) return Status(StatusCode::kInvalidArgument, "input tensor '" + m.tensors()->Get(t)->name()->str() + "' is given twice");
    }
    if (in[i].count != model_->packed_size(subnet, t)) {
      return Status(StatusCode::kInvalidArgument, "tensor '" + m.tensors()->Get(t)->name()->str() + "' holds " +
                                                      std::to_string(model_->packed_size(subnet, t)) +
                                                      " floats at this subnet; the input has " +
                                                      std::to_string(in[i].count));
    }
  }
  for (uint32_t n = first; n < end; ++n) {
    for (uint32_t t : *m.nodes()->Get(n)->inputs()) {
      if (producer_[t] < static_cast<int32_t>(first) && !given(t)) {
        return Status(StatusCode::kInvalidArgument, "node " + node_label(m, n) + " reads tensor '" +
                                                        m.tensors()->Get(t)->name()->str() +
                                                        "', made before the first node: give it as an input");
      }
    }
  }
  for (size_t i = 0; i < out_n; ++i) {
    const uint32_t t = out[i].tensor;
    if (t >= tensors || producer_[t] < static_cast<int32_t>(first) || producer_[t] >= static_cast<int32_t>(end)) {
      return Status(StatusCode::kInvalidArgument, "output " + std::to_string(i) + " is not a tensor made by nodes [" +
                                                      std::to_string(first) + ", " + std::to_string(end) + ")");
    }
    if (out[i].count != model_->packed_size(ranges, t)) {
      return Status(StatusCode::kInvalidArgument, "tensor '" + m.tensors()->Get(t)->name()->str() + "' holds " +
                                                      std::to_string(model_->packed_size(ranges, t)) +
                                                      " floats at these ranges; the output has room for " +
                                                      std::to_string(out[i].count));
    }
  }
  return Status::ok();
}

Status Engine::run_nodes(uint32_t subnet, uint32_t first, uint32_t end, const fb::GroupRange* ranges,
                         const TensorIn* in, size_t in_n, const TensorOut* out, size_t out_n) {
  SHOAL_RETURN_IF_ERROR(check_nodes(subnet, first, end, ranges, in, in_n, out, out_n));
  const fb::GroupRange* own = model_->ranges(subnet);
  // Operator backends run whole subnets only (check_nodes), so `ranges` is the subnet's own
  // whenever there is a device side; the given tensors are on the host.
  begin_run();
  for (size_t i = 0; i < in_n; ++i) {
    move_tensor(in[i].tensor, own, in[i].data, tensor_data(in[i].tensor), true);
    if (device_) where_[in[i].tensor] = kOnHost;
  }
  SHOAL_RETURN_IF_ERROR(execute(subnet, ranges, first, end));
  for (size_t i = 0; i < out_n; ++i) {
    SHOAL_RETURN_IF_ERROR(have(out[i].tensor, kOnHost));
    move_tensor(out[i].tensor, ranges, tensor_data(out[i].tensor), out[i].data, false);
  }
  return Status::ok();
}

Status Engine::execute(uint32_t subnet, const fb::GroupRange* ranges, uint32_t first, uint32_t end) {
  const fb::Model& m = model_->fb();
  const uint32_t subnets = m.subnets()->size();
  for (uint32_t n = first; n < end; ++n) {
    const Step& s = steps_[n];
    Prepared& p = ops_[size_t{n} * subnets + subnet];
    if (device_) {  // this node's inputs to its side, and its output only there
      const uint8_t side = p.on_device ? kOnDevice : kOnHost;
      for (uint32_t t : *m.nodes()->Get(n)->inputs()) SHOAL_RETURN_IF_ERROR(have(t, side));
      where_[m.nodes()->Get(n)->outputs()->Get(0)] = side;
    }
    const fb::GroupRange& ri = ranges[s.in_group];
    const fb::GroupRange& ro = ranges[s.out_group];
    SHOAL_RETURN_IF_ERROR(p.op->run({ri.lo(), ri.hi(), ro.lo(), ro.hi()}));
  }
  return Status::ok();
}

}  // namespace shoal
