#include "shoal/bench_layers.h"

#include <set>
#include <tuple>


namespace shoal {

std::vector<BenchLayer> bench_layers(const Model& m) {
  std::vector<BenchLayer> layers;
  std::set<std::tuple<uint32_t, uint32_t, uint32_t, uint32_t, uint32_t, uint32_t, uint32_t, bool>> seen;
  for (uint32_t n = 0; n < m.fb().nodes()->size(); ++n) {
    const fb::Node* node = m.fb().nodes()->Get(n);
    if (node->op() != fb::OpType::Conv2d) continue;
    const uint32_t in = node->inputs()->Get(0), out = node->outputs()->Get(0);
    const TensorShape is = m.shape(in), os = m.shape(out);
    const fb::Window* w = node->window();
    if (!seen.insert({is.h, is.c, os.h, os.c, w->kernel_h(), w->kernel_w(), w->stride_h(), node->depthwise()}).second) {
      continue;
    }
    const std::string shape = std::to_string(is.h) + "x" + std::to_string(is.w) + "x" + std::to_string(is.c) +
                              " -> " + std::to_string(os.h) + "x" + std::to_string(os.w) + "x" +
                              std::to_string(os.c) + " " + std::to_string(w->kernel_h()) + "x" +
                              std::to_string(w->kernel_w()) + "/" + std::to_string(w->stride_h()) +
                              (node->depthwise() ? " dw" : "");
    layers.push_back({n, in, out, node->name()->str(), shape});
  }
  return layers;
}

Status run_layer(Engine& engine, uint32_t subnet, const BenchLayer& layer, const float* x, float* y) {
  const Model& m = engine.model();
  const TensorIn in{layer.input, x, m.packed_size(subnet, layer.input)};
  const TensorOut out{layer.output, y, m.packed_size(subnet, layer.output)};
  return engine.run_nodes(subnet, layer.node, layer.node + 1, m.ranges(subnet), &in, 1, &out, 1);
}

}  // namespace shoal
