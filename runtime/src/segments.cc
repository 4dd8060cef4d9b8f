#include "shoal/segments.h"

#include <algorithm>
#include <cmath>

#include "shoal/latency_model.h"

namespace shoal {

std::vector<SplitPoint> split_points(const Model& model, uint32_t subnet) {
  const fb::Model& m = model.fb();
  const std::vector<uint32_t> cuts = model.cut_tensors();
  const uint64_t total = model.cost(subnet).macs;
  std::vector<SplitPoint> points;
  uint64_t before = 0;
  for (uint32_t k = 0; k < m.nodes()->size() && points.size() < cuts.size(); ++k) {
    before += model.node_cost(subnet, k).macs;
    const uint32_t t = m.nodes()->Get(k)->outputs()->Get(0);
    if (t != cuts[points.size()]) continue;
    points.push_back({t, k, before, total - before, model.packed_size(subnet, t)});
  }
  return points;
}

Result<std::shared_ptr<const PartitionSetup>> partition_setup(const Model& model, std::vector<uint32_t> workers) {
  uint32_t widest = 0;
  for (uint32_t s = 1; s < model.fb().subnets()->size(); ++s) {
    if (model.cost(s).macs > model.cost(widest).macs) widest = s;
  }
  auto plan = plan_channel_partition(model, widest, std::vector<double>(workers.size(), 1.0));
  if (!plan.is_ok()) return plan.status();
  auto setup = std::make_shared<PartitionSetup>();
  setup->model = &model;
  setup->plan = std::move(plan.value());
  setup->workers = std::move(workers);
  const double total = static_cast<double>(std::max<uint64_t>(1, model.cost(widest).macs));
  for (const PartitionStage& st : setup->plan.stages) {
    uint64_t macs = 0;
    for (uint32_t n = st.first_node; n < st.end_node; ++n) macs += model.node_cost(widest, n).macs;
    const size_t parts = st.ranges.size();
    setup->shares.emplace_back(parts, static_cast<double>(macs) / total / static_cast<double>(parts));
  }
  return std::shared_ptr<const PartitionSetup>(std::move(setup));
}

bool SegmentCatalog::holds(uint32_t worker) const {
  return std::find(workers.begin(), workers.end(), worker) != workers.end();
}

double SegmentCatalog::share(uint32_t subnet, uint16_t from, uint16_t to) const {
  const uint64_t total = macs[subnet];
  if (total == 0) return 1.0;
  const uint64_t begin = from == 0 ? 0 : points[subnet][from - 1u].macs_before;
  const uint64_t end = to == 0 ? total : points[subnet][to - 1u].macs_before;
  return end > begin ? static_cast<double>(end - begin) / static_cast<double>(total) : 0.0;
}

size_t SegmentCatalog::values_out(uint32_t subnet, uint16_t to) const {
  return to == 0 ? 0 : points[subnet][to - 1u].values;
}

size_t SegmentCatalog::bytes_in(uint32_t subnet, uint16_t from) const {
  return from == 0 ? image_bytes : static_cast<size_t>(static_cast<double>(points[subnet][from - 1u].values) * bytes_per_value);
}

SegmentCatalog segment_catalog(const Model& model, std::vector<uint32_t> workers, int local, double bytes_per_value) {
  SegmentCatalog c;
  c.bytes_per_value = bytes_per_value;
  c.workers = std::move(workers);
  c.local = local;
  for (uint32_t s = 0; s < model.fb().subnets()->size(); ++s) {
    c.points.push_back(split_points(model, s));
    c.macs.push_back(model.cost(s).macs);
  }
  c.image_bytes = model.shape(model.fb().input()).elements();
  return c;
}

double network_ms(const LatencyModel& latency, uint32_t w, size_t bytes) {
  const LinkEstimate link = latency.link(w);
  return std::max(0.0, link.rtt_ms) + std::max(0.0, link.ms_per_kib) * static_cast<double>(bytes) / 1024;
}

double predict_segment_ms(const LatencyModel& latency, const SegmentCatalog& catalog, uint32_t w, uint32_t subnet,
                          uint16_t from, uint16_t to, TimeUs now) {
  const double whole = latency.compute_ms(w, subnet);  // the image there and the probabilities back
  if (std::isinf(whole)) return whole;
  const double engine = std::max(0.0, whole - network_ms(latency, w, catalog.image_bytes));
  const size_t bytes = catalog.bytes_in(subnet, from) +
                       static_cast<size_t>(static_cast<double>(catalog.values_out(subnet, to)) * catalog.bytes_per_value);
  return engine * catalog.share(subnet, from, to) + network_ms(latency, w, bytes) + latency.backlog_ms(w, now);
}

double predict_split_ms(const LatencyModel& latency, const SegmentCatalog& catalog, uint32_t here, int there,
                        uint32_t subnet, uint16_t cut, TimeUs now) {
  if (there < 0) return latency.predict_ms(here, subnet, now);
  const uint32_t w = static_cast<uint32_t>(there);
  if (cut == 0) return latency.predict_ms(w, subnet, now);
  return predict_segment_ms(latency, catalog, here, subnet, 0, cut, now) +
         predict_segment_ms(latency, catalog, w, subnet, cut, 0, now);
}

void learn_from_reply(LatencyModel& latency, const SegmentCatalog* catalog, uint32_t w, uint32_t subnet, double share,
                      double round_trip_ms, double compute_ms, size_t bytes) {
  if (compute_ms >= 0) latency.observe_transfer(w, round_trip_ms - compute_ms, bytes);
  if (share >= 1) {
    latency.observe(w, subnet, round_trip_ms);
  } else if (share > 0.05 && compute_ms >= 0 && catalog) {
    // The whole subnet's round trip as predict_segment_ms reads it: the image over the link
    // as measured (this reply's own link time until the link has been), and the compute.
    const double link = latency.link(w).rtt_ms >= 0 ? network_ms(latency, w, catalog->image_bytes)
                                                    : std::max(0.0, round_trip_ms - compute_ms);
    latency.observe(w, subnet, link + compute_ms / share);
  }
}

}  // namespace shoal
