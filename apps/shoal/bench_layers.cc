#include "bench_layers.h"

#include <set>
#include <tuple>

#include "shoal/architectures.h"
#include "shoal/builder.h"

namespace shoal::cli {

Result<Model> synth_model(const std::string& arch, uint64_t seed) {
  Result<ModelSpec> spec = build_architecture(arch, {});
  if (!spec.is_ok()) return spec.status();
  randomize_weights(spec.value(), seed);
  const std::vector<uint8_t> bytes = serialize_model(spec.value());
  return Model::from_bytes(bytes.data(), bytes.size());
}

std::vector<BenchLayer> bench_layers(const Engine& engine) {
  const Model& m = engine.model();
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
    Result<Segment> seg = engine.segment(m.fb().tensors()->Get(in)->name()->str(),
                                         m.fb().tensors()->Get(out)->name()->str());
    // A layer whose input also feeds a later node across the cut cannot run alone.
    if (!seg.is_ok() || seg->end_node - seg->first_node != 1) continue;
    const std::string shape = std::to_string(is.h) + "x" + std::to_string(is.w) + "x" + std::to_string(is.c) +
                              " -> " + std::to_string(os.h) + "x" + std::to_string(os.w) + "x" +
                              std::to_string(os.c) + " " + std::to_string(w->kernel_h()) + "x" +
                              std::to_string(w->kernel_w()) + "/" + std::to_string(w->stride_h()) +
                              (node->depthwise() ? " dw" : "");
    layers.push_back({n, seg.value(), node->name()->str(), shape});
  }
  return layers;
}

}  // namespace shoal::cli
