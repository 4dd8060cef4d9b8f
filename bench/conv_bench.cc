// Convolution layers of real architectures (fluid-cnn, resnet8 at 28x28, resnet18 at
// 224x224; random weights) at every width on every backend this CPU runs, one thread:
// microseconds and GFLOP/s per layer, plus weight and arena bytes per backend.
//   build/bench/conv_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// Each layer runs as an engine segment (input copied in, output copied out), as a split
// or layer-partitioned plan would run it.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <tuple>

#include "shoal/architectures.h"
#include "shoal/engine.h"

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
      std::printf("%-10s %-7s model weights %9.1f KiB, packed copy %9.1f KiB, arena %8.1f KiB\n", arch, k->name,
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
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
