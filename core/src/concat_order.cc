#include "shoal/concat_order.h"

#include <algorithm>

namespace shoal {

std::vector<shoal_concat_run> concat_runs(const uint32_t* capacities, size_t inputs) {
  // A merge of the inputs' channels by key, compared exactly as fractions.
  std::vector<uint32_t> next(inputs, 0);
  std::vector<shoal_concat_run> runs;
  uint32_t dst = 0;
  for (;;) {
    size_t best = inputs;
    for (size_t b = 0; b < inputs; ++b) {
      if (next[b] >= capacities[b]) continue;
      // (2 next[b] + 1) / (2 cap[b]) < (2 next[best] + 1) / (2 cap[best]), ties to the lower b.
      if (best == inputs || uint64_t{2 * next[b] + 1} * capacities[best] <
                                uint64_t{2 * next[best] + 1} * capacities[b]) {
        best = b;
      }
    }
    if (best == inputs) break;
    const uint32_t src = next[best]++;
    shoal_concat_run* last = runs.empty() ? nullptr : &runs.back();
    if (last && last->input == best && last->src + last->count == src) {
      ++last->count;
    } else {
      runs.push_back({static_cast<uint32_t>(best), src, dst, 1});
    }
    ++dst;
  }
  return runs;
}

}  // namespace shoal
