// What the segment policies (disnet, split) know of the model that the master runs itself and
// some workers serve too (the same file): which workers hold it, and for every subnet each
// place it can be cut, with the work before it and the values that cross. Units name
// segments by these cuts (policy.h): cut k (1-based) is points[subnet][k - 1].
#ifndef SHOAL_SEGMENTS_H_
#define SHOAL_SEGMENTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "shoal/clock.h"
#include "shoal/model.h"
#include "shoal/split_planner.h"

namespace shoal {

class LatencyModel;

struct SegmentCatalog {
  std::vector<uint32_t> workers;             // holding the model; the master's own engine first
  int local = -1;                            // the master's own engine among them (-1: none)
  std::vector<std::string> names;            // per cut, its tensor's name (what goes on the wire)
  std::vector<std::vector<SplitPoint>> points;  // per subnet, per cut
  std::vector<uint64_t> macs;                // per subnet, the whole network
  size_t image_bytes = 0;

  uint32_t subnets() const { return static_cast<uint32_t>(macs.size()); }
  uint16_t cuts() const { return static_cast<uint16_t>(names.size()); }
  bool holds(uint32_t worker) const;
  // The segment's share of the subnet's MACs (from/to as in Unit: 0 is the image, the end).
  double share(uint32_t subnet, uint16_t from, uint16_t to) const;
  // Values the segment's output holds (0 when it ends at the probabilities).
  size_t values_out(uint32_t subnet, uint16_t to) const;
  // Bytes its request carries: the image, or the cut tensor as f32.
  size_t bytes_in(uint32_t subnet, uint16_t from) const;
};

// Every cut of every subnet of `model`; `workers` as above.
SegmentCatalog segment_catalog(const Model& model, std::vector<uint32_t> workers, int local);

// Predicted milliseconds until a segment's result would be back from worker w, from what the
// latency model measured: the subnet's round trip less the link's part (a round trip and the
// image's bytes), scaled to the segment's share of the MACs; plus the link's round trip and
// the bytes the segment sends and gets back; plus w's backlog. For the whole network it is
// the subnet's round trip.
double network_ms(const LatencyModel& latency, uint32_t w, size_t bytes);  // a round trip carrying `bytes`
double predict_segment_ms(const LatencyModel& latency, const SegmentCatalog& catalog, uint32_t w, uint32_t subnet,
                          uint16_t from, uint16_t to, TimeUs now);

}  // namespace shoal

#endif  // SHOAL_SEGMENTS_H_
