// Static ensemble: every member, each at the most accurate subnet predicted to fit the
// target latency on its fastest replica, fixed once when the policy is made (the paper fixes
// it for 0.4 s). With one worker per member, that is every worker.
#include <algorithm>

#include "shoal/allocator.h"
#include "shoal/policy_registry.h"

namespace shoal {
namespace {

class Static final : public Policy {
 public:
  explicit Static(Plan fixed) : fixed_(std::move(fixed)) {}
  const char* name() const override { return "static"; }
  void start(const PlanContext& ctx, InputState& input) override {
    for (const Unit& u : fixed_) {
      if (ctx.latency.alive(u.worker) && !input.tried(u.worker)) input.send(u);
    }
  }

 private:
  Plan fixed_;
};

}  // namespace

std::unique_ptr<Policy> make_static_policy(const PolicySetup& setup) {
  Plan fixed;
  const Allocator& a = setup.allocator;
  for (uint32_t w = 0; w < a.workers(); ++w) {
    if (!a.roles()[w].planned()) continue;
    int best = -1;
    for (uint32_t s = 0; s < setup.latency.subnets(w); ++s) {
      if (setup.latency.compute_ms(w, s) <= setup.params.static_target_ms &&
          (best < 0 || a.single(w, s) > a.single(w, static_cast<uint32_t>(best)))) {
        best = static_cast<int>(s);
      }
    }
    const uint32_t s = best >= 0 ? static_cast<uint32_t>(best) : a.narrowest(w);
    const Unit unit{w, s, kFirstStage, a.roles()[w].member};
    auto same = std::find_if(fixed.begin(), fixed.end(), [&](const Unit& u) { return unit.member >= 0 && u.member == unit.member; });
    if (same == fixed.end()) {
      fixed.push_back(unit);
    } else if (a.single(w, s) > a.single(same->worker, same->subnet) ||
               (a.single(w, s) == a.single(same->worker, same->subnet) &&
                setup.latency.compute_ms(w, s) < setup.latency.compute_ms(same->worker, same->subnet))) {
      *same = unit;  // a replica that does better for this member
    }
  }
  return std::make_unique<Static>(std::move(fixed));
}

}  // namespace shoal
