// Convolution layers of real architectures (fluid-cnn, resnet8 at 28x28, resnet18 at
// 224x224; random weights) at every width on every backend this CPU runs, one thread:
// microseconds and GFLOP/s per layer, plus weight and arena bytes per backend.
//   build/bench/conv_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// Each layer runs as an engine segment (input copied in, output copied out), as a split
// or layer-partitioned plan would run it. Where XNNPACK is installed, the peer runs in the
// same process: one operator per layer and width (XNNPACK cannot slice channels), created
// before timing, with batch-norm folded into its weights; each operator's output is checked
// against shoal's before it is timed.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <tuple>

#include "shoal/architectures.h"
#include "shoal/engine.h"

#if SHOAL_BENCH_XNNPACK
#include <xnnpack.h>
#endif

namespace {

struct Loaded {
  std::string arch;
  std::unique_ptr<shoal::Model> model;
  std::map<std::string, std::unique_ptr<shoal::Engine>> engines;  // by backend
};

std::vector<std::unique_ptr<Loaded>>& models() {
  static std::vector<std::unique_ptr<Loaded>> all;
  return all;
}

uint64_t layer_macs(const shoal::Model& m, const shoal::fb::Node* node, uint32_t subnet) {
  const auto* ranges = m.fb().subnets()->Get(subnet)->ranges();
  auto active = [&](uint32_t t) {
    const auto* r = ranges->Get(m.fb().tensors()->Get(t)->group());
    return uint64_t{r->hi() - r->lo()};
  };
  const uint32_t in = node->inputs()->Get(0), out = node->outputs()->Get(0);
  const shoal::TensorShape is = m.shape(in), os = m.shape(out);
  const uint64_t taps = node->window() ? uint64_t{node->window()->kernel_h()} * node->window()->kernel_w()
                                       : uint64_t{is.h} * is.w;
  return uint64_t{os.h} * os.w * active(out) * taps * (node->depthwise() ? 1 : active(in));
}

#if SHOAL_BENCH_XNNPACK
// An XNNPACK convolution for one layer at one subnet, with compact (active-only) channels.
struct XnnLayer {
  xnn_operator_t op = nullptr;
  std::vector<float> x, y;
  std::string error;
};

std::unique_ptr<XnnLayer> make_xnn_layer(const shoal::Model& m, const shoal::fb::Node* node, uint32_t subnet,
                                         shoal::Engine& engine, const shoal::Segment& segment) {
  auto layer = std::make_unique<XnnLayer>();
  const auto* sub = m.fb().subnets()->Get(subnet);
  const uint32_t in = node->inputs()->Get(0), out = node->outputs()->Get(0);
  const auto* ri = sub->ranges()->Get(m.fb().tensors()->Get(in)->group());
  const auto* ro = sub->ranges()->Get(m.fb().tensors()->Get(out)->group());
  const shoal::TensorShape is = m.shape(in), os = m.shape(out);
  const shoal::fb::Window* w = node->window();
  const uint32_t nin = ri->hi() - ri->lo(), nout = ro->hi() - ro->lo();
  const size_t taps = size_t{w->kernel_h()} * w->kernel_w();
  const float* weights = m.buffer_f32(node->weights());
  auto row = [&](int32_t buffer) -> const float* {
    if (buffer < 0) return nullptr;
    const bool per_set = m.fb().buffers()->Get(buffer)->data()->size() == size_t{m.fb().affine_sets()} * os.c * 4;
    return m.buffer_f32(buffer) + (per_set ? size_t{sub->affine_set()} * os.c : 0);
  };
  const float* scale = row(node->scale());
  const float* shift = row(node->shift());
  std::vector<float> k(size_t{nout} * taps * nin), bias(nout, 0.0f);
  for (uint32_t o = 0; o < nout; ++o) {
    const uint32_t co = ro->lo() + o;
    bias[o] = shift ? shift[co] : 0.0f;
    for (size_t t = 0; t < taps; ++t)
      for (uint32_t i = 0; i < nin; ++i)
        k[(o * taps + t) * nin + i] = weights[(co * taps + t) * is.c + ri->lo() + i] * (scale ? scale[co] : 1.0f);
  }
  const float lo = node->activation() == shoal::fb::Activation::None ? -INFINITY : 0.0f;
  const float hi = node->activation() == shoal::fb::Activation::Relu6 ? 6.0f : INFINITY;
  if (xnn_create_convolution2d_nhwc_f32(w->pad_top(), w->pad_right(), w->pad_bottom(), w->pad_left(), w->kernel_h(),
                                        w->kernel_w(), w->stride_h(), w->stride_w(), w->dilation_h(), w->dilation_w(),
                                        1, nin, nout, nin, nout, k.data(), bias.data(), lo, hi, 0,
                                        &layer->op) != xnn_status_success) {
    layer->error = "xnn_create_convolution2d_nhwc_f32 failed";
    return layer;
  }
  layer->x.resize(size_t{is.h} * is.w * nin + 16);
  for (size_t i = 0; i < layer->x.size(); ++i) layer->x[i] = static_cast<float>((i * 7919) % 1000) / 500.0f - 1.0f;
  layer->y.resize(size_t{os.h} * os.w * nout + 16);
  if (xnn_setup_convolution2d_nhwc_f32(layer->op, 1, is.h, is.w, layer->x.data(), layer->y.data(), nullptr) !=
          xnn_status_success ||
      xnn_run_operator(layer->op, nullptr) != xnn_status_success) {
    layer->error = "xnnpack setup/run failed";
    return layer;
  }
  // The peer must compute what shoal computes: compare once, on the same input.
  std::vector<float> mine(engine.packed_size(subnet, segment.to));
  const size_t n_in = engine.packed_size(subnet, segment.from);
  if (!engine.run(subnet, segment, layer->x.data(), n_in, mine.data(), mine.size()).is_ok()) {
    layer->error = "shoal run failed";
    return layer;
  }
  float worst = 0, scale_of = 1e-6f;
  for (size_t i = 0; i < mine.size(); ++i) {
    worst = std::max(worst, std::fabs(mine[i] - layer->y[i]));
    scale_of = std::max(scale_of, std::fabs(mine[i]));
  }
  if (worst > 1e-4f * (1 + scale_of)) layer->error = "xnnpack and shoal disagree by " + std::to_string(worst);
  return layer;
}
#endif

void register_all() {
  for (const char* arch : {"fluid-cnn", "resnet8", "resnet18"}) {
    auto spec = shoal::build_architecture(arch, {});
    shoal::randomize_weights(spec.value(), 1);
    const std::vector<uint8_t> bytes = shoal::serialize_model(spec.value());
    auto loaded = std::make_unique<Loaded>();
    loaded->arch = arch;
    loaded->model = std::make_unique<shoal::Model>(std::move(shoal::Model::from_bytes(bytes.data(), bytes.size()).value()));
    uint64_t weight_bytes = 0;
    for (const auto* b : *loaded->model->fb().buffers()) weight_bytes += b->data()->size();
    for (const shoal::KernelTable* k : shoal::available_kernels()) {
      auto e = shoal::Engine::create(*loaded->model, *k);
      std::fprintf(stderr, "%-10s %-7s model weights %9.1f KiB, packed copy %9.1f KiB, arena %8.1f KiB\n", arch, k->name,
                  weight_bytes / 1024.0, e.value()->packed_weight_bytes() / 1024.0, e.value()->arena_bytes() / 1024.0);
      loaded->engines[k->name] = std::move(e.value());
    }
    const shoal::Model& m = *loaded->model;
    std::set<std::tuple<uint32_t, uint32_t, uint32_t, uint32_t, uint32_t, uint32_t>> seen;
    for (const auto* node : *m.fb().nodes()) {
      if (node->op() != shoal::fb::OpType::Conv2d) continue;
      const uint32_t in = node->inputs()->Get(0), out = node->outputs()->Get(0);
      const shoal::TensorShape is = m.shape(in), os = m.shape(out);
      // One benchmark per distinct layer shape.
      if (!seen.insert({is.h, is.c, os.h, os.c, node->window()->kernel_h(), node->window()->stride_h()}).second) continue;
      auto seg = loaded->engines["ref"]->segment(m.fb().tensors()->Get(in)->name()->str(),
                                                 m.fb().tensors()->Get(out)->name()->str());
      // Only layers that run alone as a segment (a residual shortcut cannot be cut out alone).
      if (!seg.is_ok() || seg.value().end_node - seg.value().first_node != 1) continue;
      for (uint32_t s = 0; s < m.fb().subnets()->size(); ++s) {
#if SHOAL_BENCH_XNNPACK
        {
          const uint64_t macs = layer_macs(m, node, s);
          const std::string name = std::string(arch) + "/" + node->name()->str() + "/" +
                                   m.fb().subnets()->Get(s)->name()->str() + "/xnnpack";
          std::shared_ptr<XnnLayer> layer = make_xnn_layer(m, node, s, *loaded->engines["ref"], seg.value());
          benchmark::RegisterBenchmark(name.c_str(), [layer, macs](benchmark::State& state) {
            if (!layer->error.empty()) {
              state.SkipWithError(layer->error.c_str());
              return;
            }
            for (auto _ : state) xnn_run_operator(layer->op, nullptr);
            state.counters["GFLOP/s"] = benchmark::Counter(2.0 * macs * state.iterations() / 1e9, benchmark::Counter::kIsRate);
          })->Unit(benchmark::kMicrosecond)->UseRealTime();
        }
#endif
        for (auto& [backend, engine] : loaded->engines) {
          const uint64_t macs = layer_macs(m, node, s);
          if (backend == "ref" && macs > 50'000'000) continue;  // seconds per run; the twin tests cover it
          const std::string name = std::string(arch) + "/" + node->name()->str() + "/" +
                                   m.fb().subnets()->Get(s)->name()->str() + "/" + backend;
          shoal::Engine* e = engine.get();
          const shoal::Segment segment = seg.value();
          benchmark::RegisterBenchmark(name.c_str(), [e, segment, s, macs](benchmark::State& state) {
            std::vector<float> x(e->packed_size(s, segment.from), 0.5f), y(e->packed_size(s, segment.to));
            for (auto _ : state) {
              if (!e->run(s, segment, x.data(), x.size(), y.data(), y.size()).is_ok()) state.SkipWithError("run failed");
            }
            state.counters["GFLOP/s"] = benchmark::Counter(2.0 * macs * state.iterations() / 1e9, benchmark::Counter::kIsRate);
          })->Unit(benchmark::kMicrosecond)->UseRealTime();
        }
      }
    }
    models().push_back(std::move(loaded));
  }
}

}  // namespace

int main(int argc, char** argv) {
#if SHOAL_BENCH_XNNPACK
  if (xnn_initialize(nullptr) != xnn_status_success) std::fprintf(stderr, "XNNPACK did not initialise\n");
#endif
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
