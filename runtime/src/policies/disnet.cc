// DISNET (the AdaEnsemble paper's baseline): the master's own model, at its widest subnet, cut
// into contiguous layer blocks, one per device that holds it, each block's multiply-adds in
// proportion to the device's calibrated speed. The blocks are fixed when the policy is made
// (DISNET partitions offline, from a profile); every input runs them in turn, the master's
// own engine first, each block's output tensor passed on to the next device through the
// master. It adapts to nothing: a deadline shorter than the chain is missed, and a block
// whose device fails ends the input (the master's insurance answers, if it has one).
#include <algorithm>
#include <cmath>

#include "shoal/latency_model.h"
#include "shoal/policy_registry.h"
#include "shoal/segments.h"

namespace shoal {
namespace {

struct Block {
  uint32_t worker;
  uint16_t from, to;
};

class Disnet final : public Policy {
 public:
  Disnet(uint32_t subnet, std::vector<Block> blocks) : subnet_(subnet), blocks_(std::move(blocks)) {}
  const char* name() const override { return "disnet"; }

  void start(const PlanContext&, InputState& input) override {
    if (blocks_.empty() || input.units() > 0) return;
    send(input, 0, -1);
  }

  void update(const PlanContext&, InputState& input) override {
    if (input.units() == 0 || input.pending() > input.pending_in(kInsuranceStage)) return;
    // The newest unit of the chain: when it stopped at a cut, the next block takes its tensor.
    for (size_t i = input.units(); i-- > 0;) {
      const Unit& u = input.unit(i);
      if (u.stage != kFirstStage) continue;
      if (input.state(i) != UnitState::kDone || u.to == 0) return;
      for (size_t b = 0; b < blocks_.size(); ++b) {
        if (blocks_[b].from == u.to) return send(input, b, static_cast<int16_t>(i));
      }
      return;
    }
  }

 private:
  void send(InputState& input, size_t b, int16_t feed) {
    Unit u{blocks_[b].worker, subnet_, kFirstStage, -1};
    u.from = blocks_[b].from;
    u.to = blocks_[b].to;
    u.feed = feed;
    input.send(u);
  }

  uint32_t subnet_;
  std::vector<Block> blocks_;
};

}  // namespace

std::unique_ptr<Policy> make_disnet_policy(const PolicySetup& setup) {
  const SegmentCatalog& c = *setup.segments;
  uint32_t subnet = 0;
  for (uint32_t s = 1; s < c.subnets(); ++s) {
    if (c.macs[s] > c.macs[subnet]) subnet = s;
  }
  // Each live, calibrated device's speed at that subnet; the blocks' boundaries at the cuts
  // nearest each device's cumulative share of the work.
  std::vector<uint32_t> devices;
  std::vector<double> speed;
  double total = 0;
  for (uint32_t w : c.workers) {
    const double ms = setup.latency.compute_ms(w, subnet);
    if (!setup.latency.alive(w) || std::isinf(ms) || ms <= 0) continue;
    devices.push_back(w);
    speed.push_back(1.0 / ms);
    total += 1.0 / ms;
  }
  std::vector<Block> blocks;
  double cumulative = 0;
  uint16_t from = 0;
  for (size_t d = 0; d < devices.size(); ++d) {
    cumulative += speed[d] / total;
    uint16_t to = 0;  // the last device runs to the end
    if (d + 1 < devices.size()) {
      double nearest = std::abs(cumulative - c.share(subnet, 0, from));
      to = from;
      for (uint16_t k = static_cast<uint16_t>(from + 1); k <= c.cuts(); ++k) {
        const double gap = std::abs(cumulative - c.share(subnet, 0, k));
        if (gap < nearest) nearest = gap, to = k;
      }
      if (to == from) continue;  // a block too small for any cut: this device gets none
    }
    blocks.push_back({devices[d], from, to});
    if (to == 0) break;
    from = to;
  }
  return std::make_unique<Disnet>(subnet, std::move(blocks));
}

}  // namespace shoal
