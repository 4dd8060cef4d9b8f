// What the architecture builders share (runtime/src/architectures.cc and
// reference_architectures.cc): layer options and the per-architecture builders the registry
// in architectures.cc lists.
#ifndef SHOAL_RUNTIME_ARCHITECTURE_PARTS_H_
#define SHOAL_RUNTIME_ARCHITECTURE_PARTS_H_

#include <cstdint>
#include <vector>

#include "shoal/builder.h"

namespace shoal::arch {

inline LayerOptions bn(fb::Activation a) { return {a, false, true, false}; }
inline LayerOptions bn_depthwise(fb::Activation a) { return {a, true, true, false}; }
inline LayerOptions biased(fb::Activation a) { return {a, false, false, true}; }

// One subnet per width ("w0.5": channels [0, C/2) of every group) with its own batch-norm set.
void width_subnets(ModelBuilder& b, const std::vector<float>& widths);
// ImageNet's 1000 classes and input statistics (grey mean and std of the RGB ones).
void imagenet(ModelSpec& spec);

// The reference definitions' layer structure (torchvision's) at any input side.
ModelSpec squeezenet(uint32_t side, const std::vector<float>& widths);
ModelSpec mobilenetv2(uint32_t side, const std::vector<float>& widths);
ModelSpec inceptionv3(uint32_t side, const std::vector<float>& widths);
ModelSpec alexnet(uint32_t side, const std::vector<float>& widths);
ModelSpec vgg16(uint32_t side, const std::vector<float>& widths);

}  // namespace shoal::arch

#endif  // SHOAL_RUNTIME_ARCHITECTURE_PARTS_H_
