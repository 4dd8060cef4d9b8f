// libFuzzer target: a model file's bytes through the loader's checks and, when they pass,
// the engine at every subnet. A file that loads must run without touching memory it does
// not own; one that does not must say why.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "shoal/engine.h"
#include "shoal/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto model = shoal::Model::from_bytes(data, size);
  if (!model.is_ok()) return 0;
  const shoal::Model& m = model.value();
  if (m.cost(0).macs > 50'000'000) return 0;  // valid but too slow to run per input
  auto engine = shoal::Engine::create(m, shoal::ref_backend());
  if (!engine.is_ok()) return 0;
  shoal::Engine& e = *engine.value();
  std::vector<float> in, out;
  for (uint32_t s = 0; s < m.fb().subnets()->size(); ++s) {
    in.assign(e.packed_size(s, m.fb().input()), 0.5f);
    out.assign(e.packed_size(s, m.fb().output()), 0.0f);
    (void)e.run(s, in.data(), in.size(), out.data(), out.size());
  }
  return 0;
}
