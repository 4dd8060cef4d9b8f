#include "shoal/engine.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "shoal/arena_planner.h"
#include "shoal/concat_order.h"

namespace shoal {

// Kernels may read up to this many bytes past a tensor (vector tails in optimised backends).
constexpr size_t kOverRead = 64;
constexpr size_t kTensorAlignment = 64;
constexpr uint8_t kOnHost = 1, kOnDevice = 2;

struct Engine::Step {
  fb::OpType op;
  uint32_t in_group, out_group;
  const float* a;  // first input
  const float* b;  // second input (Add)
  float* y;
  const float* w;
  const float* prepacked;  // the model's weights packed at export for these kernels, or null
  const float* scale;
  const float* shift;
  uint32_t scale_row, shift_row;  // floats from one affine set to the next; 0 when shared
  shoal_conv2d_params conv;
  shoal_pool_params pool;
  shoal_eltwise_params elt;
  uint32_t first_input, inputs;  // Concat: its inputs in concat_x_ and concat_stride_
  uint32_t first_run, runs;      // Concat: its runs in concat_runs_
};

namespace {

shoal_plane plane(const TensorShape& s) { return {s.h, s.w, s.c, 0, s.c}; }

shoal_window window(const fb::Window* w) {
  if (!w) return {1, 1, 1, 1, 0, 0, 1, 1};
  return {w->kernel_h(), w->kernel_w(), w->stride_h(), w->stride_w(),
          w->pad_top(),  w->pad_left(), w->dilation_h(), w->dilation_w()};
}

// Output rows [oy0, oy1) of a windowed layer as a layer of its own: both pointers moved to the
// band's first rows, the top padding what is left of it above the band.
struct RowBand {
  shoal_plane in, out;
  shoal_window win;
  size_t x_offset, y_offset;  // floats
};

RowBand row_band(const shoal_plane& in, const shoal_plane& out, const shoal_window& win, uint32_t oy0,
                 uint32_t oy1) {
  RowBand b{in, out, win, 0, size_t{oy0} * out.w * out.stride};
  b.out.h = oy1 - oy0;
  const int64_t first = int64_t{oy0} * win.stride_h - win.pad_top;  // first input row the band reads
  if (first > 0) {
    const uint32_t skip = static_cast<uint32_t>(std::min<int64_t>(first, in.h));
    b.x_offset = size_t{skip} * in.w * in.stride;
    b.in.h = in.h - skip;
    b.win.pad_top = 0;
  } else {
    b.win.pad_top = static_cast<uint32_t>(-first);
  }
  return b;
}

}  // namespace

Result<std::unique_ptr<Engine>> Engine::make(void* memory, size_t bytes, const Model& model,
                                             const KernelTable& kernels, unsigned threads, uint64_t min_band_work) {
  if (threads < 1 || threads > 256) {
    return Status(StatusCode::kInvalidArgument, "threads must be 1 to 256, not " + std::to_string(threads));
  }
#if !SHOAL_HAVE_THREADS
  if (threads > 1) {
    return Status(StatusCode::kUnsupported, "this build of shoal has no threads (SHOAL_THREADS=OFF): use threads = 1");
  }
#endif
  std::unique_ptr<Engine> engine(new (std::nothrow) Engine(model));
  if (!engine) return Status(StatusCode::kIo, "out of memory creating an engine");
  engine->threads_ = threads;
  engine->min_band_work_ = min_band_work;
  SHOAL_RETURN_IF_ERROR(engine->plan(kernels));
  const size_t need = engine->memory_bytes();
  if (memory) {
    if (reinterpret_cast<uintptr_t>(memory) % kTensorAlignment != 0) {
      return Status(StatusCode::kInvalidArgument, "the engine's memory must be 64-byte aligned (declare it alignas(64))");
    }
    if (bytes < need) {
      return Status(StatusCode::kInvalidArgument, "the engine's memory holds " + std::to_string(bytes) +
                                                      " bytes; this model and backend need " + std::to_string(need) +
                                                      " (Engine::required_bytes)");
    }
  } else {
    engine->owned_ = static_cast<uint8_t*>(std::aligned_alloc(kTensorAlignment, need ? need : kTensorAlignment));
    if (!engine->owned_) return Status(StatusCode::kIo, "out of memory: the engine needs " + std::to_string(need) + " bytes");
    memory = engine->owned_;
  }
  SHOAL_RETURN_IF_ERROR(engine->bind(static_cast<uint8_t*>(memory)));
  return engine;
}

Result<std::unique_ptr<Engine>> Engine::create(const Model& model, const KernelTable& kernels, unsigned threads,
                                               uint64_t min_band_work) {
  return make(nullptr, 0, model, kernels, threads, min_band_work);
}

Result<std::unique_ptr<Engine>> Engine::create_in(void* memory, size_t bytes, const Model& model,
                                                  const KernelTable& kernels, unsigned threads, uint64_t min_band_work) {
  if (!memory) return Status(StatusCode::kInvalidArgument, "create_in needs memory (or use create)");
  return make(memory, bytes, model, kernels, threads, min_band_work);
}

Result<size_t> Engine::required_bytes(const Model& model, const KernelTable& kernels) {
  Engine engine(model);
  SHOAL_RETURN_IF_ERROR(engine.plan(kernels));
  return engine.memory_bytes();
}

Engine::Engine(const Model& model) : model_(&model) {}

Engine::~Engine() { std::free(owned_); }

Status Engine::plan(const KernelTable& kernels) {
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
    requests[t].bytes = live ? model_->shape(t).elements() * sizeof(float) + kOverRead : 0;
    requests[t].first = producer_[t] + 1;
    requests[t].last = t == m.output() ? static_cast<int>(nodes) + 1
                                       : std::max(requests[t].first, last_reader_[t] + 1);
  }
  const ArenaPlan plan = plan_arena(requests, kTensorAlignment);
  offsets_ = plan.offsets;
  arena_bytes_ = plan.total;

  kernels_ = &kernels;
  steps_.resize(nodes);
  concat_runs_.clear();
  concat_stride_.clear();
  for (uint32_t n = 0; n < nodes; ++n) {
    const fb::Node* node = m.nodes()->Get(n);
    Step& s = steps_[n];
    std::memset(&s, 0, sizeof(s));
    const uint32_t in = node->inputs()->Get(0), out = node->outputs()->Get(0);
    const TensorShape is = model_->shape(in), os = model_->shape(out);
    s.op = node->op();
    s.in_group = m.tensors()->Get(in)->group();
    s.out_group = m.tensors()->Get(out)->group();
    s.w = model_->buffer_f32(node->weights());
    if (kernels.weight_block && kernels.weight_block == m.weight_block() && !kernels.backend) {
      s.prepacked = model_->buffer_f32(node->packed_weights());
    }
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
  }
  packed_bytes_ = 0;
  if (kernels.conv2d_pack && !kernels.backend) {
    for (const Step& s : steps_) packed_bytes_ += packed_floats_of(s) * sizeof(float);
  }
  return Status::ok();
}

size_t Engine::packed_floats_of(const Step& s) const {
  if ((s.op != fb::OpType::Conv2d && s.op != fb::OpType::Linear) || s.prepacked) return 0;
  return (kernels_->conv2d_packed_floats(&s.conv, s.conv.out.stride) + 15) / 16 * 16;
}

// The arena first, then one packed copy of every layer's full-width weights, made once.
Status Engine::bind(uint8_t* memory) {
  arena_ = reinterpret_cast<float*>(memory);
  packed_ = reinterpret_cast<float*>(memory + arena_bytes_);
  std::memset(arena_, 0, arena_bytes_);  // touch every page now, not during the first run
  const fb::Model& m = model_->fb();
  for (uint32_t n = 0; n < steps_.size(); ++n) {
    const fb::Node* node = m.nodes()->Get(n);
    Step& s = steps_[n];
    s.a = tensor_data(node->inputs()->Get(0));
    s.b = node->inputs()->size() > 1 ? tensor_data(node->inputs()->Get(1)) : nullptr;
    s.y = tensor_data(node->outputs()->Get(0));
  }
  concat_x_.clear();
  for (uint32_t n = 0; n < steps_.size(); ++n) {
    if (steps_[n].op != fb::OpType::Concat) continue;
    for (uint32_t in : *m.nodes()->Get(n)->inputs()) concat_x_.push_back(tensor_data(in));
  }
  if (kernels_->backend) return create_operators();
#if SHOAL_HAVE_THREADS
  if (threads_ > 1) {
    pool_.reset(new (std::nothrow) ThreadPool(threads_));
    if (!pool_) return Status(StatusCode::kIo, "out of memory creating a thread pool");
  }
#endif
  if (!kernels_->conv2d_pack) return Status::ok();
  float* next = packed_;
  for (Step& s : steps_) {
    if (s.prepacked) s.w = s.prepacked;
    const size_t floats = packed_floats_of(s);
    if (!floats) continue;
    kernels_->conv2d_pack(&s.conv, s.conv.out.stride, s.w, next);
    s.w = next;
    next += floats;
  }
  return Status::ok();
}

// One operator per (layer, subnet), on the layer's fixed places in the backend's arena: the
// engine's own, or one of the same layout in a device backend's memory. What the backend took
// is what it holds after minus before (engines created one at a time).
Status Engine::create_operators() {
  const fb::Model& m = model_->fb();
  const Backend& backend = *kernels_->backend;
  const uint32_t subnets = m.subnets()->size();
  Result<std::unique_ptr<BackendContext>> ctx = backend.context(threads_);
  if (!ctx.is_ok()) return ctx.status();
  backend_ = std::move(ctx.value());
  const size_t held_before = backend.live_bytes();
  if (!backend.host_memory()) {
    Result<void*> arena = backend_->allocate(arena_bytes_ ? arena_bytes_ : kTensorAlignment);
    if (!arena.is_ok()) {
      return Status(arena.status().code(), std::string("the ") + backend.name() + " backend could not allocate its " +
                                               std::to_string(arena_bytes_) + "-byte arena: " + arena.status().message());
    }
    device_ = static_cast<uint8_t*>(arena.value());
    where_.assign(m.tensors()->size(), 0);
  }
  // A pointer into the host arena, moved to the same place in the backend's.
  const auto at = [&](const float* host) -> float* {
    if (!host || !device_) return const_cast<float*>(host);
    return reinterpret_cast<float*>(device_ + (reinterpret_cast<const uint8_t*>(host) - reinterpret_cast<uint8_t*>(arena_)));
  };
  ops_.resize(steps_.size() * subnets);
  for (uint32_t n = 0; n < steps_.size(); ++n) {
    Step& s = steps_[n];
    for (uint32_t sub = 0; sub < subnets; ++sub) {
      const fb::Subnet* subnet = m.subnets()->Get(sub);
      const fb::GroupRange* ri = subnet->ranges()->Get(s.in_group);
      const fb::GroupRange* ro = subnet->ranges()->Get(s.out_group);
      Result<std::unique_ptr<Operator>> op = std::unique_ptr<Operator>();
      shoal_eltwise_params elt = s.elt;
      elt.lo = ro->lo(), elt.hi = ro->hi();
      switch (s.op) {
        case fb::OpType::Conv2d:
        case fb::OpType::Linear: {
          shoal_conv2d_params p = s.conv;
          p.in.lo = ri->lo(), p.in.hi = ri->hi(), p.out.lo = ro->lo(), p.out.hi = ro->hi();
          const uint32_t affine = subnet->affine_set();
          op = backend.conv2d(*backend_, p, s.w, s.scale ? s.scale + affine * s.scale_row : nullptr,
                              s.shift ? s.shift + affine * s.shift_row : nullptr, at(s.a), at(s.y));
          break;
        }
        case fb::OpType::MaxPool:
        case fb::OpType::AvgPool:
        case fb::OpType::GlobalAvgPool: {
          shoal_pool_params p = s.pool;
          p.in.lo = p.out.lo = ro->lo(), p.in.hi = p.out.hi = ro->hi();
          const PoolKind kind = s.op == fb::OpType::MaxPool   ? PoolKind::kMax
                                : s.op == fb::OpType::AvgPool ? PoolKind::kAverage
                                                              : PoolKind::kGlobalAverage;
          op = backend.pool(*backend_, kind, p, at(s.a), at(s.y));
          break;
        }
        case fb::OpType::Add: op = backend.add(*backend_, elt, at(s.a), at(s.b), at(s.y)); break;
        case fb::OpType::Activation: op = backend.activation(*backend_, elt, at(s.a), at(s.y)); break;
        case fb::OpType::Softmax: op = backend.softmax(*backend_, elt, at(s.a), at(s.y)); break;
        case fb::OpType::Concat: break;  // shoal's kernel, on the host
      }
      if (!op.is_ok()) {
        return Status(op.status().code(), "layer '" + m.nodes()->Get(n)->name()->str() + "' at subnet '" +
                                              subnet->name()->str() + "': " + op.status().message());
      }
      ops_[size_t{n} * subnets + sub] = std::move(op.value());
    }
  }
  const size_t held_after = backend.live_bytes();
  packed_bytes_ = held_after > held_before ? held_after - held_before : 0;
  return Status::ok();
}

float* Engine::device_data(uint32_t tensor) const {
  return reinterpret_cast<float*>(device_ + offsets_[tensor]);
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
    SHOAL_RETURN_IF_ERROR(backend_->copy_in(device_data(t), tensor_data(t), bytes));
  } else {
    SHOAL_RETURN_IF_ERROR(backend_->copy_out(tensor_data(t), device_data(t), bytes));
    SHOAL_RETURN_IF_ERROR(backend_->synchronize());
  }
  where_[t] |= side;
  transfer_bytes_ += bytes;
  return Status::ok();
}

constexpr uint32_t kBandsPerThread = 4;

template <typename Band>
void Engine::for_row_bands(uint32_t rows, uint64_t work, Band& band) {
  const uint64_t worth = min_band_work_ ? std::max<uint64_t>(1, work / min_band_work_) : rows;
  // A few bands per thread, claimed as threads come free, so a thread that starts late (a
  // busy core) does not hold the layer up.
#if SHOAL_HAVE_THREADS
  const uint32_t bands =
      pool_ ? static_cast<uint32_t>(std::min<uint64_t>({uint64_t{kBandsPerThread} * pool_->threads(), rows, worth})) : 1;
  if (bands <= 1) return band(0, rows);
  auto task = [&](uint32_t i) { band(rows * i / bands, rows * (i + 1) / bands); };
  pool_->run(bands, task);
#else
  (void)worth;
  band(0, rows);
#endif
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
      return Status(StatusCode::kUnsupported, "node '" + m.nodes()->Get(n)->name()->str() +
                                                  "' concatenates channels; a channel partition cannot narrow it");
    }
  }
  if (narrowed && !ops_.empty()) {
    return Status(StatusCode::kUnsupported, "the " + std::string(kernels_->name) +
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
        return Status(StatusCode::kInvalidArgument, "node '" + m.nodes()->Get(n)->name()->str() + "' reads tensor '" +
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
  const uint32_t affine = m.subnets()->Get(subnet)->affine_set();
  const uint32_t subnets = m.subnets()->size();
  for (uint32_t n = first; n < end; ++n) {
    Step& s = steps_[n];
    Operator* op = ops_.empty() ? nullptr : ops_[size_t{n} * subnets + subnet].get();
    if (device_) {  // this node's inputs to its side, and its output only there
      for (uint32_t t : *m.nodes()->Get(n)->inputs()) SHOAL_RETURN_IF_ERROR(have(t, op ? kOnDevice : kOnHost));
      where_[m.nodes()->Get(n)->outputs()->Get(0)] = op ? kOnDevice : kOnHost;
    }
    if (op) {
      SHOAL_RETURN_IF_ERROR(op->run());
      continue;
    }
    const fb::GroupRange* ri = &ranges[s.in_group];
    const fb::GroupRange* ro = &ranges[s.out_group];
    const KernelTable& k = *kernels_;
    switch (s.op) {
      case fb::OpType::Conv2d:
      case fb::OpType::Linear: {
        s.conv.in.lo = ri->lo(), s.conv.in.hi = ri->hi();
        s.conv.out.lo = ro->lo(), s.conv.out.hi = ro->hi();
        const float* scale = s.scale ? s.scale + affine * s.scale_row : nullptr;
        const float* shift = s.shift ? s.shift + affine * s.shift_row : nullptr;
        auto band = [&](uint32_t oy0, uint32_t oy1) {
          const RowBand b = row_band(s.conv.in, s.conv.out, s.conv.win, oy0, oy1);
          shoal_conv2d_params p = s.conv;
          p.in = b.in, p.out = b.out, p.win = b.win;
          k.conv2d(&p, s.a + b.x_offset, s.w, scale, shift, s.y + b.y_offset);
        };
        const uint64_t taps = uint64_t{s.conv.win.kernel_h} * s.conv.win.kernel_w;
        const uint64_t work = uint64_t{s.conv.out.h} * s.conv.out.w * (ro->hi() - ro->lo()) * taps *
                              (s.conv.depthwise ? 1 : ri->hi() - ri->lo());
        for_row_bands(s.conv.out.h, work, band);
        break;
      }
      case fb::OpType::MaxPool:
      case fb::OpType::AvgPool: {
        s.pool.in.lo = s.pool.out.lo = ro->lo();
        s.pool.in.hi = s.pool.out.hi = ro->hi();
        auto pool = s.op == fb::OpType::MaxPool ? k.max_pool : k.avg_pool;
        auto band = [&](uint32_t oy0, uint32_t oy1) {
          const RowBand b = row_band(s.pool.in, s.pool.out, s.pool.win, oy0, oy1);
          const shoal_pool_params p{b.in, b.out, b.win};
          pool(&p, s.a + b.x_offset, s.y + b.y_offset);
        };
        const uint64_t work = uint64_t{s.pool.out.h} * s.pool.out.w * (ro->hi() - ro->lo()) *
                              s.pool.win.kernel_h * s.pool.win.kernel_w;
        for_row_bands(s.pool.out.h, work, band);
        break;
      }
      case fb::OpType::GlobalAvgPool:
        s.pool.in.lo = s.pool.out.lo = ro->lo();
        s.pool.in.hi = s.pool.out.hi = ro->hi();
        k.global_avg_pool(&s.pool, s.a, s.y);
        break;
      case fb::OpType::Add:
      case fb::OpType::Activation: {
        s.elt.lo = ro->lo(), s.elt.hi = ro->hi();
        auto band = [&](uint32_t r0, uint32_t r1) {
          shoal_eltwise_params p = s.elt;
          p.h = r1 - r0;
          const size_t pixels = size_t{r0} * p.w;
          if (s.op == fb::OpType::Add) {
            k.add(&p, s.a + pixels * p.a_stride, s.b + pixels * p.b_stride, s.y + pixels * p.y_stride);
          } else {
            k.activation(&p, s.a + pixels * p.a_stride, s.y + pixels * p.y_stride);
          }
        };
        for_row_bands(s.elt.h, uint64_t{s.elt.h} * s.elt.w * (ro->hi() - ro->lo()), band);
        break;
      }
      case fb::OpType::Softmax:
        s.elt.lo = ro->lo(), s.elt.hi = ro->hi();
        k.softmax(&s.elt, s.a, s.y);
        break;
      case fb::OpType::Concat: {
        const uint32_t* strides = &concat_stride_[s.first_input];
        auto band = [&](uint32_t r0, uint32_t r1) {
          const float* x[kMaxConcatInputs];
          const size_t pixel = size_t{r0} * s.elt.w;
          for (uint32_t b = 0; b < s.inputs; ++b) x[b] = concat_x_[s.first_input + b] + pixel * strides[b];
          const shoal_concat_params p{(r1 - r0) * s.elt.w, s.elt.y_stride, ro->lo(), ro->hi(), s.runs};
          k.concat(&p, &concat_runs_[s.first_run], x, strides, s.y + pixel * s.elt.y_stride);
        };
        for_row_bands(s.elt.h, uint64_t{s.elt.h} * s.elt.w * (ro->hi() - ro->lo()), band);
        break;
      }
    }
  }
  return Status::ok();
}

}  // namespace shoal
