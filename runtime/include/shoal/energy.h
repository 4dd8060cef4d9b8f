// Energy per inference from a per-device power model (paper 002 reports it beside latency
// and accuracy): a device draws `idle_watts` while on, `active_watts` while it computes, and
// spends `nanojoules_per_byte` on every byte it sends or receives. Work comes from what the
// orchestrator counted (compute time each worker reported, bytes each way), the master's own
// engine included (its compute at the master's power; its requests never leave the process).
#ifndef SHOAL_ENERGY_H_
#define SHOAL_ENERGY_H_

#include <cstdint>
#include <vector>

namespace shoal {

struct PowerModel {
  double idle_watts = 0, active_watts = 0, nanojoules_per_byte = 0;
  bool given() const { return idle_watts > 0 || active_watts > 0 || nanojoules_per_byte > 0; }
};

// What one worker did in some span: compute time as it reported it, bytes both ways.
struct WorkerWork {
  double compute_ms = 0;
  uint64_t bytes = 0;
};

struct Energy {
  double active_joules = 0;  // compute above idle, and the link, on every device
  double idle_joules = 0;    // every device on for the span
  double total() const { return active_joules + idle_joules; }
};

// `work` is per worker (as `workers`), then the master's own engine if it has one; `seconds`
// the span's wall time.
Energy energy_used(const std::vector<PowerModel>& workers, const PowerModel& master, const std::vector<WorkerWork>& work,
                   double seconds);

}  // namespace shoal

#endif  // SHOAL_ENERGY_H_
