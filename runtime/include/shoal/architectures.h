// Named architectures as slimmable models, for `shoal synth`, tests and the trainer's export.
#ifndef SHOAL_ARCHITECTURES_H_
#define SHOAL_ARCHITECTURES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "shoal/builder.h"
#include "shoal/model.h"

namespace shoal {

inline constexpr uint32_t kMaxArchitectureSide = 1024;

struct ArchitectureInfo {
  const char* name;
  const char* summary;
  uint32_t side;      // the input's height and width by default
  uint32_t min_side;  // the smallest other side it takes; 0: only `side`
  bool fixed_subnets; // its own subnets (fluid-cnn's), no widths
  ModelSpec (*build)(uint32_t side, const std::vector<float>& widths);
};
// Every architecture shoal can synthesise: the one list synth, its help and the tests read.
const std::vector<ArchitectureInfo>& architectures();

// The graph of a named architecture with zero weights and identity batch-norm. Slimmable
// architectures get one subnet per width ("w0.25" = channels [0, C/4) of every group) with
// its own batch-norm set (widths empty: 0.25, 0.5, 0.75, 1); fluid-cnn gets the Fluid
// paper's six subnets and rejects widths. side 0: the architecture's own input side.
Result<ModelSpec> build_architecture(const std::string& name, const std::vector<float>& widths, uint32_t side = 0);

// He-normal weights and plausible batch-norm statistics (folded into scale and shift), a
// different set per affine set. The same seed gives the same bytes on every platform.
void randomize_weights(ModelSpec& spec, uint64_t seed);

// A named architecture with random weights (randomize_weights(seed)), serialised: the bytes
// of the model file `shoal synth` writes, and what the benchmarks, demos and tests run.
// widths and side as for build_architecture.
Result<std::vector<uint8_t>> synth_model_bytes(const std::string& arch, uint64_t seed = 1,
                                               const std::vector<float>& widths = {}, uint32_t side = 0);
// The same, loaded (and so checked as any reader checks a file).
Result<Model> synth_model(const std::string& arch, uint64_t seed = 1);

// "w0.5", "w1.0": the name of the slimmable subnet of this width.
std::string width_subnet_name(float width);

}  // namespace shoal

#endif  // SHOAL_ARCHITECTURES_H_
