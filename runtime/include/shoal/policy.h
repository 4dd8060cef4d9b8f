// The plan model every policy fits. A unit of work names a worker, the member it serves and a
// subnet; a policy starts an input by sending units, sees each result or failure as it
// arrives, and may send more (a later stage) or finish. The orchestrator fuses the results
// of the highest stage that has any, so a cascade's wider stage replaces its first guess
// while an ensemble's members (one stage) are averaged. Policies never see sockets, threads
// or wall-clock time: only the latency model, the allocator and `now`.
#ifndef SHOAL_POLICY_H_
#define SHOAL_POLICY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "shoal/clock.h"

namespace shoal {

class Allocator;
class LatencyModel;
struct SegmentCatalog;

inline constexpr uint32_t kInsuranceStage = 0;  // the master's own narrow run: used only alone
inline constexpr uint32_t kFirstStage = 1;

// A unit runs a whole subnet, or a segment of it (disnet, split): from cut `from` (0: the
// image) to cut `to` (0: the probabilities), cuts numbered from 1 as in the segment catalog
// (segments.h). A segment that starts at a cut takes the tensor the unit numbered `feed` (of
// the same input) stopped at; one that stops at a cut hands its tensor on and is never fused.
// Or a share of the catalog's channel partition (fluid-ha): part `part` of partition stage
// `share_stage`, fed with the tensors the orchestrator gathered from the earlier stages'
// parts; only the last stage's (`share_last`, one part, on the partition's first worker)
// gives probabilities.
struct Unit {
  uint32_t worker = 0;
  uint32_t subnet = 0;  // index into that worker's subnets
  uint32_t stage = kFirstStage;
  int member = -1;      // the profile's member the worker serves (filled in when sent)
  uint16_t from = 0, to = 0;
  int16_t feed = -1;
  int16_t share_stage = -1;  // -1: not a share
  uint16_t part = 0;
  bool share_last = false;
  bool segment() const { return from != 0 || to != 0; }
  bool share() const { return share_stage >= 0; }
  bool final() const { return share() ? share_last : to == 0; }  // its result is probabilities
};
using Plan = std::vector<Unit>;

// What the orchestrator knows of a worker: the member it serves, where each of its subnets
// is in the profile (-1: not profiled), their cost, and whether it is the master itself.
struct WorkerRole {
  int member = -1;
  std::vector<int> profile_subnet;
  std::vector<uint64_t> macs;
  bool local = false;  // the master's own engine: insurance only, never planned by a policy
  // Whether a policy may plan on it: not the master's own engine, and serving a member the
  // profile has (a worker not joined yet, or whose member is not profiled yet, has -1).
  bool planned() const { return !local && member >= 0; }
};

enum class UnitState : uint8_t { kPending, kDone, kFailed, kLate };

// One input in flight, as its policy sees it.
class InputState {
 public:
  TimeUs submitted() const { return submitted_; }
  TimeUs deadline() const { return deadline_; }
  double remaining_ms(TimeUs now) const { return ms_from_us(deadline_ - now); }
  int priority() const { return priority_; }

  size_t units() const { return units_.size(); }
  const Unit& unit(size_t i) const { return units_[i].unit; }
  UnitState state(size_t i) const { return units_[i].state; }
  // Its probabilities, or the tensor a segment stopped at.
  const std::vector<float>& result(size_t i) const { return units_[i].output; }
  uint32_t pending() const;
  uint32_t pending_in(uint32_t stage) const;
  uint32_t succeeded_in(uint32_t stage) const;  // units with probabilities (not segments' tensors)
  // The highest stage sent, and the highest with probabilities (0 when none).
  uint32_t last_stage() const;
  uint32_t top_stage() const;
  // The mean distribution of `stage`'s results; false when it has none.
  bool fused(uint32_t stage, std::vector<float>* out) const;
  float confidence(uint32_t stage) const;  // top probability of fused(stage), 0 without results
  bool tried(uint32_t worker) const { return worker < tried_.size() && tried_[worker]; }
  const std::vector<bool>& tried_workers() const { return tried_; }

  void send(const Unit& unit) { outbox_.push_back(unit); }
  void finish() { finished_ = true; }
  // A word the reports show, e.g. adaptive's "ensemble" or "throughput".
  void set_mode(const char* mode) { mode_ = mode; }
  const char* mode() const { return mode_; }

 private:
  friend class Orchestrator;
  struct Sent {
    Unit unit;
    UnitState state = UnitState::kPending;
    TimeUs sent = 0;
    std::vector<float> output;  // probabilities, or a segment's tensor
    int hedge_of = -1;  // a hedge: the unit it stands in for (whichever answers first counts)
  };
  TimeUs submitted_ = 0, deadline_ = 0;
  int priority_ = 0;
  uint32_t classes_ = 0;
  std::vector<Sent> units_;
  std::vector<bool> tried_;
  Plan outbox_;
  bool finished_ = false;
  const char* mode_ = "";
};

struct PlanContext {
  const LatencyModel& latency;
  const Allocator& allocator;
  TimeUs now;
  size_t others_in_flight = 0;  // inputs in flight besides this one
  const SegmentCatalog* segments = nullptr;  // null: no workers share the master's model
};

class Policy {
 public:
  virtual ~Policy() = default;
  virtual const char* name() const = 0;
  // Sends the first units for what remains of the deadline, on workers this input has not
  // tried. Called again when every unit failed and time is left.
  virtual void start(const PlanContext& ctx, InputState& input) = 0;
  // After each result or failure before the deadline. The default re-plans with start()
  // once nothing is pending and nothing succeeded.
  virtual void update(const PlanContext& ctx, InputState& input);
};

}  // namespace shoal

#endif  // SHOAL_POLICY_H_
