// What a master's inputs came to: each input's outcome, and, counted as they are answered,
// per policy (how many answered, insured, missed; how many right where the true class was
// given) and a histogram of how long they took: what a master's /status and /metrics show.
#ifndef SHOAL_OUTCOMES_H_
#define SHOAL_OUTCOMES_H_

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace shoal {

enum class Outcome : uint8_t {
  kAnswered,          // the policy's members answered in time
  kInsured,           // only the master's own insurance run answered in time
  kDeadlineTooShort,  // shorter than any worker (or the master) could ever answer: said at once
  kShed,              // a lower priority class, dropped at once because the cluster is overloaded
  kMissed,            // nothing answered by the deadline
  kNoWorker,          // no live worker to plan on, and no insurance
  kBusy,              // too many inputs in flight
};
const char* outcome_name(Outcome outcome);
inline bool has_label(Outcome o) { return o == Outcome::kAnswered || o == Outcome::kInsured; }

// Submit-to-answer times in fixed buckets (Prometheus' histogram: counts per upper bound,
// cumulated when written out), in milliseconds.
class LatencyHistogram {
 public:
  static constexpr std::array<double, 14> kBoundsMs = {0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 125, 250, 500, 1000};
  void add(double ms);
  // Inputs at or under kBoundsMs[i] but over the bound before; [kBoundsMs.size()]: over the last.
  const std::array<uint64_t, kBoundsMs.size() + 1>& counts() const { return counts_; }
  uint64_t count() const { return count_; }
  double sum_ms() const { return sum_ms_; }

 private:
  std::array<uint64_t, kBoundsMs.size() + 1> counts_{};
  uint64_t count_ = 0;
  double sum_ms_ = 0;
};

struct PolicyOutcomes {
  uint64_t inputs = 0;
  uint64_t answered = 0, insured = 0;  // with a label: the policy's members, or the insurance alone
  uint64_t misses = 0;                 // answered without one (missed, shed, too short, no worker, busy)
  uint64_t labelled = 0, correct = 0;  // of inputs given their true class
  uint64_t hedges = 0;
  LatencyHistogram latency;            // of inputs answered with a label
};

// Every policy's inputs in one second (of the clock the stats are given).
struct SecondOutcomes {
  int64_t second = -1;  // since the clock's epoch (-1: nothing recorded in it)
  uint64_t inputs = 0, misses = 0, labelled = 0, correct = 0;
};

class OutcomeStats {
 public:
  static constexpr size_t kSeconds = 120;  // the timeline kept
  // `truth` is the input's true class, -1 when unknown; `label` what it was answered; `now`
  // when (in microseconds of any steady clock), for the timeline.
  void record(const char* policy, Outcome outcome, int label, int truth, double latency_ms, uint32_t hedges, int64_t now_us);
  const std::map<std::string, PolicyOutcomes>& policies() const { return policies_; }
  // The last kSeconds seconds up to the one holding `now_us`, oldest first, empty ones zero.
  std::vector<SecondOutcomes> timeline(int64_t now_us) const;

 private:
  std::map<std::string, PolicyOutcomes> policies_;
  std::array<SecondOutcomes, kSeconds> seconds_{};  // a ring: second s at s % kSeconds
};

}  // namespace shoal

#endif  // SHOAL_OUTCOMES_H_
