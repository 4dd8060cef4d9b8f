#include "shoal/clock.h"

#include <chrono>

namespace shoal {

TimeUs SteadyClock::now() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

const Clock& steady_clock() {
  static const SteadyClock clock;
  return clock;
}

}  // namespace shoal
