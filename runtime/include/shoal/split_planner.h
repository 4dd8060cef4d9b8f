// Where to split one network between this device and a worker, input by input (papers 001
// and 002): the cut whose predicted latency is least, from this device's and the worker's
// speed (ms per million MACs, learned from their runs) and the link (a round trip plus time
// per byte, learned from transfers), each the median of its last three observations: one
// outlier (a retransmission) moves nothing, two in a row (a slower link, a loaded side)
// move the cut. No sockets and no clock: observations come in as
// numbers, so tests drive it deterministically.
#ifndef SHOAL_SPLIT_PLANNER_H_
#define SHOAL_SPLIT_PLANNER_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "shoal/model.h"
#include "shoal/stats.h"

namespace shoal {

// One place the graph can be split at one subnet: `tensor` crosses the link.
struct SplitPoint {
  uint32_t tensor = 0;
  uint32_t node = 0;          // the node that makes it
  uint64_t macs_before = 0;   // this device's work
  uint64_t macs_after = 0;    // the worker's
  size_t values = 0;          // floats that cross (packed at the subnet's width)
};

// Model::cut_tensors() with the work on each side, in graph order.
std::vector<SplitPoint> split_points(const Model& model, uint32_t subnet);

class SplitPlanner {
 public:
  // Candidates: 0 sends the image (`image_bytes`) and the worker runs everything; 1..n cut
  // at split_points(model, subnet)[i - 1], each value taking `bytes_per_value` on the wire;
  // n + 1 runs everything here.
  SplitPlanner(const Model& model, uint32_t subnet, double bytes_per_value);

  size_t candidates() const { return points_.size() + 2; }
  size_t all_remote() const { return 0; }
  size_t all_local() const { return points_.size() + 1; }
  const SplitPoint& point(size_t candidate) const { return points_[candidate - 1]; }
  // The tensor that crosses: the model's input for all_remote, its output for all_local.
  uint32_t tensor(size_t candidate) const;
  uint64_t macs_here(size_t candidate) const;
  uint64_t macs_there(size_t candidate) const;
  size_t bytes(size_t candidate) const;

  void observe_here(uint64_t macs, double ms);   // runs of under a tenth of the MACs are ignored
  void observe_there(uint64_t macs, double ms);
  // A probe's round trip (`bytes` both ways together): the link's latency, and at most
  // ms / bytes per byte, so a link that recovers shows without risking an input.
  void observe_round_trip(double ms, size_t bytes = 0);
  void observe_transfer(size_t bytes, double ms);  // a request's link time (its round trip less the worker's compute)

  double predicted_ms(size_t candidate) const;
  // The candidate predicted fastest; the worker's side is tried first if never seen. Every
  // kExploreEvery-th (10th) choice explores instead: the candidate tried least recently among
  // those predicted within the deadline (without one, within twice the best), so no estimate
  // goes stale. When none fits the deadline the caller is asked to probe the link instead
  // (probe_wanted), a message too small to miss anything.
  size_t choose(double deadline_ms = 0);
  bool probe_wanted() {
    const bool wanted = probe_wanted_;
    probe_wanted_ = false;
    return wanted;
  }

  double here_ms_per_mmac() const { return here_.value(); }
  double there_ms_per_mmac() const { return there_.value(); }
  double round_trip_ms() const { return rtt_.value(); }
  double ms_per_kib() const { return per_byte_.value() * 1024; }
  static constexpr uint32_t kExploreEvery = 10;
  static constexpr size_t kSmallBytes = 256;  // transfers below this count as round trips

 private:
  std::vector<SplitPoint> points_;
  uint64_t total_macs_;
  uint32_t input_, output_;
  size_t image_bytes_;
  double bytes_per_value_;
  RecentMedian here_, there_;     // ms per million MACs
  RecentMedian rtt_;              // ms
  RecentMedian per_byte_{1e-6};   // ms per byte: 1 GB/s until measured
  uint64_t chosen_ = 0;
  std::vector<uint64_t> last_chosen_;  // per candidate, the choice it was last taken at
  bool probe_wanted_ = false;
};

}  // namespace shoal

#endif  // SHOAL_SPLIT_PLANNER_H_
