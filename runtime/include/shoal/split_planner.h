// Where to split one network between this device and a worker, input by input (papers 001
// and 002), for `shoal split`: the cut whose predicted latency is least. It predicts and
// learns exactly as the master's `split` policy does (segments.h over a LatencyModel, with
// this device as worker kHere and the worker as kThere): each side's round trip per subnet
// from its runs, the link's round trip and time per byte from probes and transfers, with the
// same smoothing, and estimates that age towards their best as time passes, so a side that
// was slow once is tried again. Each side is tried once before predictions are trusted, and
// every kExploreEvery-th choice explores. No sockets and no clock: observations and the time
// come in as numbers, so tests drive it deterministically.
#ifndef SHOAL_SPLIT_PLANNER_H_
#define SHOAL_SPLIT_PLANNER_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "shoal/clock.h"
#include "shoal/latency_model.h"
#include "shoal/model.h"
#include "shoal/segments.h"

namespace shoal {

class SplitPlanner {
 public:
  static constexpr uint32_t kHere = 0, kThere = 1;  // the latency model's two "workers"
  static constexpr uint32_t kExploreEvery = 10;

  // Candidates: 0 sends the image and the worker runs everything; 1..n cut at
  // split_points(model, subnet)[i - 1], each value taking `bytes_per_value` on the wire;
  // n + 1 runs everything here.
  SplitPlanner(const Model& model, uint32_t subnet, double bytes_per_value, LatencyOptions options = {});

  size_t candidates() const { return points().size() + 2; }
  size_t all_remote() const { return 0; }
  size_t all_local() const { return points().size() + 1; }
  const SplitPoint& point(size_t candidate) const { return points()[candidate - 1]; }
  // The tensor that crosses: the model's input for all_remote, its output for all_local.
  uint32_t tensor(size_t candidate) const;
  uint64_t macs_here(size_t candidate) const;
  uint64_t macs_there(size_t candidate) const;
  size_t bytes(size_t candidate) const;  // what crosses to the worker

  // What a run of `candidate` showed: this device's part (`here_ms`), and unless it ran all
  // here, the round trip from sending to the reply, the worker's compute as it reported it,
  // and the bytes both ways.
  void observe(size_t candidate, double here_ms, double round_trip_ms = 0, double worker_ms = 0, size_t wire_bytes = 0);
  // A probe's round trip (the link alone) carrying `bytes` both ways: the link's latency, and
  // at most ms / bytes per byte, so a link that recovers shows without risking an input.
  void observe_probe(double ms, size_t bytes = 0);

  double predicted_ms(size_t candidate) const;
  // The candidate predicted fastest at `now` (estimates age as in LatencyModel::age). A side
  // never seen is tried first (the worker, then this device). Every kExploreEvery-th choice
  // explores instead: the candidate tried least recently among those predicted within the
  // deadline (without one, within twice the best), so no estimate goes stale. When none fits
  // the deadline, or the link was never measured, the caller is asked to probe the link
  // (probe_wanted): a message too small to miss anything.
  size_t choose(TimeUs now, double deadline_ms = 0);
  bool probe_wanted() {
    const bool wanted = probe_wanted_;
    probe_wanted_ = false;
    return wanted;
  }

  const LatencyModel& latency() const { return latency_; }
  uint32_t subnet() const { return subnet_; }

 private:
  const std::vector<SplitPoint>& points() const { return catalog_.points[subnet_]; }
  uint16_t cut(size_t candidate) const;  // the catalog's cut (0: the image)

  SegmentCatalog catalog_;
  uint32_t subnet_;
  uint32_t input_, output_;
  LatencyModel latency_;
  TimeUs now_ = 0;
  uint64_t chosen_ = 0;
  std::vector<uint64_t> last_chosen_;  // per candidate, the choice it was last taken at
  bool probe_wanted_ = false;
};

}  // namespace shoal

#endif  // SHOAL_SPLIT_PLANNER_H_
