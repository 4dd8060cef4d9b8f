// Confidence cascade (paper 001): the narrowest subnet on the device that would answer it
// soonest; if its top probability is below alpha, the most accurate ensemble that fits what
// remains of the deadline, as a later stage whose fused result replaces the first guess;
// and so on while a stage is unsure, time is left and a more accurate ensemble fits.
#include "shoal/allocator.h"
#include "shoal/latency_model.h"
#include "shoal/policy_registry.h"

namespace shoal {
namespace {

class Cascade final : public Policy {
 public:
  explicit Cascade(double alpha) : alpha_(alpha) {}
  const char* name() const override { return "cascade"; }

  void start(const PlanContext& ctx, InputState& input) override {
    int pick = -1;
    uint32_t subnet = 0;
    double soonest = 0;
    for (uint32_t w = 0; w < ctx.allocator.workers(); ++w) {
      if (!ctx.allocator.roles()[w].planned() || !ctx.latency.alive(w) || input.tried(w)) continue;
      const uint32_t s = ctx.allocator.narrowest(w);
      const double ms = ctx.latency.predict_ms(w, s, ctx.now);
      if (pick < 0 || ms < soonest) pick = static_cast<int>(w), subnet = s, soonest = ms;
    }
    if (pick >= 0) {
      const uint32_t w = static_cast<uint32_t>(pick);
      input.send({w, subnet, kFirstStage, ctx.allocator.roles()[w].member});
    }
  }

  void update(const PlanContext& ctx, InputState& input) override {
    const uint32_t stage = input.last_stage();
    if (input.pending_in(stage) > 0) return;  // the stage is still gathering
    if (input.succeeded_in(stage) == 0) {     // it failed as a whole: retry it elsewhere
      if (stage == kFirstStage) Policy::update(ctx, input);
      return;
    }
    if (input.confidence(stage) >= alpha_) return input.finish();
    Plan current;
    for (size_t i = 0; i < input.units(); ++i) {
      if (input.unit(i).stage == stage && input.state(i) == UnitState::kDone) current.push_back(input.unit(i));
    }
    Plan next = ctx.allocator.best(ctx.latency, ctx.now, input.remaining_ms(ctx.now));
    if (next.empty() || ctx.allocator.accuracy(next) <= ctx.allocator.accuracy(current) + 1e-9) {
      return input.finish();  // nothing more accurate fits: keep this stage's answer
    }
    for (Unit u : next) {
      u.stage = stage + 1;
      input.send(u);
    }
  }

 private:
  double alpha_;
};

}  // namespace

std::unique_ptr<Policy> make_cascade_policy(const PolicySetup& setup) {
  return std::make_unique<Cascade>(setup.params.alpha);
}

}  // namespace shoal
