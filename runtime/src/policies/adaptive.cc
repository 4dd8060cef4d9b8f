// Adaptive: AdaEnsemble's accurate ensembles while the cluster keeps up, Fluid's one worker per
// input when it would not. Where the master's model is shared by workers and can be
// partitioned (--local-model), the accurate mode is Fluid's high-accuracy mode instead (every
// layer's channels over the devices), so it moves between Fluid's two modes as the Fluid
// paper does. Per input it prices the accurate plan: arrivals per second times the plan's
// compute, spread over the live workers, is the utilisation that plan would cause if every
// input got one like it. Above the threshold while other inputs are in flight (they
// overlap, so they would queue), or when the queues already hold more than half the budget,
// the input goes to a single worker instead. An input alone in the cluster always gets the
// ensemble: in a closed loop the arrival rate follows the mode chosen, and would otherwise
// keep it in throughput mode for no one's benefit.
#include "shoal/allocator.h"
#include "shoal/latency_model.h"
#include "shoal/policy_registry.h"
#include "shoal/segments.h"

namespace shoal {
namespace {

class Adaptive final : public Policy {
 public:
  explicit Adaptive(double threshold) : threshold_(threshold) {}
  const char* name() const override { return "adaptive"; }

  void start(const PlanContext& ctx, InputState& input) override {
    const double budget = input.remaining_ms(ctx.now);
    Plan plan = partition_stage(ctx, input);
    if (predict_partition_ms(ctx) > budget) plan.clear();
    const bool partition = !plan.empty();
    if (!partition) plan = ctx.allocator.best(ctx.latency, ctx.now, budget, &input.tried_workers());
    uint32_t alive = 0;
    double backlog = 0;
    for (uint32_t w = 0; w < ctx.allocator.workers(); ++w) {
      if (!ctx.allocator.roles()[w].planned() || !ctx.latency.alive(w)) continue;
      ++alive;
      backlog += ctx.latency.backlog_ms(w, ctx.now);
    }
    double work_ms = 0;  // a partition's parts each do their share of the whole
    for (const Unit& u : plan) work_ms += ctx.latency.compute_ms(u.worker, u.subnet) / (partition ? plan.size() : 1);
    const double utilisation = alive ? ctx.latency.arrivals_per_s(ctx.now) * work_ms / 1000.0 / alive : 0.0;
    const bool busy = alive && backlog / alive > 0.5 * budget;
    if (plan.size() > 1 && ((utilisation > threshold_ && ctx.others_in_flight > 0) || busy)) {
      input.set_mode("throughput");
      plan = throughput_unit(ctx, input);
    } else {
      input.set_mode(partition ? "high accuracy" : "ensemble");
      if (plan.empty()) plan = ctx.allocator.fastest(ctx.latency, ctx.now, &input.tried_workers());
    }
    for (const Unit& u : plan) input.send(u);
  }

  void update(const PlanContext& ctx, InputState& input) override {
    for (size_t i = 0; i < input.units(); ++i) {
      if (input.unit(i).share()) return continue_partition(ctx, input);
    }
    Policy::update(ctx, input);
  }

 private:
  double threshold_;
};

}  // namespace

std::unique_ptr<Policy> make_adaptive_policy(const PolicySetup& setup) {
  return std::make_unique<Adaptive>(setup.params.adaptive_utilisation);
}

}  // namespace shoal
