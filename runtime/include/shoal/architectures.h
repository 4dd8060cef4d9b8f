// Named architectures as slimmable models, for `shoal synth`, tests and the trainer's export.
#ifndef SHOAL_ARCHITECTURES_H_
#define SHOAL_ARCHITECTURES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "shoal/builder.h"

namespace shoal {

struct ArchitectureInfo {
  const char* name;
  const char* summary;
};
const std::vector<ArchitectureInfo>& architectures();

// The graph of a named architecture with zero weights and identity batch-norm. Slimmable
// architectures get one subnet per width ("w0.25" = channels [0, C/4) of every group) with
// its own batch-norm set; fluid-cnn gets the Fluid paper's six subnets and rejects widths.
Result<ModelSpec> build_architecture(const std::string& name, const std::vector<float>& widths);

// He-normal weights and plausible batch-norm statistics (folded into scale and shift), a
// different set per affine set. The same seed gives the same bytes on every platform.
void randomize_weights(ModelSpec& spec, uint64_t seed);

// "w0.5", "w1.0": the name of the slimmable subnet of this width.
std::string width_subnet_name(float width);

}  // namespace shoal

#endif  // SHOAL_ARCHITECTURES_H_
