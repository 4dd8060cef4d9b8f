// Fluid high-accuracy mode (paper 003): the full network on every device at once, each
// computing its share of every layer's channels (runtime/channel_partition.h): the master's
// own engine and the workers serving the same model file (--local-model), stage by stage,
// the master gathering each stage's slices and running the classifier. A part that fails
// (a worker gone mid-input) leaves the input to one device, the one free first, as fluid-ht
// would; so does an input whose deadline the partition is predicted to miss (its slowest
// device sets every stage's pace), and, without a partition (no worker shares the model, or
// it cannot be split), every input.
#include "shoal/policy_registry.h"

namespace shoal {
namespace {

class FluidHighAccuracy final : public Policy {
 public:
  const char* name() const override { return "fluid-ha"; }
  void start(const PlanContext& ctx, InputState& input) override {
    Plan plan = partition_stage(ctx, input);
    if (predict_partition_ms(ctx) > input.remaining_ms(ctx.now)) plan.clear();  // would miss: one device
    input.set_mode(plan.empty() ? "throughput" : "high accuracy");
    if (plan.empty()) plan = throughput_unit(ctx, input);
    for (const Unit& u : plan) input.send(u);
  }
  void update(const PlanContext& ctx, InputState& input) override { continue_partition(ctx, input); }
};

}  // namespace

std::unique_ptr<Policy> make_fluid_ha_policy(const PolicySetup&) { return std::make_unique<FluidHighAccuracy>(); }

}  // namespace shoal
