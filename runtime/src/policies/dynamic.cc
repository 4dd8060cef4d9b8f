// Single-device dynamic DNN: the worker fastest at full width when the policy is made, alone,
// at the most accurate subnet that fits each input's deadline (its fastest when none does).
// Once that worker is gone it plans nothing: the master's insurance, if any, answers.
#include "shoal/allocator.h"
#include "shoal/policy_registry.h"

namespace shoal {
namespace {

class Dynamic final : public Policy {
 public:
  explicit Dynamic(int worker) : worker_(worker) {}
  const char* name() const override { return "dynamic"; }
  void start(const PlanContext& ctx, InputState& input) override {
    if (worker_ < 0 || input.tried(static_cast<uint32_t>(worker_))) return;
    const uint32_t w = static_cast<uint32_t>(worker_);
    const int s = best_subnet_on(ctx, w, input.remaining_ms(ctx.now));
    if (s >= 0) input.send({w, static_cast<uint32_t>(s), kFirstStage, ctx.allocator.roles()[w].member});
  }

 private:
  int worker_;
};

}  // namespace

std::unique_ptr<Policy> make_dynamic_policy(const PolicySetup& setup) {
  int best = -1;
  for (uint32_t w = 0; w < setup.allocator.workers(); ++w) {
    if (!setup.allocator.roles()[w].planned() || !setup.latency.alive(w)) continue;
    const double full = setup.latency.compute_ms(w, setup.allocator.widest(w));
    if (best < 0 || full < setup.latency.compute_ms(static_cast<uint32_t>(best),
                                                   setup.allocator.widest(static_cast<uint32_t>(best)))) {
      best = static_cast<int>(w);
    }
  }
  return std::make_unique<Dynamic>(best);
}

}  // namespace shoal
