// What the benchmarks time (`shoal bench`, bench/conv_bench, a user's own): the synth
// architectures with random weights, and of each, one convolution per distinct layer shape,
// run alone as one node of the engine (its input copied in and its output copied out, as a
// split or a partition runs it).
#ifndef SHOAL_BENCH_LAYERS_H_
#define SHOAL_BENCH_LAYERS_H_

#include <string>
#include <vector>

#include "shoal/architectures.h"  // synth_model
#include "shoal/engine.h"
#include "shoal/model.h"

namespace shoal {

struct BenchLayer {
  uint32_t node = 0;
  uint32_t input = 0, output = 0;  // tensors
  std::string name;   // the node's name
  std::string shape;  // "28x28x16 -> 28x28x16 3x3/1" (full width)
};

// Every convolution of a distinct shape, kernel and stride, in graph order.
std::vector<BenchLayer> bench_layers(const Model& model);

// Runs one layer at a subnet: `x` holds at least packed_size(subnet, layer.input) floats and
// `y` room for packed_size(subnet, layer.output).
Status run_layer(Engine& engine, uint32_t subnet, const BenchLayer& layer, const float* x, float* y);

}  // namespace shoal

#endif  // SHOAL_BENCH_LAYERS_H_
