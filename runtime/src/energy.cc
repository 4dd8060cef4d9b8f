#include "shoal/energy.h"

#include <algorithm>

namespace shoal {

Energy energy_used(const std::vector<PowerModel>& workers, const PowerModel& master, const std::vector<WorkerWork>& work,
                   double seconds) {
  Energy e;
  e.idle_joules = master.idle_watts * seconds;
  for (size_t w = 0; w < workers.size(); ++w) {
    const PowerModel& p = workers[w];
    e.idle_joules += p.idle_watts * seconds;
    if (w >= work.size()) continue;
    const double above_idle = std::max(0.0, p.active_watts - p.idle_watts);
    e.active_joules += above_idle * work[w].compute_ms / 1000.0;
    // Each byte leaves one end and reaches the other: both radios spend on it.
    e.active_joules += (p.nanojoules_per_byte + master.nanojoules_per_byte) * 1e-9 * static_cast<double>(work[w].bytes);
  }
  // Past the workers: the master's own engine (insurance, a split's first part, a DISNET
  // block). Its requests never leave the process.
  for (size_t w = workers.size(); w < work.size(); ++w) {
    e.active_joules += std::max(0.0, master.active_watts - master.idle_watts) * work[w].compute_ms / 1000.0;
  }
  return e;
}

}  // namespace shoal
