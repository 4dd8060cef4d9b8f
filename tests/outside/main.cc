// Loads the model from its file (shoal::runtime) and from the embedded array (shoal::core,
// through the C API) and checks that both give the same scores at every subnet.
#include <cstdio>
#include <vector>

#include "member.h"
#include "shoal.h"
#include "shoal/engine.h"
#include "shoal/model.h"

int main(int argc, char** argv) {
  if (argc != 2) return std::fprintf(stderr, "usage: uses_shoal MODEL\n"), 2;
  auto model = shoal::Model::from_file(argv[1]);
  if (!model.is_ok()) return std::fprintf(stderr, "%s\n", model.status().to_string().c_str()), 1;
  auto engine = shoal::Engine::create(model.value());
  if (!engine.is_ok()) return std::fprintf(stderr, "%s\n", engine.status().to_string().c_str()), 1;
  shoal_model* embedded = nullptr;
  shoal_engine* c_engine = nullptr;
  shoal_error err;
  if (shoal_model_load(member, member_size, 0, &embedded, &err) != SHOAL_OK ||
      shoal_engine_create(embedded, nullptr, 1, nullptr, 0, &c_engine, &err) != SHOAL_OK) {
    return std::fprintf(stderr, "%s\n", err.message), 1;
  }
  int failures = 0;
  for (uint32_t s = 0; s < shoal_model_subnet_count(embedded); ++s) {
    std::vector<float> in(shoal_model_input_floats(embedded, s), 0.25f);
    std::vector<float> a(shoal_model_output_floats(embedded, s)), b(a.size());
    const shoal::Status st = engine.value()->run(s, in.data(), in.size(), a.data(), a.size());
    if (!st.is_ok() || shoal_engine_run(c_engine, s, in.data(), in.size(), b.data(), b.size(), &err) != SHOAL_OK ||
        a != b) {
      std::printf("subnet %u differs\n", s);
      ++failures;
    }
  }
  std::printf("%u subnets, %d differ\n", shoal_model_subnet_count(embedded), failures);
  shoal_engine_destroy(c_engine);
  shoal_model_free(embedded);
  return failures ? 1 : 0;
}
