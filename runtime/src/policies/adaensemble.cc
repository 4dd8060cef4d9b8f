// AdaEnsemble: per input, the most accurate ensemble whose every member is predicted back
// before the deadline; when nothing fits, the unit predicted back soonest.
#include "shoal/allocator.h"
#include "shoal/policy_registry.h"

namespace shoal {
namespace {

class AdaEnsemble final : public Policy {
 public:
  const char* name() const override { return "adaensemble"; }
  void start(const PlanContext& ctx, InputState& input) override {
    Plan plan = ctx.allocator.best(ctx.latency, ctx.now, input.remaining_ms(ctx.now), &input.tried_workers());
    if (plan.empty()) plan = ctx.allocator.fastest(ctx.latency, ctx.now, &input.tried_workers());
    for (const Unit& u : plan) input.send(u);
  }
};

}  // namespace

std::unique_ptr<Policy> make_adaensemble_policy(const PolicySetup&) { return std::make_unique<AdaEnsemble>(); }

}  // namespace shoal
