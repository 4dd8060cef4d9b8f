#include "shoal/segments.h"

#include <algorithm>
#include <cmath>

#include "shoal/latency_model.h"

namespace shoal {

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
  return from == 0 ? image_bytes : points[subnet][from - 1u].values * sizeof(float);
}

SegmentCatalog segment_catalog(const Model& model, std::vector<uint32_t> workers, int local) {
  SegmentCatalog c;
  c.workers = std::move(workers);
  c.local = local;
  for (uint32_t t : model.cut_tensors()) c.names.push_back(model.fb().tensors()->Get(t)->name()->str());
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
  const size_t bytes = catalog.bytes_in(subnet, from) + catalog.values_out(subnet, to) * sizeof(float);
  return engine * catalog.share(subnet, from, to) + network_ms(latency, w, bytes) + latency.backlog_ms(w, now);
}

}  // namespace shoal
