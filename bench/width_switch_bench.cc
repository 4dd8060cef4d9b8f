// The cost of switching width: the engine runs the trained resnet8 member at one width after
// another (w0.25 <-> w1.0, every width in turn) against the same widths run back to back.
// Switching only changes the channel ranges handed to the kernels, so the difference is
// cache state, not set-up: no weights are re-packed, nothing is allocated.
//   build/bench/width_switch_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstdio>
#include <memory>
#include <vector>

#include "shoal/architectures.h"
#include "shoal/engine.h"

namespace {

struct Fixture {
  std::unique_ptr<shoal::Model> model;
  std::unique_ptr<shoal::Engine> engine;
  std::vector<float> in, out;
};

Fixture& fixture() {
  static Fixture f = [] {
    Fixture x;
    x.model = std::make_unique<shoal::Model>(std::move(shoal::synth_model("resnet8").value()));
    x.engine = std::move(shoal::Engine::create(*x.model).value());
    x.in.assign(x.engine->packed_size(3, x.model->fb().input()), 0.5f);
    x.out.assign(10, 0.0f);
    return x;
  }();
  return f;
}

void run(Fixture& f, uint32_t subnet, benchmark::State& state) {
  if (!f.engine->run(subnet, f.in.data(), f.in.size(), f.out.data(), f.out.size()).is_ok()) {
    state.SkipWithError("run failed");
  }
}

// One width, back to back: the reference. Argument: subnet index (0 = w0.25 .. 3 = w1.0).
void BM_SameWidth(benchmark::State& state) {
  Fixture& f = fixture();
  const uint32_t s = static_cast<uint32_t>(state.range(0));
  for (auto _ : state) run(f, s, state);
  state.SetLabel(f.model->fb().subnets()->Get(s)->name()->str());
}
BENCHMARK(BM_SameWidth)->DenseRange(0, 3);

// w0.25 and w1.0 alternating; per iteration both run, compare with the two SameWidth sums.
void BM_AlternateNarrowWide(benchmark::State& state) {
  Fixture& f = fixture();
  for (auto _ : state) {
    run(f, 0, state);
    run(f, 3, state);
  }
}
BENCHMARK(BM_AlternateNarrowWide);

// Every width in turn, a switch before every run; compare with the four SameWidth sums.
void BM_CycleAllWidths(benchmark::State& state) {
  Fixture& f = fixture();
  for (auto _ : state) {
    for (uint32_t s = 0; s < 4; ++s) run(f, s, state);
  }
}
BENCHMARK(BM_CycleAllWidths);

}  // namespace

BENCHMARK_MAIN();
