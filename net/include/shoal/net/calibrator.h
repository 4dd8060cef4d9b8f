// Measures what the master's policies decide from. Latency: a few inputs through every
// worker and subnet (the master's own engine included) seed every round-trip estimate.
// Accuracy: every member at every subnet it is served at, on labelled images (by default the
// whole validation split), one replica each, several inputs in flight; the ensemble profile
// is measured from the members' probabilities (exact or modelled, see ensemble_profile.h).
#ifndef SHOAL_NET_CALIBRATOR_H_
#define SHOAL_NET_CALIBRATOR_H_

#include <functional>

#include "shoal/dataset.h"
#include "shoal/net/master.h"

namespace shoal::net {

using Progress = std::function<void(uint32_t done, uint32_t total)>;

Status calibrate_latency(Master& master, const Images& images, uint32_t first, uint32_t count,
                         const Progress& progress = nullptr);

Result<EnsembleProfile> measure_accuracy(Master& master, const Images& images, const std::vector<uint8_t>& labels,
                                         uint32_t first, uint32_t count, const Progress& progress = nullptr,
                                         uint64_t exact_limit = EnsembleProfile::kDefaultExactLimit);

}  // namespace shoal::net

#endif  // SHOAL_NET_CALIBRATOR_H_
