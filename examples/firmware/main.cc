// Firmware-style use of shoal: no file system, no exceptions, no RTTI, the model in flash
// (a const array from shoal_embed_model) and the engine's memory a static array whose size
// is fixed at build time. Runs every subnet of the model on a test pattern and prints what
// each one says and how long it took; exits non-zero if anything fails.
#include <cstdio>
#include <ctime>

#include "model_data.h"
#include "shoal/engine.h"
#include "shoal/model.h"

alignas(SHOAL_TENSOR_ALIGNMENT) static unsigned char g_arena[ARENA_BYTES];
static float g_image[64 * 64 * 4];
static float g_scores[1000];

static double now_us() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

int main() {
  shoal::Result<shoal::Model> model = shoal::Model::borrow(model_data, model_data_size);
  if (!model.is_ok()) return std::printf("model: %s\n", model.status().to_string().c_str()), 1;
  const shoal::Model& m = model.value();
  const shoal::Backend& backend = shoal::best_backend();
  shoal::Result<size_t> need = shoal::Engine::required_bytes(m, backend);
  if (!need.is_ok()) return std::printf("%s\n", need.status().to_string().c_str()), 1;
  std::printf("model %s: %zu bytes in flash; engine memory %zu of the %zu-byte arena (%s kernels)\n",
              m.fb().name() ? m.fb().name()->c_str() : "?", m.size(), need.value(), sizeof(g_arena), backend.name());
  auto engine = shoal::Engine::create_in(g_arena, sizeof(g_arena), m, backend);
  if (!engine.is_ok()) return std::printf("%s\n", engine.status().to_string().c_str()), 1;

  int failures = 0;
  for (uint32_t s = 0; s < m.fb().subnets()->size(); ++s) {
    const size_t in = engine.value()->packed_size(s, m.fb().input());
    const size_t out = engine.value()->packed_size(s, m.fb().output());
    if (in > sizeof(g_image) / sizeof(float) || out > sizeof(g_scores) / sizeof(float)) {
      std::printf("subnet %u: input or output larger than this example's buffers\n", s);
      return 1;
    }
    for (size_t i = 0; i < in; ++i) g_image[i] = static_cast<float>((i * 37) % 255) / 255.0f - 0.3f;
    const double t0 = now_us();
    const shoal::Status st = engine.value()->run(s, g_image, in, g_scores, out);
    const double us = now_us() - t0;
    if (!st.is_ok()) {
      std::printf("subnet %u: %s\n", s, st.to_string().c_str());
      ++failures;
      continue;
    }
    size_t best = 0;
    float sum = 0;
    for (size_t c = 0; c < out; ++c) {
      sum += g_scores[c];
      if (g_scores[c] > g_scores[best]) best = c;
    }
    if (sum < 0.999f || sum > 1.001f) ++failures;
    std::printf("%-6s class %zu (p = %.3f) in %.0f us\n", m.fb().subnets()->Get(s)->name()->c_str(), best,
                g_scores[best], us);
  }
  std::printf(failures ? "FAILED\n" : "every subnet ran\n");
  return failures ? 1 : 0;
}
