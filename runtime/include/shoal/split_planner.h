// Where to split one network between this device and a worker, input by input (papers 001
// and 002): the cut whose predicted latency is least, from this device's and the worker's
// speed (ms per million MACs, learned from their runs) and the link (a round trip plus time
// per byte, learned from transfers). When the link slows or a side gets loaded, the
// predictions move and so does the cut. No sockets and no clock: observations come in as
// numbers, so tests drive it deterministically.
#ifndef SHOAL_SPLIT_PLANNER_H_
#define SHOAL_SPLIT_PLANNER_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "shoal/model.h"

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
  uint64_t macs_here(size_t candidate) const;
  uint64_t macs_there(size_t candidate) const;
  size_t bytes(size_t candidate) const;

  void observe_here(uint64_t macs, double ms);
  void observe_there(uint64_t macs, double ms);
  void observe_round_trip(double ms);                // a message too small to count its bytes
  void observe_transfer(size_t bytes, double ms);    // a request's link time (its round trip less the worker's compute)

  double predicted_ms(size_t candidate) const;
  // The candidate predicted fastest; the worker's side is tried first if never seen, and
  // every `explore_every`-th choice takes the runner-up, so estimates never go stale.
  size_t choose();

  double here_ms_per_mmac() const { return here_; }
  double there_ms_per_mmac() const { return there_; }
  double round_trip_ms() const { return rtt_; }
  double ms_per_kib() const { return per_byte_ * 1024; }
  static constexpr uint32_t kExploreEvery = 20;

 private:
  std::vector<SplitPoint> points_;
  uint64_t total_macs_;
  size_t image_bytes_;
  double bytes_per_value_;
  double here_ = -1, there_ = -1;  // ms per million MACs (-1: not seen)
  double rtt_ = -1;                // ms
  double per_byte_ = 1e-6;         // ms per byte: 1 GB/s until measured
  uint64_t chosen_ = 0;
};

}  // namespace shoal

#endif  // SHOAL_SPLIT_PLANNER_H_
