// Convolution layers of real architectures (fluid-cnn, resnet8 at 28x28, resnet18 at
// 224x224; random weights) at every width on every backend this build has, XNNPACK included
// where built (the peer, one operator per layer and subnet), with 1 and 2 threads:
// microseconds and GFLOP/s per layer.
//   build/bench/conv_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// The same layers as `shoal bench` (shoal/bench_layers.h), each run alone (input copied in,
// output copied out); the backends' agreement is tested in tests/kernels_backends_test.cc.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <memory>
#include <vector>

#include "shoal/bench_layers.h"
#include "shoal/engine.h"

namespace {

struct Loaded {
  std::unique_ptr<shoal::Model> model;
  std::vector<std::unique_ptr<shoal::Engine>> engines;
};

std::vector<std::unique_ptr<Loaded>>& models() {
  static std::vector<std::unique_ptr<Loaded>> all;
  return all;
}

void register_all() {
  for (const char* arch : {"fluid-cnn", "resnet8", "resnet18"}) {
    auto loaded = std::make_unique<Loaded>();
    loaded->model = std::make_unique<shoal::Model>(std::move(shoal::synth_model(arch).value()));
    const shoal::Model& m = *loaded->model;
    for (unsigned threads : {1u, 2u}) {
      for (const shoal::Backend* k : shoal::available_backends()) {
        loaded->engines.push_back(std::move(shoal::Engine::create(m, *k, threads).value()));
      }
    }
    const std::vector<shoal::BenchLayer> layers = shoal::bench_layers(m);
    for (const shoal::BenchLayer& layer : layers) {
      for (uint32_t s = 0; s < m.fb().subnets()->size(); ++s) {
        const uint64_t macs = m.node_cost(s, layer.node).macs;
        for (const auto& engine : loaded->engines) {
          const std::string backend = engine->backend().name();
          if (backend == "ref" && macs > 50'000'000) continue;  // seconds per run; the twin tests cover it
          const std::string name = std::string(arch) + "/" + layer.name + "/" + m.fb().subnets()->Get(s)->name()->str() +
                                   "/" + backend + "/threads:" + std::to_string(engine->threads());
          shoal::Engine* e = engine.get();
          benchmark::RegisterBenchmark(name.c_str(), [e, layer, s, macs](benchmark::State& state) {
            std::vector<float> x(e->packed_size(s, layer.input), 0.5f), y(e->packed_size(s, layer.output));
            for (auto _ : state) {
              if (!shoal::run_layer(*e, s, layer, x.data(), y.data()).is_ok()) state.SkipWithError("run failed");
            }
            state.counters["GFLOP/s"] = benchmark::Counter(2.0 * macs * state.iterations() / 1e9, benchmark::Counter::kIsRate);
          })->Unit(benchmark::kMicrosecond)->UseRealTime();
        }
      }
    }
    for (const auto& e : loaded->engines) {
      std::fprintf(stderr, "%-10s %-8s threads %u: model weights %9.1f KiB, backend's own weights %9.1f KiB, arena %8.1f KiB\n",
                   arch, e->backend().name(), e->threads(), m.weight_bytes() / 1024.0, e->packed_weight_bytes() / 1024.0,
                   e->arena_bytes() / 1024.0);
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
