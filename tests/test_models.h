// Synth models for tests, built once per process.
#ifndef SHOAL_TESTS_TEST_MODELS_H_
#define SHOAL_TESTS_TEST_MODELS_H_

#include <map>
#include <string>
#include <vector>

#include "shoal/architectures.h"
#include "shoal/builder.h"

namespace shoal::testing {

inline ModelSpec synth_spec(const std::string& arch, uint64_t seed = 7) {
  ModelSpec spec = build_architecture(arch, {}).value();
  randomize_weights(spec, seed);
  return spec;
}

inline const std::vector<uint8_t>& synth_bytes(const std::string& arch) {
  static std::map<std::string, std::vector<uint8_t>> cache;
  auto it = cache.find(arch);
  if (it == cache.end()) it = cache.emplace(arch, serialize_model(synth_spec(arch))).first;
  return it->second;
}

}  // namespace shoal::testing

#endif  // SHOAL_TESTS_TEST_MODELS_H_
