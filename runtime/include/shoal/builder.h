// Writing models: a ModelSpec is a plain description of a model that serialize_model()
// turns into .shoal bytes; ModelBuilder adds layers to one, working out output shapes and
// sizing weight buffers (zero-filled, for synth or an exporter to fill). Tests edit a
// ModelSpec directly to make malformed files.
#ifndef SHOAL_BUILDER_H_
#define SHOAL_BUILDER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "shoal/model.h"

namespace shoal {

struct GroupSpec {
  std::string name;
  uint32_t capacity = 0;
  bool sliceable = true;
};

struct TensorSpec {
  std::string name;
  uint32_t group = 0, h = 0, w = 0;
  fb::DataType type = fb::DataType::F32;
};

struct NodeSpec {
  std::string name;
  fb::OpType op = fb::OpType::Conv2d;
  std::vector<uint32_t> inputs, outputs;
  std::optional<fb::Window> window;
  bool depthwise = false;
  fb::Activation activation = fb::Activation::None;
  int32_t weights = -1, scale = -1, shift = -1;  // indices into ModelSpec::buffers
  int32_t packed_weights = -1;                    // weights packed for ModelSpec::weight_block
  bool exclude_padding = false;                   // AvgPool: divide by the taps inside the input
};

struct SubnetSpec {
  std::string name;
  float width = 1.0f;
  std::vector<fb::GroupRange> ranges;  // one per group
  uint32_t affine_set = 0;
  float val_accuracy = -1.0f, test_accuracy = -1.0f;
  std::vector<fb::Quantization> quantization;  // one per tensor, or none (an F32 model)
  bool untrained = false;  // sliced from other widths, never trained at this one
};

struct MetadataSpec {
  std::string architecture, dataset, recipe, description;
  std::vector<std::string> class_names;
  uint64_t seed = 0;
  uint32_t epochs = 0;
  float input_mean = 0.0f, input_std = 1.0f;
  std::vector<float> input_means, input_stds;  // per input channel (empty: the scalars)
};

struct ModelSpec {
  // 0: the oldest version that holds the model (what serialize_model writes); never below
  // what the model uses.
  uint32_t version = 0;
  std::string name;
  std::vector<GroupSpec> groups;
  std::vector<TensorSpec> tensors;
  std::vector<NodeSpec> nodes;
  uint32_t input = 0, output = 0;
  std::vector<SubnetSpec> subnets;
  uint32_t affine_sets = 1;
  std::vector<std::vector<float>> buffers;
  MetadataSpec metadata;
  uint32_t weight_block = 0;  // of every NodeSpec::packed_weights (0: none)
};

// The bytes of a .shoal file (not checked: load them with Model::from_bytes to check).
std::vector<uint8_t> serialize_model(const ModelSpec& spec);
// A loaded model as a spec again (serialize_model(model_spec(m)) loads as m does).
ModelSpec model_spec(const Model& model);
// The model with every Conv2d and Linear layer's weights also packed in blocks of `block`
// output channels (weight_block_of("neon"), say), so an engine with those kernels uses them
// in place instead of packing a copy at create. Block 0 removes packed weights.
std::vector<uint8_t> pack_model(const Model& model, uint32_t block);

// kernel x kernel window, equal padding on every side.
fb::Window make_window(uint32_t kernel, uint32_t stride = 1, uint32_t pad = 0, uint32_t dilation = 1);

struct LayerOptions {
  fb::Activation activation = fb::Activation::None;
  bool depthwise = false;
  bool affine = true;  // per-subnet scale/shift (batch-norm) rows
  bool bias = false;   // a shift row shared by every subnet (when affine is false)
};

class ModelBuilder {
 public:
  // affine_sets: how many batch-norm sets the model keeps (fixed before adding layers).
  ModelBuilder(std::string name, uint32_t affine_sets);

  uint32_t group(std::string name, uint32_t capacity, bool sliceable = true);
  uint32_t input(std::string name, uint32_t group, uint32_t h, uint32_t w);
  // Each layer creates its output tensor, named after the layer, and returns it.
  uint32_t conv2d(std::string name, uint32_t x, uint32_t out_group, fb::Window window,
                  const LayerOptions& options);
  uint32_t linear(std::string name, uint32_t x, uint32_t out_group, const LayerOptions& options);
  // ceil_mode: PyTorch's, the bottom and right padding grown for one more window where it fits.
  uint32_t max_pool(std::string name, uint32_t x, fb::Window window, bool ceil_mode = false);
  uint32_t avg_pool(std::string name, uint32_t x, fb::Window window);
  uint32_t global_avg_pool(std::string name, uint32_t x);
  uint32_t add(std::string name, uint32_t a, uint32_t b, fb::Activation activation);
  uint32_t activation(std::string name, uint32_t x, fb::Activation activation);
  uint32_t softmax(std::string name, uint32_t x);
  // Along channels, into a new group named after the layer: capacity the inputs' sum,
  // sliceable when they all are, channels in the order schema/model.fbs gives. Subnets take
  // its range as the sum of its inputs' ranges.
  uint32_t concat(std::string name, const std::vector<uint32_t>& inputs);
  void output(uint32_t tensor) { spec_.output = tensor; }
  // Every sliceable group gets [lo_fraction * C, hi_fraction * C), rounded, at least 1 channel.
  void subnet(std::string name, float width, float lo_fraction, float hi_fraction, uint32_t affine_set);

  ModelSpec& spec() { return spec_; }

 private:
  uint32_t tensor(std::string name, uint32_t group, uint32_t h, uint32_t w);
  uint32_t node(NodeSpec spec);
  uint32_t weighted(std::string name, fb::OpType op, uint32_t x, uint32_t out, uint64_t weights,
                    const LayerOptions& options, std::optional<fb::Window> window);
  int32_t buffer(uint64_t floats, float fill);
  uint32_t pool(std::string name, fb::OpType op, uint32_t x, fb::Window window, bool ceil_mode);

  ModelSpec spec_;
};

}  // namespace shoal

#endif  // SHOAL_BUILDER_H_
