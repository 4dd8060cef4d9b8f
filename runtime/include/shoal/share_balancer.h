// Re-chooses a channel partition's shares as the devices' speeds and links change (paper
// 002's adaptive partitioning, applied to paper 001's edge-to-edge channel partition): a part
// whose device is loaded or whose link slows is given fewer channels, and more once it
// recovers.
//
// Each part's time in each stage is modelled as fixed + share x rate: `rate` is its device's
// compute for every channel (its measured compute divided by its share), `fixed` the time
// that does not shrink with its share (sending: the stage inputs go whole to every device;
// the link; a worker's queue). Both follow the median of their last three observations
// (RecentMedian), so one outlier moves nothing. An input takes the sum over its stages of
// the slowest part. The shares that finish every part together, over the whole input, are
// found by water-filling, and a proposal moves `step` of the way to them (the model is
// only a line through noisy points: going part way and measuring again does not overshoot).
// It is made only when the balanced shares are predicted at least `min_gain` faster than the
// current ones, and not within `settle` inputs of the last change, so noise does not make
// the partition flap. No sockets and no clock: observations come in as
// numbers, so tests drive it deterministically.
#ifndef SHOAL_SHARE_BALANCER_H_
#define SHOAL_SHARE_BALANCER_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "shoal/stats.h"

namespace shoal {

// One part's time in one stage of one input.
struct PartCost {
  double compute_ms = 0;  // its device's computing of its channels (a worker's as it reports)
  // From each stage's start (its inputs encoded and sent) to the part's finish, less its
  // compute: sending, the link and a worker's queue.
  double fixed_ms = 0;
  // false: its reply was already waiting when the coordinator looked, so fixed_ms is only an
  // upper bound; it can lower the estimate but not raise it.
  bool fixed_exact = true;
};

class ShareBalancer {
 public:
  struct Options {
    double min_gain = 0.1;    // propose only shares predicted at least this much faster
    double min_share = 0.02;  // no part gets less (the plan needs a channel of every group each)
    uint32_t settle = 3;      // inputs observed after a change before the next proposal
    double step = 0.5;        // how far a proposal goes from the current shares to the balanced ones
  };

  // `shares`: the current ones, one weight per part (any scale); `stages` per input.
  explicit ShareBalancer(const std::vector<double>& shares, size_t stages = 1);
  ShareBalancer(const std::vector<double>& shares, size_t stages, Options options);

  // Shares normalised to sum to 1.
  const std::vector<double>& shares() const { return shares_; }
  // One input's costs under the current shares, costs[stage * parts + part].
  void observe(const std::vector<PartCost>& costs);
  // An input's predicted time under `shares` (any scale): over the stages, the slowest
  // part's; -1 until every part of every stage is seen.
  double predicted_ms(const std::vector<double>& shares) const;
  // Shares `step` of the way to those predicted fastest, when those beat the current ones by
  // min_gain and the last change has settled; empty otherwise.
  std::vector<double> propose() const;
  // Part 0 is the coordinator's own device: whether it computing every channel itself, with
  // nothing sent, is predicted at least min_gain faster than the best partition (a link too
  // slow for what the others save), once the last change has settled. Its rate was measured on its share, so this holds only
  // while it is measured, at the partition's inputs.
  bool alone_is_faster() const;
  // The partition now runs at `shares` (a proposal taken, or any other).
  void adopt(const std::vector<double>& shares);

  // A part's estimates over a whole input: compute for every channel, and fixed time.
  double rate_ms(size_t part) const;
  double fixed_ms(size_t part) const;

 private:
  struct Part {  // in one stage
    RecentMedian rate, fixed{0};
  };
  // The shares predicted fastest: every part not held at the floor finishes together.
  std::vector<double> balanced() const;

  Options options_;
  std::vector<double> shares_;
  size_t stages_;
  std::vector<Part> parts_;  // [stage * parts + part]
  uint32_t since_change_ = 0;
};

}  // namespace shoal

#endif  // SHOAL_SHARE_BALANCER_H_
