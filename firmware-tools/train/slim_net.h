// A shoal model graph as a trainable libtorch module. The trainer never describes a
// network twice: it takes the ModelSpec that `build_architecture` makes for the runtime,
// holds one full-width parameter per weighted node, and runs any subnet by slicing those
// parameters to the subnet's channel ranges, exactly as the engine's kernels do. Every
// batch-norm layer keeps one set of statistics and affine parameters per affine set
// (switchable batch-norm), folded into the file's per-set scale/shift rows on export.
#ifndef SHOAL_TRAIN_SLIM_NET_H_
#define SHOAL_TRAIN_SLIM_NET_H_

#include <torch/torch.h>

#include <string>
#include <vector>

#include "shoal/builder.h"

namespace shoal::train {

class SlimNetImpl : public torch::nn::Module {
 public:
  explicit SlimNetImpl(ModelSpec spec);

  // He-normal weights, unit batch-norm, zero biases, from torch's generator.
  void initialize();
  // Logits (N x classes) of `subnet` for N x C x H x W inputs. With `train` the batch-norm
  // layers use batch statistics and update the subnet's running statistics.
  torch::Tensor forward(const torch::Tensor& x, uint32_t subnet, bool train);

  // Re-estimates the subnet's batch-norm statistics on `images` with the weights as they
  // are now (an average over batches, no gradients). Subnets share weights, so training one
  // leaves the others' running statistics stale; this is the slimmable networks' fix.
  void recalibrate_batch_norm(uint32_t subnet, const torch::Tensor& images, int64_t batch);

  const ModelSpec& spec() const { return spec_; }
  uint32_t subnet_index(const std::string& name) const;  // throws when unknown
  // The spec with the trained weights written into its buffers (OHWI, folded batch-norm).
  ModelSpec export_spec() const;
  // Copies every parameter and statistic whose node name and shape match (a VIP student
  // takes its teacher's layers this way). Returns the names of the nodes copied.
  std::vector<std::string> copy_matching(const SlimNetImpl& other);
  // Parameters of the named nodes (the layers a VIP student took from its teacher, say).
  std::vector<torch::Tensor> parameters_of(const std::vector<std::string>& names);

 private:
  struct Layer {
    torch::Tensor weight;                       // O x I x KH x KW (Linear: KH x KW = input H x W)
    torch::Tensor gamma, beta, mean, var;       // sets x O, when the node has batch-norm
    torch::Tensor bias;                         // O, when the node has a plain bias
  };
  ModelSpec spec_;
  std::vector<Layer> layers_;  // per node
  double bn_momentum_ = 0.1;
};
TORCH_MODULE(SlimNet);

}  // namespace shoal::train

#endif  // SHOAL_TRAIN_SLIM_NET_H_
