// Time for logic that depends on it (deadlines, hedges, latency estimates): an injected clock,
// so that the orchestrator's rules are tested deterministically with a FakeClock.
#ifndef SHOAL_CLOCK_H_
#define SHOAL_CLOCK_H_

#include <chrono>
#include <cstdint>

namespace shoal {

using TimeUs = int64_t;  // microseconds on a monotonic clock; only differences mean anything
inline constexpr TimeUs kNever = INT64_MAX;

inline TimeUs us_from_ms(double ms) { return static_cast<TimeUs>(ms * 1000.0); }
inline double ms_from_us(TimeUs us) { return static_cast<double>(us) / 1000.0; }

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimeUs now() const = 0;
};

// std::chrono::steady_clock.
class SteadyClock final : public Clock {
 public:
  TimeUs now() const override;
};
const Clock& steady_clock();

// Moves only when told to.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimeUs start = 1'000'000) : now_(start) {}
  TimeUs now() const override { return now_; }
  void set(TimeUs t) { now_ = t; }
  void advance_ms(double ms) { now_ += us_from_ms(ms); }

 private:
  TimeUs now_;
};

// Emulates a device `factor` (>= 1) times slower: sleeps factor - 1 times what has passed
// since `since`. For experiments on one machine; a factor of 1 costs nothing.
void stretch_since(std::chrono::steady_clock::time_point since, double factor);

}  // namespace shoal

#endif  // SHOAL_CLOCK_H_
