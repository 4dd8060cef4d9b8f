// The collector: takes inputs with deadlines, asks the policy for units, hands them to a
// UnitSender, and gathers results until the policy finishes, every unit has answered, or the
// deadline fires. Late results are dropped and counted (and still teach the latency model);
// a failed unit leads the policy to re-plan on workers this input has not tried; a unit far
// past its prediction is hedged on another worker; when the master has an engine of its own
// (a WorkerRole marked local) the narrowest subnet runs there as insurance, late enough that
// it is rarely needed, or at once when the plan is risky. Every input gets exactly one
// answer, at the latest at its deadline: fused probabilities, the insurance result, or an
// explicit "deadline too short", "shed", "missed", "no worker", "busy".
//
// No sockets, no threads, no wall clock: the master calls it under its lock from its reader
// and timer threads; tests drive it with a FakeClock and a scripted UnitSender.
#ifndef SHOAL_ORCHESTRATOR_H_
#define SHOAL_ORCHESTRATOR_H_

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "shoal/allocator.h"
#include "shoal/clock.h"
#include "shoal/dataset.h"
#include "shoal/energy.h"
#include "shoal/latency_model.h"
#include "shoal/outcomes.h"
#include "shoal/policy.h"
#include "shoal/policy_registry.h"
#include "shoal/segments.h"

namespace shoal {

struct Prediction {
  uint64_t ticket = 0;
  Outcome outcome = Outcome::kMissed;
  int label = -1;                   // -1 unless answered or insured
  std::vector<float> probabilities;
  Plan used;                        // units whose results were fused
  Plan dropped;                     // units that failed, answered late or never answered
  std::vector<std::vector<float>> member_probabilities;  // per used unit, with keep_members
  double latency_ms = 0;            // submit to answer, on the orchestrator's clock
  double plan_us = 0;               // time the policy took to decide the first units
  int priority = 0;
  bool narrowed = false;            // planned narrow because of overload (priority > 0)
  uint32_t hedges = 0;
  const char* policy = "";
  const char* mode = "";            // what the policy says it did (adaptive's mode)
};

struct Submission {
  std::vector<uint8_t> image;
  double budget_ms = 0;
  // 0 is the most important class and is never narrowed or shed; under overload class p > 0
  // is narrowed to one narrow unit, then shed (see OrchestratorOptions).
  int priority = 0;
  Plan fixed;                 // non-empty: run exactly these units (calibration); no policy,
                              // no hedges, no insurance
  bool keep_members = false;  // fill Prediction::member_probabilities
  int truth = -1;             // its true class where known: counted in stats() as right or wrong
  std::function<void(Prediction&&)> done;  // called once, from inside the orchestrator
};

// How units reach their workers: the master sends frames; tests script the replies.
class UnitSender {
 public:
  virtual ~UnitSender() = default;
  // False when it cannot be sent (the worker is gone); the unit then counts as failed. A
  // segment that starts at a cut sends `tensor` (its feed's output) instead of the image; a
  // share sends its stage's inputs, whole, from `gathered` (plan().stages[unit.share_stage]).
  virtual bool send(uint64_t request_id, const Unit& unit, const std::vector<uint8_t>& image,
                    const std::vector<float>* tensor, const PartitionExecutor* gathered, double budget_ms) = 0;
};

struct OrchestratorOptions {
  double hedge_factor = 2.0;        // hedge a unit not back after this many times its prediction (0: never)
  double insurance_guard_ms = 2.0;  // the insurance run starts this long before it would be too late
                                    // (the larger of its pessimistic prediction, mean + 4
                                    // deviations, and its slowest recent answer; + this, + how
                                    // late timers have been firing)
  // Until the master's own engine has answered a few insurance runs, an insurance run is
  // assumed to take up to this long: the first after a long idle pays cold caches and thread
  // wake-ups (7 ms seen on a loaded 2-core machine, for a 0.2 ms subnet). After that, the
  // slowest of its last 64 answers is.
  double insurance_cold_ms = 10.0;
  double risky_fraction = 0.8;      // insure at once when every unit is predicted past this share of the budget
  double narrow_pressure = 0.5;     // class p > 0 is narrowed when the shortest queue > budget * this / p
  double shed_pressure = 1.0;       // ...and shed when it is > budget * this / p
  uint32_t max_in_flight = 4096;    // inputs; more are answered kBusy
  double forget_after_ms = 10000;   // requests never answered are forgotten after this
  double presume_lost_factor = 4;   // a unit not back after this many times its prediction, and
                                    // past its input's deadline, leaves its worker's backlog
                                    // (a lost datagram would otherwise hold it for 10 s)
};

struct OrchestratorCounters {
  uint64_t submitted = 0, answered = 0, insured = 0, too_short = 0, shed = 0, missed = 0, no_worker = 0, busy = 0;
  uint64_t late_replies = 0;     // results that arrived after their input was answered
  uint64_t failures = 0;         // units that failed (error reply, worker gone, could not send)
  uint64_t hedges = 0, insurance_runs = 0, replans = 0, narrowed = 0;
  uint64_t unknown_replies = 0;  // replies to requests this orchestrator never sent (or forgot)
  uint64_t presumed_lost = 0;    // units whose reply had not come long after it was due
  uint64_t overtaken = 0;        // units still unanswered when a later request to their worker was
  std::vector<WorkerWork> work;  // per worker: compute it reported, bytes each way (energy.h)
};

class Orchestrator {
 public:
  Orchestrator(const Clock& clock, UnitSender& sender, std::vector<WorkerRole> roles, uint32_t classes,
               LatencyOptions latency = {}, OrchestratorOptions options = {});
  ~Orchestrator();
  Orchestrator(const Orchestrator&) = delete;
  Orchestrator& operator=(const Orchestrator&) = delete;

  LatencyModel& latency() { return latency_; }
  const LatencyModel& latency() const { return latency_; }
  const std::vector<WorkerRole>& roles() const { return roles_; }
  uint32_t classes() const { return classes_; }

  // The accuracy profile over the members that WorkerRole::member indexes, with new roles
  // where the profile indexes members differently (empty: keep them). Policies need one;
  // inputs in flight keep the allocator they started with.
  void set_profile(std::shared_ptr<const EnsembleProfile> profile, std::vector<WorkerRole> roles = {},
                   AllocatorOptions options = {});
  // New roles for the same workers, under the same profile: a worker that joined late (its
  // role was empty until its handshake). A worker whose subnet count changes starts with no
  // latency estimates. Ignored unless there is one role per worker.
  void set_roles(std::vector<WorkerRole> roles);
  std::shared_ptr<const EnsembleProfile> profile() const { return profile_; }
  // The model the master and some workers share, for the segment policies (null: none).
  void set_segments(std::shared_ptr<const SegmentCatalog> segments) { segments_ = std::move(segments); }
  const SegmentCatalog* segments() const { return segments_.get(); }
  const Allocator* allocator() const { return allocator_.get(); }
  // A policy from the registry, made now (static and dynamic fix their choice from the
  // current predictions). Inputs in flight finish under the policy they started with.
  Status set_policy(const std::string& name, const PolicyParams& params);

  uint64_t submit(Submission submission);
  // How many values request `id`'s result must hold: the classes, a segment's tensor, or a
  // share's slices back to back (0: not a request in flight).
  size_t expected_values(uint64_t request_id) const;
  // `queue_ms` and `compute_ms` as the worker reports them (compute_ms < 0: not reported);
  // what is left of the round trip is the network's (latency_model.h's LinkEstimate).
  // `values` are the probabilities, the tensor a segment stopped at, or a share's slices of
  // its stage's outputs, in order, back to back.
  void on_result(uint64_t request_id, const float* probabilities, size_t count, double queue_ms,
                 double compute_ms = -1);
  void on_failure(uint64_t request_id);
  void on_worker_down(uint32_t worker);
  void on_worker_up(uint32_t worker);
  // Fires what is due: deadlines, hedges, insurance runs, forgotten requests.
  void on_timer();
  TimeUs next_timer() const { return timers_.empty() ? kNever : timers_.begin()->first.first; }

  size_t in_flight() const { return inputs_.size(); }
  const OrchestratorCounters& counters() const { return counters_; }
  // Per policy, the inputs it was given (fixed plans aside), as they were answered.
  const OutcomeStats& stats() const { return stats_; }

 private:
  struct Input;
  // Timers are removed when what they watch ends (an input answered, a reply in), so the
  // master's timer thread wakes only for what is still pending.
  using TimerKey = std::pair<TimeUs, uint64_t>;  // when, and a number to tell equal times apart
  enum class TimerKind : uint8_t { kDeadline, kHedge, kInsurance, kPresumeLost, kForget };
  struct Timer {
    uint64_t key;  // input seq, or request id for kPresumeLost and kForget
    TimerKind kind;
    uint32_t index;
  };
  struct Outstanding {
    uint64_t input = 0;
    uint32_t index = 0;
    uint32_t worker = 0, subnet = 0;
    TimeUs sent = 0;
    double reserved_ms = 0;
    double share = 1;       // of the subnet's work: a segment's
    size_t expected = 0;    // values its result holds
    bool released = false;  // presumed lost: its reservation is back in the latency model
    bool insurance = false;
    size_t bytes = 0;       // request and reply on the wire, about
    TimerKey presume_lost{}, forget{};  // forget is armed once presume_lost has fired
  };
  TimerKey add_timer(TimeUs at, uint64_t key, TimerKind kind, uint32_t index = 0);

  void answer_now(Input& in, Outcome outcome);
  void flush(Input& in);
  void after_event(Input& in);
  void unit_ended(uint64_t request_id, const float* probabilities, size_t count, double queue_ms,
                  double compute_ms = -1, bool replied = false);
  // A reply came from worker w for `id`: the units sent to it before `id` and still unanswered
  // are no longer ahead of anything there (a worker serves a master in order, so each was
  // lost on the way, or is answered and its reply lost or about to come): their reservations
  // go back to the latency model now rather than when they are presumed lost.
  void release_overtaken(uint32_t w, uint64_t id, TimeUs now);
  void finish(Input& in, Outcome fallback);
  void insure(Input& in);
  void hedge(Input& in, uint32_t index);
  int local_worker() const;
  // For a share: whether it may go now (its stage's earlier stages all gathered, the parts as
  // the catalog's partition has them), starting the input's gathering at stage 0.
  bool share_ready(Input& in, const Unit& u);
  // A share's slices (its stage's outputs back to back) placed in the input's gathered tensors.
  bool place_share(Input& in, const Unit& u, const float* slices, size_t count);
  PlanContext context(const Input& in) const;
  // How late this orchestrator's timers have fired (the most over the last 64): what must
  // start by a time to finish by a deadline (insurance, a last-chance hedge) starts that
  // much earlier. On a loaded machine the timer thread wakes milliseconds late.
  double timer_slack_ms() const;
  // How long the master's own insurance runs took to answer, the most over the last 64
  // (insurance_cold_ms until a few have): the insurance starts at least that long before the
  // deadline. When the master's cores are shared its answers are heavy-tailed (0.2 ms, then
  // 15 ms when it is preempted), which the latency model's smoothed mean and deviation miss.
  double local_slowest_ms() const;

  const Clock& clock_;
  UnitSender& sender_;
  std::vector<WorkerRole> roles_;
  uint32_t classes_;
  OrchestratorOptions options_;
  LatencyModel latency_;
  std::shared_ptr<const EnsembleProfile> profile_;
  std::shared_ptr<Allocator> allocator_;
  AllocatorOptions allocator_options_;
  std::shared_ptr<Policy> policy_;
  std::shared_ptr<const SegmentCatalog> segments_;
  std::vector<std::unique_ptr<PartitionExecutor>> spare_gathers_;  // from finished inputs, reused
  Images gather_image_;            // an input's image, as image_to_input takes it
  std::vector<float> gather_input_;
  std::unordered_map<uint64_t, std::unique_ptr<Input>> inputs_;
  std::unordered_map<uint64_t, Outstanding> outstanding_;
  // Per worker: request ids in the order sent, until answered or overtaken.
  std::vector<std::deque<uint64_t>> sent_order_;
  std::map<TimerKey, Timer> timers_;
  uint64_t timers_added_ = 0;
  std::array<double, 64> timer_late_ms_{};
  uint64_t timers_fired_ = 0;
  std::array<double, 64> local_answer_ms_{};
  uint64_t local_answers_ = 0;
  uint64_t next_seq_ = 1;
  OrchestratorCounters counters_;
  OutcomeStats stats_;
};

}  // namespace shoal

#endif  // SHOAL_ORCHESTRATOR_H_
