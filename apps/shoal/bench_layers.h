// What the benchmarks time (`shoal bench` and bench/conv_bench): the synth architectures with
// random weights, and of each, one convolution per distinct layer shape that runs alone as
// an engine segment (input copied in, output copied out, as a split plan would run it).
#ifndef SHOAL_APPS_BENCH_LAYERS_H_
#define SHOAL_APPS_BENCH_LAYERS_H_

#include <string>
#include <vector>

#include "shoal/engine.h"
#include "shoal/model.h"

namespace shoal::cli {

Result<Model> synth_model(const std::string& arch, uint64_t seed = 1);

struct BenchLayer {
  uint32_t node = 0;
  Segment segment;
  std::string name;   // the node's name
  std::string shape;  // "28x28x16 -> 28x28x16 3x3/1" (full width)
};

std::vector<BenchLayer> bench_layers(const Engine& engine);

}  // namespace shoal::cli

#endif  // SHOAL_APPS_BENCH_LAYERS_H_
