// Where one network can be cut between devices, and what the latency model predicts and learns
// of each way to run it: the one model of a split that the segment policies (disnet, split)
// and `shoal split`'s planner (split_planner.h) share. A catalog holds, for the model that
// the master runs itself and some workers serve too (the same file), which workers hold it,
// and for every subnet each place it can be cut, with the work before it and the values that
// cross. Units name segments by these cuts (policy.h): cut k (1-based) is points[subnet][k - 1].
#ifndef SHOAL_SEGMENTS_H_
#define SHOAL_SEGMENTS_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "shoal/channel_partition.h"
#include "shoal/clock.h"
#include "shoal/model.h"

namespace shoal {

class LatencyModel;

// One place the graph can be split at one subnet: `tensor` crosses the link.
struct SplitPoint {
  uint32_t tensor = 0;
  uint32_t node = 0;          // the node that makes it
  uint64_t macs_before = 0;   // the first device's work
  uint64_t macs_after = 0;    // the second's
  size_t values = 0;          // values that cross (packed at the subnet's width)
};

// Model::cut_tensors() with the work on each side, in graph order.
std::vector<SplitPoint> split_points(const Model& model, uint32_t subnet);

// Fluid's high-accuracy mode over the workers holding the model (fluid-ha): every layer's
// channels of `plan.subnet` shared between them, part p on workers[p]; part 0 (the master's
// own engine) also runs the last stage, whole.
struct PartitionSetup {
  const Model* model = nullptr;  // outlives the catalog (the master's own)
  ChannelPartition plan;
  std::vector<uint32_t> workers;            // per part
  std::vector<std::vector<double>> shares;  // per stage, per part: its share of the subnet's MACs
};

// The partition of `model`'s widest subnet into equal shares over `workers` (part 0 the
// master's engine); fails, saying why, where it cannot be split that way.
Result<std::shared_ptr<const PartitionSetup>> partition_setup(const Model& model, std::vector<uint32_t> workers);

struct SegmentCatalog {
  std::vector<uint32_t> workers;             // holding the model; the master's own engine first
  int local = -1;                            // the master's own engine among them (-1: none)
  std::vector<std::vector<SplitPoint>> points;  // per subnet, per cut
  std::vector<uint64_t> macs;                // per subnet, the whole network
  size_t image_bytes = 0;
  double bytes_per_value = 4;                // a cut tensor on the wire: f32 4, f16 2, int8 1
  std::shared_ptr<const PartitionSetup> partition;  // null: none (fluid-ha then runs on one device)

  uint32_t subnets() const { return static_cast<uint32_t>(macs.size()); }
  uint16_t cuts() const { return points.empty() ? 0 : static_cast<uint16_t>(points[0].size()); }
  bool holds(uint32_t worker) const;
  // The segment's share of the subnet's MACs (from/to as in Unit: 0 is the image, the end).
  double share(uint32_t subnet, uint16_t from, uint16_t to) const;
  // Values the segment's output holds (0 when it ends at the probabilities).
  size_t values_out(uint32_t subnet, uint16_t to) const;
  // Bytes its request carries: the image, or the cut tensor as it travels.
  size_t bytes_in(uint32_t subnet, uint16_t from) const;
};

// Every cut of every subnet of `model`; `workers` as above.
SegmentCatalog segment_catalog(const Model& model, std::vector<uint32_t> workers, int local,
                               double bytes_per_value = 4);

// Predicted milliseconds until a segment's result would be back from worker w, from what the
// latency model measured: the subnet's round trip less the link's part (a round trip and the
// image's bytes), scaled to the segment's share of the MACs; plus the link's round trip and
// the bytes the segment sends and gets back; plus w's backlog. For the whole network it is
// the subnet's round trip.
double network_ms(const LatencyModel& latency, uint32_t w, size_t bytes);  // a round trip carrying `bytes`
double predict_segment_ms(const LatencyModel& latency, const SegmentCatalog& catalog, uint32_t w, uint32_t subnet,
                          uint16_t from, uint16_t to, TimeUs now);
// One input through `subnet` split at `cut` (1-based; 0: the image goes whole to `there`):
// `here` runs up to the cut and worker `there` the rest; `there` < 0: all of it runs here.
double predict_split_ms(const LatencyModel& latency, const SegmentCatalog& catalog, uint32_t here, int there,
                        uint32_t subnet, uint16_t cut, TimeUs now);
// What one reply teaches: worker w ran `share` of `subnet` (1: all of it; less: a segment of
// `catalog`'s), in `compute_ms` by its own report (< 0: unknown), back `round_trip_ms` after
// it was sent with `bytes` on the wire both ways. A segment teaches the whole subnet's round
// trip (its compute scaled up to the whole, with the image's time over the link; slivers
// under 5 % of the work are mostly fixed costs and teach nothing), and the link its time per
// byte.
void learn_from_reply(LatencyModel& latency, const SegmentCatalog* catalog, uint32_t w, uint32_t subnet, double share,
                      double round_trip_ms, double compute_ms, size_t bytes);

}  // namespace shoal

#endif  // SHOAL_SEGMENTS_H_
