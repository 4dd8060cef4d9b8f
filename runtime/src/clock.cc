#include "shoal/clock.h"

#include <chrono>
#include <thread>

namespace shoal {

TimeUs SteadyClock::now() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

const Clock& steady_clock() {
  static const SteadyClock clock;
  return clock;
}

void stretch_since(std::chrono::steady_clock::time_point since, double factor) {
  if (factor > 1) std::this_thread::sleep_for((std::chrono::steady_clock::now() - since) * (factor - 1));
}

}  // namespace shoal
