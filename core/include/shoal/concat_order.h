// Where each input channel of a Concat node lands (schema/model.fbs): the order that keeps
// every width subnet's channels one range of the output group.
#ifndef SHOAL_CONCAT_ORDER_H_
#define SHOAL_CONCAT_ORDER_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "shoal/kernels/params.h"

namespace shoal {

inline constexpr size_t kMaxConcatInputs = 16;

// The output channels of a concatenation of inputs with these capacities, as runs in output
// order: input b's channel j sorts by (2j + 1) / (2 capacities[b]), ties to the lower b.
// Adjacent channels of one input merge into one run.
std::vector<shoal_concat_run> concat_runs(const uint32_t* capacities, size_t inputs);

}  // namespace shoal

#endif  // SHOAL_CONCAT_ORDER_H_
