// Greedy lifetime planner for activation memory (as TensorFlow Lite Micro does it):
// largest buffers first, each at the lowest offset that does not overlap a buffer
// whose lifetime overlaps its own.
#ifndef SHOAL_ARENA_PLANNER_H_
#define SHOAL_ARENA_PLANNER_H_

#include <cstddef>
#include <vector>

namespace shoal {

struct ArenaRequest {
  size_t bytes = 0;
  int first = 0, last = 0;  // inclusive range of steps during which the buffer is live
};

struct ArenaPlan {
  std::vector<size_t> offsets;  // one per request, multiples of `alignment`
  size_t total = 0;
};

ArenaPlan plan_arena(const std::vector<ArenaRequest>& requests, size_t alignment);

}  // namespace shoal

#endif  // SHOAL_ARENA_PLANNER_H_
