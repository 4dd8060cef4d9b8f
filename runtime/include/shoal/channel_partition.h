// Channel-parallel partitioning (paper 001's edge-to-edge partition; Fluid's high-accuracy
// mode, paper 003): every device computes its own range of the output channels of every
// layer, and the devices exchange activations where the next layer needs all of them.
//
// The plan cuts a subnet's graph into stages. A stage starts at a layer that mixes channels
// (a convolution or a fully connected layer) whose input some device holds only part of; in
// between, channel-wise layers (pooling, depthwise convolution, add, activation) run on each
// device's own channels. At the end of a stage every tensor a later stage reads is gathered
// whole. The last stage, from the first layer whose output cannot be split (the classes,
// a softmax), runs whole on the coordinator. Each device computes exactly the channels a
// single device would, with the same weights, so the gathered result equals one device's.
#ifndef SHOAL_CHANNEL_PARTITION_H_
#define SHOAL_CHANNEL_PARTITION_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "shoal/engine.h"
#include "shoal/model.h"

namespace shoal {

struct PartitionStage {
  uint32_t first_node = 0, end_node = 0;  // nodes [first_node, end_node)
  bool split = true;                      // false: the coordinator runs it whole (the last stage)
  std::vector<uint32_t> inputs;   // tensors read here and made before: whole on every device
  // Made here and read later, or the model's output (and, in the whole stage of a model that
  // ends in a softmax, its input: the logits): gathered whole.
  std::vector<uint32_t> outputs;
  // Per part, one range per channel group: the part's channels of every group this stage
  // writes, the subnet's own range of the rest. A whole stage has one part.
  std::vector<std::vector<fb::GroupRange>> ranges;
};

struct ChannelPartition {
  uint32_t subnet = 0;
  uint32_t parts = 0;
  std::vector<PartitionStage> stages;  // the split stages, then the whole one

  // Floats part `part` receives (the stages' inputs, whole) and sends back (its slices of
  // the outputs) per input, when a device other than the coordinator computes it.
  size_t floats_to(const Model& model, uint32_t part) const;
  size_t floats_from(const Model& model, uint32_t part) const;
};

// `shares`: one weight per part (part 0 the coordinator), each part's share of every
// group's channels, e.g. {1, 1} for halves. Fails, saying why, when a layer reads and writes
// the same channel group, when a group has fewer active channels than there are parts, or
// when nothing can be split.
Result<ChannelPartition> plan_channel_partition(const Model& model, uint32_t subnet, const std::vector<double>& shares);

// Writes a part's slice of `tensor` (packed at `part_ranges`) into its place in the whole
// tensor (packed at the subnet's ranges).
void place_slice(const Model& model, uint32_t subnet, const std::vector<fb::GroupRange>& part_ranges, uint32_t tensor,
                 const float* slice, float* whole);

// One input through a partition, as the coordinator sees it: the whole tensors gathered so
// far. Each part of a stage runs where the caller likes (run_here on a local engine, or on a
// peer whose slices come back through place); a stage is done when every part's slices are
// placed. Buffers are sized once, at construction.
class PartitionExecutor {
 public:
  PartitionExecutor(const Model& model, ChannelPartition plan);
  const ChannelPartition& plan() const { return plan_; }
  const Model& model() const { return model_; }

  // The same stages with other shares: `plan` from plan_channel_partition for the same
  // subnet and number of parts (the stages do not depend on the shares). Between inputs;
  // nothing is allocated. kInvalidArgument for a plan of another shape.
  Status reshare(ChannelPartition plan);
  // A new input: the model's input tensor, packed at the subnet (image_to_input's floats).
  Status begin(const float* input, size_t count);
  // A tensor gathered whole (a stage input or output), packed at the subnet's ranges.
  const std::vector<float>& whole(uint32_t tensor) const { return whole_[tensor]; }
  // Part `part` of stage `stage` on `engine` (created for the same model), its slices placed.
  Status run_here(Engine& engine, size_t stage, uint32_t part);
  // Output `i` of stage `stage` as part `part` computed it elsewhere: `count` floats packed at
  // the part's ranges (checked).
  Status place(size_t stage, uint32_t part, size_t i, const float* slice, size_t count);
  // Floats of output `i` of stage `stage` at part `part`'s ranges.
  size_t slice_size(size_t stage, uint32_t part, size_t i) const;

  // After the last stage: the model's output, and the softmax's input when it ends in one
  // (empty otherwise).
  const std::vector<float>& output() const { return whole_[model_.fb().output()]; }
  const std::vector<float>& logits() const;

 private:
  const Model& model_;
  ChannelPartition plan_;
  std::vector<std::vector<float>> whole_;  // per tensor; sized for stage inputs and outputs
  std::vector<float> slice_;
  std::vector<TensorIn> in_;
  std::vector<TensorOut> out_;
  int64_t logits_ = -1;
};

}  // namespace shoal

#endif  // SHOAL_CHANNEL_PARTITION_H_
