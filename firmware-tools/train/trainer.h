// The training loop every recipe shares: seeded batches, SGD with Nesterov momentum and a
// cosine schedule, one checkpoint per epoch (a restarted run resumes from it), progress with
// validation accuracy and the time left, and evaluation helpers.
#ifndef SHOAL_TRAIN_TRAINER_H_
#define SHOAL_TRAIN_TRAINER_H_

#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "data.h"
#include "slim_net.h"

namespace shoal::train {

struct Context {
  std::string out_dir;  // models and checkpoints/ go here
  torch::Device device = torch::kCPU;
  int64_t batch = 128;
  double lr = 0.1, weight_decay = 5e-4;
  bool quiet = false;
  const DataSets* data = nullptr;
  uint32_t stop_after = 0;  // > 0: end this run after that many epochs, as if interrupted (tests)
};

// One pass over a job's data with one loss: the loss of a batch (images, labels) on the
// context's device, from which the loop steps the optimizer.
using LossFn = std::function<torch::Tensor(const torch::Tensor& images, const torch::Tensor& labels,
                                           std::mt19937_64& rng)>;

struct Job {
  std::string name;  // checkpoint and progress label
  SlimNet net{nullptr};
  const Split* train = nullptr;
  uint32_t epochs = 1;
  uint64_t seed = 1;
  std::vector<LossFn> phases;                // one pass over `train` each, in order, per epoch
  std::vector<std::string> report;           // subnets whose validation accuracy is shown
  std::vector<torch::Tensor> frozen;         // not trained during the first `frozen_epochs`
  uint32_t frozen_epochs = 0;
};

// Trains `job` (or resumes it from out_dir/checkpoints/NAME.pt; a finished checkpoint only
// loads), then re-estimates every subnet's batch-norm statistics for the final weights on the
// first 5000 training images. Returns the last epoch's mean loss.
double run_job(Job& job, const Context& ctx);

// Class probabilities (N x classes, CPU) and accuracy of one subnet, batch-norm in eval mode.
torch::Tensor probabilities(SlimNet& net, uint32_t subnet, const Split& split, const Context& ctx);
double accuracy(const torch::Tensor& probabilities, const Split& split);
double accuracy(SlimNet& net, uint32_t subnet, const Split& split, const Context& ctx);

// Fills every subnet's validation and test accuracy into the exported spec and writes
// out_dir/NAME.shoal; returns the path.
std::string export_model(SlimNet& net, const std::string& name, const std::string& recipe, uint64_t seed,
                         uint32_t epochs, const Context& ctx);

// Knowledge distillation: KL(teacher || student) on softened outputs (temperature 1).
torch::Tensor distillation_loss(const torch::Tensor& student_logits, const torch::Tensor& teacher_logits);

}  // namespace shoal::train

#endif  // SHOAL_TRAIN_TRAINER_H_
