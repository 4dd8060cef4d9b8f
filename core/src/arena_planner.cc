#include "shoal/arena_planner.h"

#include <algorithm>
#include <numeric>

namespace shoal {

ArenaPlan plan_arena(const std::vector<ArenaRequest>& requests, size_t alignment) {
  const size_t n = requests.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return requests[a].bytes > requests[b].bytes; });
  ArenaPlan plan;
  plan.offsets.assign(n, 0);
  std::vector<size_t> placed;
  for (size_t i : order) {
    const ArenaRequest& r = requests[i];
    // Live neighbours sorted by offset; slide past each one we would overlap.
    std::vector<size_t> live;
    for (size_t j : placed) {
      if (requests[j].first <= r.last && r.first <= requests[j].last) live.push_back(j);
    }
    std::sort(live.begin(), live.end(), [&](size_t a, size_t b) { return plan.offsets[a] < plan.offsets[b]; });
    size_t offset = 0;
    for (size_t j : live) {
      if (offset + r.bytes <= plan.offsets[j]) break;
      offset = std::max(offset, plan.offsets[j] + requests[j].bytes);
      offset = (offset + alignment - 1) / alignment * alignment;
    }
    plan.offsets[i] = offset;
    plan.total = std::max(plan.total, offset + r.bytes);
    placed.push_back(i);
  }
  plan.total = (plan.total + alignment - 1) / alignment * alignment;
  return plan;
}

}  // namespace shoal
