// Fluid high-throughput mode (paper 003): independent sub-networks on different workers serve
// different inputs. Each input goes to one worker, the one whose queue empties first, at the
// most accurate subnet that still fits its deadline. Give each worker the subnet it holds
// (a Fluid model's lower50 on one, upper50 on another: 'shoal worker --subnets').
#include "shoal/policy_registry.h"

namespace shoal {
namespace {

class FluidHighThroughput final : public Policy {
 public:
  const char* name() const override { return "fluid-ht"; }
  void start(const PlanContext& ctx, InputState& input) override {
    for (const Unit& u : throughput_unit(ctx, input)) input.send(u);
  }
};

}  // namespace

std::unique_ptr<Policy> make_fluid_ht_policy(const PolicySetup&) { return std::make_unique<FluidHighThroughput>(); }

}  // namespace shoal
