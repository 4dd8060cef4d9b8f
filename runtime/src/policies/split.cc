// Split (papers 001 and 002): this device (the master's own engine) runs its model up to a
// cut and one worker holding the same model runs the rest. Per input it weighs every subnet,
// every worker and every cut (the image sent whole, or everything here, included): the
// predicted latency is this device's share of the subnet, the cut tensor over the worker's
// measured link, and the worker's share behind its backlog. It takes the most accurate
// subnet that some plan fits into what is left of the deadline, the fastest such plan; when
// none fits, the fastest of all. Since the estimates follow what the master measures (the
// workers' replies, heartbeats with their load, the links' transfer times), a loaded worker
// or a slower link moves the cut (paper 002's adaptive partitioning). The worker for the rest
// is picked again when the first part is back, and a failed part is re-planned on the
// devices this input has not tried.
#include <algorithm>
#include <limits>

#include "shoal/allocator.h"
#include "shoal/latency_model.h"
#include "shoal/policy_registry.h"
#include "shoal/segments.h"

namespace shoal {
namespace {

struct Choice {
  uint32_t subnet = 0;
  uint16_t cut = 0;    // 0: nothing here (the worker runs the image)
  int here = -1;       // the master's engine runs up to the cut (-1: nothing here)
  int there = -1;      // the worker after it (-1: everything here)
  double ms = std::numeric_limits<double>::infinity();
  double accuracy = -1;
};

class Split final : public Policy {
 public:
  const char* name() const override { return "split"; }

  void start(const PlanContext& ctx, InputState& input) override {
    const SegmentCatalog& c = *ctx.segments;
    const double budget = input.remaining_ms(ctx.now);
    const int local = c.local >= 0 && ctx.latency.alive(static_cast<uint32_t>(c.local)) &&
                              !input.tried(static_cast<uint32_t>(c.local))
                          ? c.local
                          : -1;
    Choice best, fastest;
    auto consider = [&](const Choice& k) {
      if (k.ms < fastest.ms) fastest = k;
      if (k.ms > budget) return;
      if (k.accuracy > best.accuracy || (k.accuracy == best.accuracy && k.ms < best.ms)) best = k;
    };
    for (uint32_t s = 0; s < c.subnets(); ++s) {
      double accuracy = -1;
      for (uint32_t w : c.workers) {
        if (static_cast<int>(w) != c.local) accuracy = std::max(accuracy, ctx.allocator.single(w, s));
      }
      const uint32_t here = static_cast<uint32_t>(std::max(local, 0));
      if (local >= 0) consider({s, 0, local, -1, predict_split_ms(ctx.latency, c, here, -1, s, 0, ctx.now), accuracy});
      for (uint32_t w : c.workers) {
        if (static_cast<int>(w) == c.local || !ctx.latency.alive(w) || input.tried(w)) continue;
        const int there = static_cast<int>(w);
        for (uint16_t k = 0; k <= (local >= 0 ? c.cuts() : 0); ++k) {
          consider({s, k, k ? local : -1, there, predict_split_ms(ctx.latency, c, here, there, s, k, ctx.now), accuracy});
        }
      }
    }
    const Choice& pick = best.ms <= budget ? best : fastest;
    if (pick.here < 0 && pick.there < 0) return;
    Unit u{static_cast<uint32_t>(pick.there >= 0 && pick.cut == 0 ? pick.there : pick.here), pick.subnet, kFirstStage, -1};
    u.to = pick.there >= 0 ? pick.cut : 0;
    input.send(u);
  }

  void update(const PlanContext& ctx, InputState& input) override {
    if (input.pending() > input.pending_in(kInsuranceStage)) return;
    size_t last = input.units();
    while (last > 0 && input.unit(last - 1).stage == kInsuranceStage) --last;
    if (last-- == 0) return;
    const Unit& front = input.unit(last);
    if (input.state(last) == UnitState::kDone && front.to != 0) {
      // The rest, on the worker that would return it soonest now.
      const SegmentCatalog& c = *ctx.segments;
      int pick = -1;
      double soonest = std::numeric_limits<double>::infinity();
      for (uint32_t w : c.workers) {
        if (static_cast<int>(w) == c.local || !ctx.latency.alive(w)) continue;
        const double ms = predict_segment_ms(ctx.latency, c, w, front.subnet, front.to, 0, ctx.now);
        if (ms < soonest) soonest = ms, pick = static_cast<int>(w);
      }
      if (pick < 0) return;
      Unit u{static_cast<uint32_t>(pick), front.subnet, kFirstStage, -1};
      u.from = front.to;
      u.feed = static_cast<int16_t>(last);
      input.send(u);
    } else if (input.top_stage() < kFirstStage) {
      start(ctx, input);  // the part in flight failed: again, on what this input has not tried
    }
  }
};

}  // namespace

std::unique_ptr<Policy> make_split_policy(const PolicySetup&) { return std::make_unique<Split>(); }

}  // namespace shoal
