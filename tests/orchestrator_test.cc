// The collector's rules, deterministic: a FakeClock, a scripted UnitSender playing the
// workers, no sleeps and no sockets. Every test states when each reply arrives and checks
// what the caller is answered, when, and what is counted.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <map>

#include "shoal/engine.h"
#include "shoal/orchestrator.h"
#include "test_models.h"

namespace shoal {
namespace {

constexpr uint32_t kClasses = 4;

struct Sent {
  uint64_t id;
  Unit unit;
  TimeUs at;
  double budget_ms;
  std::vector<float> tensor;  // a segment's input, as sent; a share's slices, as `compute_share` made them
};

class Script final : public UnitSender {
 public:
  explicit Script(const FakeClock& clock) : clock_(clock) {}
  bool send(uint64_t id, const Unit& unit, const std::vector<uint8_t>&, const std::vector<float>* tensor,
            const PartitionExecutor* gathered, double budget_ms) override {
    if (refuse_.count(unit.worker)) return false;
    sent.push_back({id, unit, clock_.now(), budget_ms, tensor ? *tensor : std::vector<float>{}});
    if (unit.share() && compute_share) sent.back().tensor = compute_share(unit, *gathered);
    return true;
  }
  void refuse(uint32_t worker) { refuse_[worker] = true; }
  std::vector<Sent> sent;
  // What a worker would reply to a share: its slices, from the tensors gathered for it.
  std::function<std::vector<float>(const Unit&, const PartitionExecutor&)> compute_share;

 private:
  const FakeClock& clock_;
  std::map<uint32_t, bool> refuse_;
};

// Members 0..n-1 on workers 0..n-1, two subnets each (narrow, wide); a wider subnet and more
// members are more accurate. Optionally a local worker (the master's own engine) last.
std::shared_ptr<EnsembleProfile> profile_for(uint32_t members) {
  std::vector<uint32_t> subnets(members, 2);
  std::vector<std::vector<uint64_t>> macs(members, {1, 4});
  uint64_t total = 1;
  for (uint32_t m = 0; m < members; ++m) total *= 3;
  std::vector<float> acc(total, 0.0f);
  for (uint64_t code = 1; code < total; ++code) {
    uint64_t rest = code;
    float a = 0.5f;
    for (uint32_t m = 0; m < members; ++m, rest /= 3) a += 0.02f * static_cast<float>(rest % 3) + (rest % 3 ? 0.01f : 0);
    acc[code] = std::min(a, 1.0f);
  }
  return std::make_shared<EnsembleProfile>(EnsembleProfile::from_table(subnets, macs, acc).value());
}

std::vector<WorkerRole> roles_for(uint32_t members, bool local) {
  std::vector<WorkerRole> roles;
  for (uint32_t m = 0; m < members; ++m) roles.push_back({static_cast<int>(m), {0, 1}, {1, 4}, false});
  if (local) roles.push_back({-1, {-1, -1}, {1, 4}, true});
  return roles;
}

std::vector<float> one_hot(uint32_t label) {
  std::vector<float> p(kClasses, 0.0f);
  p[label] = 1.0f;
  return p;
}

// The master's own engine taken as warm: insurance_cold_ms has its own test.
OrchestratorOptions warm_engine() {
  OrchestratorOptions o;
  o.insurance_cold_ms = 0;
  return o;
}

struct Harness {
  explicit Harness(uint32_t members, bool local = false, OrchestratorOptions options = warm_engine())
      : script(clock), orch(clock, script, roles_for(members, local), kClasses, zero_margins(), options) {
    // The paper's plan, without the anchor (allocator.h; its own test is there): these tests
    // script which units a plan sends.
    AllocatorOptions paper;
    paper.anchor_share = 0;
    orch.set_profile(profile_for(members), {}, paper);
    // Every worker: 2 ms narrow, 6 ms wide, steady (replies seen many times: no deviation
    // left); the master's own engine 1 ms narrow, seen once (its deviation still half of it).
    for (uint32_t w = 0; w < orch.latency().workers(); ++w) {
      for (int i = 0; i < (w == members ? 1 : 30); ++i) {
        orch.latency().observe(w, 0, w == members ? 1.0 : 2.0);
        orch.latency().observe(w, 1, 6.0);
      }
    }
  }
  static LatencyOptions zero_margins() {  // and no aging: the scripted latencies stay put
    LatencyOptions o;
    o.margin_ms = 0;
    o.margin_fraction = 0;
    o.half_life_ms = 0;
    return o;
  }
  uint64_t submit(double budget_ms, int priority = 0) {
    Submission s;
    s.image.assign(16, 1);
    s.budget_ms = budget_ms;
    s.priority = priority;
    s.done = [this](Prediction&& p) { answers[p.ticket] = std::move(p); };
    return orch.submit(std::move(s));
  }
  // Advances the clock to `at_ms` after start, firing timers on the way, as the master's
  // timer thread would.
  void run_until(double at_ms) {
    const TimeUs until = start + us_from_ms(at_ms);
    while (orch.next_timer() <= until) {
      clock.set(std::max(clock.now(), orch.next_timer()));
      orch.on_timer();
    }
    clock.set(until);
  }
  void reply(const Sent& s, uint32_t label, double queue_ms = 0) {
    const std::vector<float> p = one_hot(label);
    orch.on_result(s.id, p.data(), p.size(), queue_ms);
  }
  const Sent* sent_to(uint32_t worker, size_t nth = 0) const {
    for (const Sent& s : script.sent) {
      if (s.unit.worker == worker && nth-- == 0) return &s;
    }
    return nullptr;
  }
  FakeClock clock;
  TimeUs start = clock.now();
  Script script;
  Orchestrator orch;
  std::map<uint64_t, Prediction> answers;
};

TEST(Orchestrator, AnswersWhenEveryMemberHasReplied) {
  Harness h(3);
  ASSERT_TRUE(h.orch.set_policy("adaensemble", {}).is_ok());
  const uint64_t t = h.submit(10.0);
  ASSERT_EQ(h.script.sent.size(), 3u);  // every member at its wide subnet fits 10 ms
  for (const Sent& s : h.script.sent) EXPECT_EQ(s.unit.subnet, 1u);
  h.run_until(5.0);
  h.reply(h.script.sent[0], 2);
  h.reply(h.script.sent[1], 2);
  EXPECT_FALSE(h.answers.count(t));
  h.run_until(6.0);
  h.reply(h.script.sent[2], 1);
  ASSERT_TRUE(h.answers.count(t));
  const Prediction& p = h.answers[t];
  EXPECT_EQ(p.outcome, Outcome::kAnswered);
  EXPECT_EQ(p.label, 2);  // two votes of three
  EXPECT_EQ(p.used.size(), 3u);
  EXPECT_DOUBLE_EQ(p.latency_ms, 6.0);
  EXPECT_NEAR(p.probabilities[2], 2.0 / 3.0, 1e-6);
}

// A worker's NaN or infinity is a failed unit, never fused: the others' answer stands.
TEST(Orchestrator, ANonFiniteResultIsAFailureAndNeverFused) {
  Harness h(3);
  ASSERT_TRUE(h.orch.set_policy("adaensemble", {}).is_ok());
  const uint64_t t = h.submit(10.0);
  ASSERT_EQ(h.script.sent.size(), 3u);
  h.run_until(5.0);
  std::vector<float> nan = one_hot(1), inf = one_hot(1);
  nan[0] = NAN;
  inf[1] = INFINITY;
  h.orch.on_result(h.script.sent[0].id, nan.data(), nan.size(), 0, 1.0);
  h.orch.on_result(h.script.sent[1].id, inf.data(), inf.size(), 0, 1.0);
  const std::vector<float> good = one_hot(3);
  h.orch.on_result(h.script.sent[2].id, good.data(), good.size(), 0, 1.0);
  ASSERT_TRUE(h.answers.count(t));
  const Prediction& p = h.answers[t];
  EXPECT_EQ(p.outcome, Outcome::kAnswered);
  EXPECT_EQ(p.label, 3);
  EXPECT_EQ(p.used.size(), 1u);
  for (float v : p.probabilities) EXPECT_TRUE(std::isfinite(v));
  EXPECT_EQ(h.orch.counters().failures, 2u);
}

TEST(Orchestrator, LateRepliesAreDroppedCountedAndStillTeachTheLatencyModel) {
  Harness h(3);
  ASSERT_TRUE(h.orch.set_policy("adaensemble", {}).is_ok());
  const uint64_t t = h.submit(10.0);
  h.run_until(4.0);
  h.reply(h.script.sent[0], 3);
  h.run_until(10.0);  // the deadline fires: two members never answered
  ASSERT_TRUE(h.answers.count(t));
  EXPECT_EQ(h.answers[t].outcome, Outcome::kAnswered);
  EXPECT_EQ(h.answers[t].label, 3);
  EXPECT_DOUBLE_EQ(h.answers[t].latency_ms, 10.0);  // exactly at the deadline, not later
  EXPECT_EQ(h.answers[t].dropped.size(), 2u);
  h.run_until(30.0);
  h.reply(h.script.sent[1], 0);
  EXPECT_EQ(h.orch.counters().late_replies, 1u);
  EXPECT_EQ(h.answers.size(), 1u);  // no second answer
  // The late reply took 30 ms: the estimate moved towards it (6 -> 0.8 * 6 + 0.2 * 30).
  EXPECT_NEAR(h.orch.latency().compute_ms(h.script.sent[1].unit.worker, 1), 10.8, 1e-9);
}

// What each worker did, for energy: every request's bytes, and the compute it reports on
// time or late; then energy_used turns that into joules with the devices' power models.
TEST(Orchestrator, CountsEachWorkersComputeAndBytesForEnergy) {
  Harness h(3);
  ASSERT_TRUE(h.orch.set_policy("adaensemble", {}).is_ok());
  h.submit(10.0);
  ASSERT_EQ(h.script.sent.size(), 3u);
  h.run_until(2.0);
  const std::vector<float> p = one_hot(1);
  h.orch.on_result(h.script.sent[0].id, p.data(), p.size(), 0.5, 1.25);
  h.run_until(20.0);
  h.orch.on_result(h.script.sent[1].id, p.data(), p.size(), 0.0, 4.0);  // late: its compute still ran
  const OrchestratorCounters c = h.orch.counters();
  ASSERT_EQ(c.work.size(), 3u);
  uint64_t bytes = 0;
  for (const WorkerWork& w : c.work) bytes += w.bytes;
  EXPECT_EQ(bytes, 3 * (16 + kClasses * sizeof(float) + 160));  // the image, a reply, headers
  EXPECT_DOUBLE_EQ(c.work[h.script.sent[0].unit.worker].compute_ms, 1.25);
  EXPECT_DOUBLE_EQ(c.work[h.script.sent[1].unit.worker].compute_ms, 4.0);
  EXPECT_DOUBLE_EQ(c.work[h.script.sent[2].unit.worker].compute_ms, 0.0);

  // 3 W idle and 7 W busy workers, 20 nJ a byte at each end, a 1 W master, for 2 seconds.
  const std::vector<PowerModel> power(3, PowerModel{3.0, 7.0, 10.0});
  const Energy e = energy_used(power, PowerModel{1.0, 2.0, 10.0}, c.work, 2.0);
  EXPECT_NEAR(e.idle_joules, (3 * 3.0 + 1.0) * 2.0, 1e-12);
  EXPECT_NEAR(e.active_joules, 4.0 * (1.25 + 4.0) / 1000.0 + 20e-9 * static_cast<double>(bytes), 1e-12);
  EXPECT_NEAR(e.total(), e.idle_joules + e.active_joules, 1e-12);
  // The master's own engine (insurance, a split's first part) at the master's power: 1 W above idle.
  std::vector<WorkerWork> with_master = c.work;
  with_master.push_back({3.0, 5000});
  const Energy m = energy_used(power, PowerModel{1.0, 2.0, 10.0}, with_master, 2.0);
  EXPECT_NEAR(m.active_joules - e.active_joules, 1.0 * 3.0 / 1000.0, 1e-12) << "its bytes stay in the process";
}

TEST(Orchestrator, AReplyExactlyAtTheDeadlineCounts) {
  Harness h(1);
  ASSERT_TRUE(h.orch.set_policy("adaensemble", {}).is_ok());
  const uint64_t t = h.submit(8.0);
  h.clock.set(h.start + us_from_ms(8.0));
  h.reply(h.script.sent[0], 1);
  ASSERT_TRUE(h.answers.count(t));
  EXPECT_EQ(h.answers[t].label, 1);
}

TEST(Orchestrator, AFailedMemberIsReplannedOnAnotherWorker) {
  Harness h(3);
  ASSERT_TRUE(h.orch.set_policy("fluid-ht", {}).is_ok());  // one worker per input
  const uint64_t t = h.submit(20.0);
  ASSERT_EQ(h.script.sent.size(), 1u);
  const uint32_t first = h.script.sent[0].unit.worker;
  h.run_until(1.0);
  h.orch.on_failure(h.script.sent[0].id);  // e.g. the worker answered DeadlineExpired
  ASSERT_EQ(h.script.sent.size(), 2u) << "the input was not re-planned";
  EXPECT_NE(h.script.sent[1].unit.worker, first);
  EXPECT_EQ(h.orch.counters().replans, 1u);
  h.run_until(8.0);
  h.reply(h.script.sent[1], 1);
  ASSERT_TRUE(h.answers.count(t));
  EXPECT_EQ(h.answers[t].label, 1);
  EXPECT_EQ(h.answers[t].dropped.size(), 1u);

  // dynamic has one worker only: when it fails there is nothing to re-plan, and the answer
  // says so at once instead of waiting for the deadline.
  ASSERT_TRUE(h.orch.set_policy("dynamic", {}).is_ok());
  const uint64_t u = h.submit(20.0);
  h.run_until(9.0);
  h.orch.on_failure(h.script.sent.back().id);
  ASSERT_TRUE(h.answers.count(u));
  EXPECT_EQ(h.answers[u].outcome, Outcome::kMissed);
  EXPECT_DOUBLE_EQ(h.answers[u].latency_ms, 1.0);
}

TEST(Orchestrator, ADeadWorkersUnitsFailAndTheInputIsReplanned) {
  Harness h(3);
  ASSERT_TRUE(h.orch.set_policy("fluid-ht", {}).is_ok());
  const uint64_t t = h.submit(20.0);
  ASSERT_EQ(h.script.sent.size(), 1u);
  const uint32_t w = h.script.sent[0].unit.worker;
  h.run_until(1.0);
  h.orch.on_worker_down(w);
  ASSERT_EQ(h.script.sent.size(), 2u) << "nothing re-planned after the worker died";
  const Sent again = h.script.sent.back();
  EXPECT_NE(again.unit.worker, w);
  EXPECT_EQ(h.orch.counters().replans, 1u);
  h.run_until(8.0);
  h.reply(again, 2);
  ASSERT_TRUE(h.answers.count(t));
  EXPECT_EQ(h.answers[t].label, 2);
  // Later inputs avoid the dead worker.
  for (int i = 0; i < 5; ++i) h.submit(20.0);
  for (size_t i = 2; i < h.script.sent.size(); ++i) EXPECT_NE(h.script.sent[i].unit.worker, w);
}

TEST(Orchestrator, AStragglerIsHedgedOnAnotherWorker) {
  OrchestratorOptions options;
  options.hedge_factor = 2.0;
  Harness h(2, false, options);
  ASSERT_TRUE(h.orch.set_policy("dynamic", {}).is_ok());
  const uint64_t t = h.submit(30.0);
  ASSERT_EQ(h.script.sent.size(), 1u);
  const Sent first = h.script.sent[0];
  ASSERT_EQ(first.unit.subnet, 1u);  // wide: 6 ms predicted
  h.run_until(11.9);
  EXPECT_EQ(h.script.sent.size(), 1u) << "hedged before twice the prediction";
  h.run_until(12.0);
  ASSERT_EQ(h.script.sent.size(), 2u) << "no hedge after twice the prediction";
  const Sent hedge = h.script.sent[1];
  EXPECT_NE(hedge.unit.worker, first.unit.worker);
  h.run_until(18.0);
  h.reply(hedge, 1);
  ASSERT_TRUE(h.answers.count(t));
  EXPECT_EQ(h.answers[t].hedges, 1u);
  EXPECT_EQ(h.answers[t].used.size(), 1u);
  EXPECT_EQ(h.answers[t].used[0].worker, hedge.unit.worker);
  h.reply(first, 0);  // the straggler, at last
  EXPECT_EQ(h.orch.counters().late_replies, 1u);
}

TEST(Orchestrator, InsuranceRunsLateOnlyWhenNothingHasAnswered) {
  Harness h(2, /*local=*/true);
  ASSERT_TRUE(h.orch.set_policy("adaensemble", {}).is_ok());
  const uint32_t local = 2;
  // Members answer in time: no insurance run at all.
  const uint64_t a = h.submit(20.0);
  h.run_until(7.0);
  for (const Sent& s : h.script.sent) h.reply(s, 1);
  ASSERT_TRUE(h.answers.count(a));
  EXPECT_EQ(h.sent_to(local), nullptr);
  h.run_until(40.0);
  // Members silent: insurance at deadline - the local run's pessimistic prediction (1 ms,
  // plus 4 deviations of 0.5 ms after its one calibration reply) - guard (2 ms).
  const TimeUs at = h.clock.now();
  const uint64_t b = h.submit(20.0);
  h.run_until(40.0 + 14.9);
  EXPECT_EQ(h.sent_to(local), nullptr);
  h.run_until(40.0 + 15.0);
  const Sent* insurance = h.sent_to(local);
  ASSERT_NE(insurance, nullptr);
  EXPECT_EQ(insurance->at, at + us_from_ms(15.0));
  EXPECT_EQ(insurance->unit.subnet, 0u);  // the narrowest
  h.run_until(40.0 + 19.0);
  h.reply(*insurance, 3);
  EXPECT_FALSE(h.answers.count(b)) << "a member may still answer better before the deadline";
  h.run_until(40.0 + 20.0);
  ASSERT_TRUE(h.answers.count(b));
  EXPECT_EQ(h.answers[b].outcome, Outcome::kInsured);
  EXPECT_EQ(h.answers[b].label, 3);
  EXPECT_DOUBLE_EQ(h.answers[b].latency_ms, 20.0);
}

// On a loaded machine the timer thread wakes late; an insurance run that starts on time by
// the clock but late in fact misses the deadline. The orchestrator starts it as much earlier
// as its timers have been firing late.
TEST(Orchestrator, InsuranceStartsAsMuchEarlierAsTimersFireLate) {
  Harness h(2, /*local=*/true);
  ASSERT_TRUE(h.orch.set_policy("adaensemble", {}).is_ok());
  const uint32_t local = 2;
  h.submit(20.0);
  // Every timer of that input fires 3 ms after it is due; the members never answer.
  while (h.orch.next_timer() <= h.start + us_from_ms(40.0)) {
    h.clock.set(h.orch.next_timer() + us_from_ms(3.0));
    h.orch.on_timer();
  }
  ASSERT_NE(h.sent_to(local), nullptr);
  // The next input's insurance is due 3 ms earlier than the first's: at 12 ms, not 15.
  h.clock.set(h.start + us_from_ms(100.0));
  const TimeUs at = h.clock.now();
  h.submit(20.0);
  h.run_until(100.0 + 11.9);
  EXPECT_EQ(h.sent_to(local, 1), nullptr);
  h.run_until(100.0 + 12.0);
  ASSERT_NE(h.sent_to(local, 1), nullptr);
  EXPECT_EQ(h.sent_to(local, 1)->at, at + us_from_ms(12.0));
}

// The master's own engine answers slowly now and then when its cores are shared (preempted,
// woken late), and slowly the first time after a long idle: the insurance starts as early as
// its slowest recent answer took, and before it has answered a few, as early as
// insurance_cold_ms.
TEST(Orchestrator, InsuranceStartsAsEarlyAsTheMastersEngineHasBeenSlow) {
  Harness h(2, /*local=*/true, OrchestratorOptions{});
  ASSERT_TRUE(h.orch.set_policy("adaensemble", {}).is_ok());
  const uint32_t local = 2;
  for (uint32_t i = 0; i < 5; ++i) {
    const double base = 100.0 * i;
    h.clock.set(h.start + us_from_ms(base));
    const uint64_t t = h.submit(20.0);
    // Cold: deadline - 10 ms - guard (2 ms). Then: deadline - the slowest answer (6 ms) - guard.
    const double due = i < 4 ? 8.0 : 12.0;
    h.run_until(base + due - 0.1);
    EXPECT_EQ(h.sent_to(local, i), nullptr) << "input " << i << " insured at " << (h.sent_to(local, i) ? ms_from_us(h.sent_to(local, i)->at - h.start) - base : -1) << " ms";
    h.run_until(base + due);
    ASSERT_NE(h.sent_to(local, i), nullptr) << "input " << i;
    const Sent insurance = *h.sent_to(local, i);  // a copy: hedges may grow the list
    // Answered 6 ms after it was sent, 5 of them queued: the latency model learns 1 ms, as
    // before, and only the slowest answer moves the insurance.
    h.run_until(base + due + 6.0);
    h.reply(insurance, 3, 5.0);
    // The members answer at last, each reporting its wait as queueing (their estimates stay).
    h.run_until(base + 19.0);
    for (const Sent& m : std::vector<Sent>(h.script.sent)) {
      if (m.unit.worker != local && m.at >= h.start + us_from_ms(base)) h.reply(m, 1, 19.0 - ms_from_us(m.at - h.start) + base - 2.0);
    }
    ASSERT_TRUE(h.answers.count(t));
    EXPECT_EQ(h.answers[t].outcome, Outcome::kAnswered);
  }
}

TEST(Orchestrator, ARiskyPlanIsInsuredAtOnce) {
  Harness h(2, /*local=*/true);
  ASSERT_TRUE(h.orch.set_policy("adaensemble", {}).is_ok());
  // 2.2 ms: the narrow subnets (2 ms) fit, but past 80 % of the budget.
  h.submit(2.2);
  ASSERT_NE(h.sent_to(2), nullptr);
  EXPECT_EQ(h.sent_to(2)->at, h.start);
}

TEST(Orchestrator, InsuranceThatWouldStartTooLateStartsAtOnce) {
  Harness h(2, /*local=*/true);
  ASSERT_TRUE(h.orch.set_policy("adaensemble", {}).is_ok());
  // 4.5 ms: the narrow subnets (2 ms) are not risky, but the local run's pessimistic
  // prediction (3 ms) plus the guard (2 ms) is already past the deadline.
  h.submit(4.5);
  ASSERT_NE(h.sent_to(2), nullptr);
  EXPECT_EQ(h.sent_to(2)->at, h.start);
}

// A request or its reply lost (a datagram): once the unit is long overdue it stops counting
// in its worker's backlog, so the worker is not predicted busy for the 10 s until it is
// forgotten.
TEST(Orchestrator, AUnitNeverAnsweredLeavesItsWorkersBacklog) {
  Harness h(1);
  ASSERT_TRUE(h.orch.set_policy("adaensemble", {}).is_ok());
  h.submit(10.0);  // w1.0 (6 ms): never answered
  ASSERT_EQ(h.script.sent.size(), 1u);
  h.run_until(23.9);  // past the deadline, not yet 4 x 6 ms
  h.submit(20.0);
  ASSERT_EQ(h.script.sent.size(), 2u);
  h.run_until(30.0);
  h.reply(h.script.sent[1], 1);
  EXPECT_EQ(h.orch.counters().presumed_lost, 1u);
  EXPECT_DOUBLE_EQ(h.orch.latency().backlog_ms(0, h.clock.now()), 0.0) << "the lost unit still counts";
}

// A worker serves a master's requests in order: when a later request's reply comes, an
// earlier one still unanswered is no longer ahead of anything there (lost on the way, or its
// reply is), so it stops counting in the backlog at once, not only once presumed lost. Its
// reply, if it still comes, is used, and releases nothing twice.
TEST(Orchestrator, AReplyToALaterRequestFreesTheBacklogOfAnEarlierOne) {
  Harness h(1);
  ASSERT_TRUE(h.orch.set_policy("adaensemble", {}).is_ok());
  const uint64_t first = h.submit(100.0);
  h.run_until(1.0);
  const uint64_t second = h.submit(100.0);
  h.run_until(2.0);
  const uint64_t third = h.submit(100.0);
  ASSERT_EQ(h.script.sent.size(), 3u);
  h.run_until(7.0);
  h.reply(h.script.sent[1], 2);
  EXPECT_EQ(h.orch.counters().overtaken, 1u);
  EXPECT_EQ(h.orch.counters().presumed_lost, 0u);
  const double left = h.orch.latency().backlog_ms(0, h.clock.now());
  EXPECT_GT(left, 0.0) << "the third, sent after the reply's request, still waits there";
  h.reply(h.script.sent[2], 3);
  EXPECT_DOUBLE_EQ(h.orch.latency().backlog_ms(0, h.clock.now()), 0.0);
  h.reply(h.script.sent[0], 1);  // late, but before its deadline
  EXPECT_DOUBLE_EQ(h.orch.latency().backlog_ms(0, h.clock.now()), 0.0) << "released twice";
  EXPECT_EQ(h.orch.counters().overtaken, 1u);
  ASSERT_TRUE(h.answers.count(first) && h.answers.count(second) && h.answers.count(third));
  EXPECT_EQ(h.answers[first].label, 1);
  EXPECT_EQ(h.answers[second].label, 2);
}

TEST(Orchestrator, ALoneStragglerIsSentAgainToItsOwnWorker) {
  Harness h(1);
  ASSERT_TRUE(h.orch.set_policy("adaensemble", {}).is_ok());
  const uint64_t t = h.submit(30.0);  // w1.0, 6 ms: hedged at 12 ms, and no other worker
  ASSERT_EQ(h.script.sent.size(), 1u);
  h.run_until(12.0);
  ASSERT_EQ(h.script.sent.size(), 2u) << "a lost datagram was not sent again";
  EXPECT_EQ(h.script.sent[1].unit.worker, 0u);
  h.reply(h.script.sent[1], 3);
  h.run_until(30.0);
  ASSERT_TRUE(h.answers.count(t));
  EXPECT_EQ(h.answers[t].label, 3);
  EXPECT_EQ(h.answers[t].hedges, 1u);
}

// An ensemble whose last member's request was lost (UDP): once the others have answered, the
// straggler is sent again to its own worker at its hedge time, and the input is answered then
// with every member, not at the deadline.
TEST(Orchestrator, AnEnsemblesLostLastMemberIsSentAgainNotWaitedForUntilTheDeadline) {
  Harness h(3);
  ASSERT_TRUE(h.orch.set_policy("adaensemble", {}).is_ok());
  const uint64_t t = h.submit(40.0);
  ASSERT_EQ(h.script.sent.size(), 3u);  // each 6 ms: hedged at 12 ms
  h.run_until(6.0);
  h.reply(h.script.sent[0], 2);
  h.reply(h.script.sent[1], 2);  // the third's request is lost
  h.run_until(12.0);
  ASSERT_EQ(h.script.sent.size(), 4u) << "the lost member was not sent again";
  EXPECT_EQ(h.script.sent[3].unit.worker, h.script.sent[2].unit.worker) << "its own worker: the same member";
  h.run_until(18.0);
  h.reply(h.script.sent[3], 1);
  ASSERT_TRUE(h.answers.count(t));
  EXPECT_DOUBLE_EQ(h.answers[t].latency_ms, 18.0) << "not the 40 ms deadline";
  EXPECT_EQ(h.answers[t].used.size(), 3u);
  EXPECT_EQ(h.answers[t].hedges, 1u);
}

TEST(Orchestrator, AStragglerAnsweringAfterItsHedgeIsNotFusedTwice) {
  Harness h(2);
  ASSERT_TRUE(h.orch.set_policy("adaensemble", {}).is_ok());
  const uint64_t t = h.submit(30.0);
  ASSERT_EQ(h.script.sent.size(), 2u);
  h.run_until(12.0);  // both stragglers hedged, each on its own worker again
  ASSERT_EQ(h.script.sent.size(), 4u);
  const Sent original = h.script.sent[0];
  const Sent* retry = nullptr;
  for (size_t i = 2; i < 4; ++i) {
    if (h.script.sent[i].unit.worker == original.unit.worker) retry = &h.script.sent[i];
  }
  ASSERT_NE(retry, nullptr);
  h.reply(*retry, 1);
  h.reply(original, 1);  // still before the deadline, but its hedge already stood in for it
  h.reply(h.script.sent[1], 2);
  h.run_until(30.0);
  ASSERT_TRUE(h.answers.count(t));
  std::vector<int> members;
  for (const Unit& u : h.answers[t].used) members.push_back(u.member);
  std::sort(members.begin(), members.end());
  EXPECT_EQ(members, (std::vector<int>{0, 1}));
}

TEST(Orchestrator, AMemberResultBeatsTheInsuranceResult) {
  Harness h(1, /*local=*/true);
  ASSERT_TRUE(h.orch.set_policy("adaensemble", {}).is_ok());
  const uint64_t t = h.submit(2.2);  // insured at once
  ASSERT_EQ(h.script.sent.size(), 2u);
  h.run_until(1.0);
  h.reply(*h.sent_to(1), 0);  // insurance first
  EXPECT_FALSE(h.answers.count(t)) << "answered with insurance while a member could still answer";
  h.run_until(2.0);
  h.reply(*h.sent_to(0), 2);
  ASSERT_TRUE(h.answers.count(t));
  EXPECT_EQ(h.answers[t].outcome, Outcome::kAnswered);
  EXPECT_EQ(h.answers[t].label, 2);
}

TEST(Orchestrator, ADeadlineShorterThanAnythingIsSaidAtOnce) {
  Harness h(3, /*local=*/true);
  ASSERT_TRUE(h.orch.set_policy("adaensemble", {}).is_ok());
  const uint64_t t = h.submit(0.5);  // the fastest anything runs is 1 ms
  ASSERT_TRUE(h.answers.count(t));
  EXPECT_EQ(h.answers[t].outcome, Outcome::kDeadlineTooShort);
  EXPECT_EQ(h.answers[t].label, -1);
  EXPECT_TRUE(h.script.sent.empty());
  EXPECT_EQ(h.orch.counters().too_short, 1u);
}

TEST(Orchestrator, EveryWorkerDownIsSaidAtOnce) {
  Harness h(2);
  ASSERT_TRUE(h.orch.set_policy("adaensemble", {}).is_ok());
  h.orch.on_worker_down(0);
  h.orch.on_worker_down(1);
  const uint64_t t = h.submit(10.0);
  ASSERT_TRUE(h.answers.count(t));
  EXPECT_EQ(h.answers[t].outcome, Outcome::kNoWorker);
  h.orch.on_worker_up(1);
  h.submit(10.0);
  ASSERT_EQ(h.script.sent.size(), 1u);
  EXPECT_EQ(h.script.sent[0].unit.worker, 1u);
}

TEST(Orchestrator, LowerPriorityClassesAreNarrowedThenShedUnderOverload) {
  // Both workers hold 6 ms of work and the budget is 20 ms: pressure 0.3. Class p > 0 is
  // narrowed above 0.5 / p and shed above 1.0 / p; class 0 is never touched.
  struct Case {
    int priority;
    bool narrowed, shed;
  };
  for (const Case c : {Case{0, false, false}, Case{1, false, false}, Case{2, true, false}, Case{4, false, true}}) {
    Harness h(2);
    ASSERT_TRUE(h.orch.set_policy("adaensemble", {}).is_ok());
    for (uint32_t w = 0; w < 2; ++w) h.orch.latency().sent(w, 1, h.clock.now());
    const uint64_t t = h.submit(20.0, c.priority);
    if (c.shed) {
      ASSERT_TRUE(h.answers.count(t));
      EXPECT_EQ(h.answers[t].outcome, Outcome::kShed) << "class " << c.priority;
      EXPECT_TRUE(h.script.sent.empty());
      continue;
    }
    if (c.narrowed) {
      ASSERT_EQ(h.script.sent.size(), 1u) << "class " << c.priority;
      EXPECT_EQ(h.script.sent[0].unit.subnet, 0u);
    } else {
      EXPECT_EQ(h.script.sent.size(), 2u) << "class " << c.priority;
    }
    h.run_until(15.0);
    for (const Sent& s : h.script.sent) h.reply(s, 1);
    ASSERT_TRUE(h.answers.count(t));
    EXPECT_EQ(h.answers[t].narrowed, c.narrowed);
    EXPECT_EQ(h.answers[t].outcome, Outcome::kAnswered);
  }
}

TEST(Orchestrator, ManyInputsInFlightEachGetOneAnswer) {
  Harness h(3);
  ASSERT_TRUE(h.orch.set_policy("fluid-ht", {}).is_ok());
  std::vector<uint64_t> tickets;
  for (int i = 0; i < 60; ++i) tickets.push_back(h.submit(1000.0));
  ASSERT_EQ(h.script.sent.size(), 60u);
  std::map<uint32_t, int> per_worker;
  for (const Sent& s : h.script.sent) ++per_worker[s.unit.worker];
  for (uint32_t w = 0; w < 3; ++w) EXPECT_EQ(per_worker[w], 20) << "fluid-ht should spread the load";
  h.run_until(100.0);  // stragglers get hedged on the way; each reply names its input
  for (size_t i = h.script.sent.size(); i-- > 0;) {
    h.reply(h.script.sent[i], static_cast<uint32_t>((h.script.sent[i].id >> 8) % kClasses));
  }
  ASSERT_EQ(h.answers.size(), 60u);
  for (size_t i = 0; i < 60; ++i) EXPECT_EQ(h.answers[tickets[i]].label, static_cast<int>(tickets[i] % kClasses));
  EXPECT_EQ(h.orch.in_flight(), 0u);
}

TEST(Orchestrator, TooManyInFlightIsBusy) {
  OrchestratorOptions options;
  options.max_in_flight = 2;
  Harness h(1, false, options);
  ASSERT_TRUE(h.orch.set_policy("adaensemble", {}).is_ok());
  h.submit(100), h.submit(100);
  const uint64_t third = h.submit(100);
  ASSERT_TRUE(h.answers.count(third));
  EXPECT_EQ(h.answers[third].outcome, Outcome::kBusy);
}

TEST(Orchestrator, CascadeEscalatesOnlyWhenUnsure) {
  Harness h(3);
  PolicyParams params;
  params.alpha = 0.8;
  ASSERT_TRUE(h.orch.set_policy("cascade", params).is_ok());
  const uint64_t sure = h.submit(30.0);
  ASSERT_EQ(h.script.sent.size(), 1u);
  EXPECT_EQ(h.script.sent[0].unit.subnet, 0u);  // narrowest first
  h.run_until(2.0);
  h.reply(h.script.sent[0], 1);  // one-hot: confidence 1
  ASSERT_TRUE(h.answers.count(sure));
  EXPECT_EQ(h.answers[sure].used.size(), 1u);

  const uint64_t unsure = h.submit(30.0);
  ASSERT_EQ(h.script.sent.size(), 2u);
  h.run_until(4.0);
  const std::vector<float> flat = {0.4f, 0.3f, 0.2f, 0.1f};
  h.orch.on_result(h.script.sent[1].id, flat.data(), flat.size(), 0);
  ASSERT_GT(h.script.sent.size(), 2u) << "an unsure first stage did not escalate";
  for (size_t i = 2; i < h.script.sent.size(); ++i) EXPECT_EQ(h.script.sent[i].unit.stage, kFirstStage + 1);
  h.run_until(10.0);
  for (size_t i = 2; i < h.script.sent.size(); ++i) h.reply(h.script.sent[i], 3);
  ASSERT_TRUE(h.answers.count(unsure));
  EXPECT_EQ(h.answers[unsure].label, 3);  // the wider stage replaces the first guess
  for (const Unit& u : h.answers[unsure].used) EXPECT_EQ(u.stage, kFirstStage + 1);
}

TEST(Orchestrator, AdaptiveTradesEnsemblesForThroughputUnderLoad) {
  Harness h(3);
  std::deque<Sent> pending;
  ASSERT_TRUE(h.orch.set_policy("adaptive", {}).is_ok());
  const uint64_t alone = h.submit(50.0);
  EXPECT_EQ(h.script.sent.size(), 3u);  // alone in the cluster: the whole ensemble
  h.run_until(7.0);
  for (const Sent& s : h.script.sent) h.reply(s, 0);
  ASSERT_TRUE(h.answers.count(alone));
  EXPECT_STREQ(h.answers[alone].mode, "ensemble");
  // 200 inputs per second for 3 s (the rate estimate needs about 1 s to catch up), every one answered 5 ms after it was sent, so inputs
  // overlap; 18 ms of work each as an ensemble over 3 workers would be utilisation 1.0 > 0.7.
  std::vector<uint64_t> burst;
  for (int i = 0; i < 600; ++i) {
    h.run_until(7.0 + 5.0 * (i + 1));
    const size_t before = h.script.sent.size();
    burst.push_back(h.submit(50.0));
    while (!pending.empty()) {  // the previous input's units answer just after this one arrived
      h.reply(pending.front(), 0);
      pending.pop_front();
    }
    for (size_t k = before; k < h.script.sent.size(); ++k) pending.push_back(h.script.sent[k]);
  }
  size_t throughput = 0;
  for (size_t i = 490; i < 590; ++i) throughput += std::string(h.answers[burst[i]].mode) == "throughput";
  EXPECT_GT(throughput, 90u) << "of the last 100 inputs of the burst";
}

TEST(Orchestrator, RepliesNobodyAskedForAreCountedAndIgnored) {
  Harness h(1);
  ASSERT_TRUE(h.orch.set_policy("adaensemble", {}).is_ok());
  const std::vector<float> p = one_hot(0);
  h.orch.on_result(12345, p.data(), p.size(), 0);
  EXPECT_EQ(h.orch.counters().unknown_replies, 1u);
  const uint64_t t = h.submit(10.0);
  const std::vector<float> wrong(kClasses + 3, 0.1f);  // a reply with the wrong class count
  h.orch.on_result(h.script.sent[0].id, wrong.data(), wrong.size(), 0);
  ASSERT_TRUE(h.answers.count(t));
  EXPECT_NE(h.answers[t].outcome, Outcome::kAnswered);
  EXPECT_EQ(h.orch.counters().failures, 1u);
}

TEST(Orchestrator, ForgottenRequestsReleaseTheirWorker) {
  OrchestratorOptions options;
  options.forget_after_ms = 100;
  Harness h(1, false, options);
  ASSERT_TRUE(h.orch.set_policy("adaensemble", {}).is_ok());
  h.submit(10.0);
  EXPECT_EQ(h.orch.latency().in_flight(0), 1u);
  h.run_until(100.0);
  EXPECT_EQ(h.orch.latency().in_flight(0), 0u) << "a request nobody answers must not hold its worker forever";
}

// The master's model as the segment policies see it, for Harness(1, true): worker 0 and the
// master's engine (worker 1) hold it; two cuts, at a quarter and at half of each subnet.
std::shared_ptr<SegmentCatalog> two_cut_catalog() {
  auto c = std::make_shared<SegmentCatalog>();
  c->workers = {1, 0};
  c->local = 1;
  c->macs = {100, 400};
  c->points = {{{1, 0, 25, 75, 10}, {2, 1, 50, 50, 5}}, {{1, 0, 100, 300, 40}, {2, 1, 200, 200, 20}}};
  c->image_bytes = 4096;
  return c;
}

// The master's engine slow at the wide subnet (12 ms); worker 0's 6 ms round trip mostly its
// link (0.5 ms, then 1 ms per KiB: 4.5 ms for the image), so its engine takes 1.5 ms.
void slow_here_slow_link(Harness& h) {
  for (int i = 0; i < 100; ++i) h.orch.latency().observe(1, 1, 12.0);
  h.orch.latency().observe_link_rtt(0, 0.5);
  h.orch.latency().observe_transfer(0, 4.5, 4096);
  h.orch.set_segments(two_cut_catalog());
}

TEST(Orchestrator, SplitRunsThisDevicesPartThenTheRestOnAWorkerWithItsTensor) {
  Harness h(1, true);
  slow_here_slow_link(h);
  ASSERT_TRUE(h.orch.set_policy("split", {}).is_ok());
  // Everything here: 12 ms; the image to the worker: 6 ms; a quarter here and the rest there
  // with 160 bytes: 3 + 1.125 + 0.5 + 0.16 = 4.8 ms; half here: 6 + 1.33 = 7.3 ms.
  const uint64_t t = h.submit(10.0);
  ASSERT_EQ(h.script.sent.size(), 1u) << "no insurance while the master's engine runs this input's own part";
  const Unit front = h.script.sent[0].unit;
  EXPECT_EQ(front.worker, 1u);
  EXPECT_EQ(front.subnet, 1u);
  EXPECT_EQ(front.from, 0u);
  EXPECT_EQ(front.to, 1u);
  EXPECT_EQ(h.orch.expected_values(h.script.sent[0].id), 40u);
  h.run_until(3.0);
  std::vector<float> cut(40);
  for (size_t i = 0; i < cut.size(); ++i) cut[i] = 0.5f * static_cast<float>(i);
  h.orch.on_result(h.script.sent[0].id, cut.data(), cut.size(), 0, 3.0);
  EXPECT_FALSE(h.answers.count(t)) << "a segment's tensor is not an answer";
  // The rest, and the insurance (due at 2 ms, while the master's engine ran the first part).
  ASSERT_EQ(h.script.sent.size(), 3u);
  EXPECT_EQ(h.script.sent[2].unit.stage, kInsuranceStage);
  const Sent& rest = h.script.sent[1];
  EXPECT_EQ(rest.unit.worker, 0u);
  EXPECT_EQ(rest.unit.from, 1u);
  EXPECT_EQ(rest.unit.to, 0u);
  EXPECT_EQ(rest.unit.feed, 0);
  EXPECT_EQ(rest.tensor, cut) << "the rest starts from the tensor the first part stopped at";
  h.run_until(5.0);
  h.reply(rest, 3);
  ASSERT_TRUE(h.answers.count(t));
  EXPECT_EQ(h.answers[t].outcome, Outcome::kAnswered);
  EXPECT_EQ(h.answers[t].label, 3);
  EXPECT_EQ(h.answers[t].used.size(), 2u);
}

TEST(Orchestrator, SplitMovesTheCutWhenTheWorkersLoadChanges) {
  Harness h(1, true);
  slow_here_slow_link(h);
  ASSERT_TRUE(h.orch.set_policy("split", {}).is_ok());
  auto first_unit = [&](double budget_ms) {
    const size_t before = h.script.sent.size();
    const uint64_t t = h.submit(budget_ms);
    const Unit u = h.script.sent.at(before).unit;
    h.orch.on_worker_down(0);  // ends the input quickly; the model keeps its estimates
    h.orch.on_worker_down(1);
    h.orch.on_worker_up(0);
    h.orch.on_worker_up(1);
    h.run_until(ms_from_us(h.clock.now() - h.start) + 30);
    EXPECT_TRUE(h.answers.count(t));
    return u;
  };
  EXPECT_EQ(first_unit(20).to, 1u);
  // The worker's heartbeat: loaded 8 times over. Its share would take ~33 ms; everything here 12.
  h.orch.latency().report(0, {8.0, 0}, h.clock.now());
  const Unit loaded = first_unit(20);
  EXPECT_EQ(loaded.worker, 1u);
  EXPECT_FALSE(loaded.segment()) << "a loaded worker: everything on this device";
  h.orch.latency().report(0, {1.0, 0}, h.clock.now());
  EXPECT_EQ(first_unit(20).to, 1u) << "the load gone, the cut comes back";
}

TEST(Orchestrator, SplitReplansWhenAPartFails) {
  Harness h(1, true);
  slow_here_slow_link(h);
  ASSERT_TRUE(h.orch.set_policy("split", {}).is_ok());
  const uint64_t t = h.submit(10.0);
  const std::vector<float> wrong(39, 1.0f);  // a tensor of the wrong size fails the part
  h.orch.on_result(h.script.sent[0].id, wrong.data(), wrong.size(), 0, 3.0);
  ASSERT_EQ(h.script.sent.size(), 2u);
  EXPECT_EQ(h.script.sent[1].unit.worker, 0u);
  EXPECT_FALSE(h.script.sent[1].unit.segment()) << "this device failed: the whole network on the worker";
  h.run_until(7.0);
  h.reply(h.script.sent[1], 2);
  ASSERT_TRUE(h.answers.count(t));
  EXPECT_EQ(h.answers[t].label, 2);
}

TEST(Orchestrator, DisnetCutsBlocksBySpeedAndChainsThem) {
  Harness h(1, true);
  slow_here_slow_link(h);
  // Speeds 1/12 (here) and 1/6 (worker): a third of the work here, nearest at the first cut.
  ASSERT_TRUE(h.orch.set_policy("disnet", {}).is_ok());
  const uint64_t t = h.submit(20.0);
  ASSERT_EQ(h.script.sent.size(), 1u);
  EXPECT_EQ(h.script.sent[0].unit.worker, 1u);
  EXPECT_EQ(h.script.sent[0].unit.subnet, 1u) << "DISNET runs the widest subnet";
  EXPECT_EQ(h.script.sent[0].unit.to, 1u);
  const std::vector<float> cut(40, 0.25f);
  h.orch.on_result(h.script.sent[0].id, cut.data(), cut.size(), 0, 3.0);
  ASSERT_EQ(h.script.sent.size(), 2u);
  EXPECT_EQ(h.script.sent[1].unit.worker, 0u);
  EXPECT_EQ(h.script.sent[1].unit.from, 1u);
  EXPECT_EQ(h.script.sent[1].tensor, cut);
  h.reply(h.script.sent[1], 1);
  ASSERT_TRUE(h.answers.count(t));
  EXPECT_EQ(h.answers[t].label, 1);
}

TEST(Orchestrator, InsuranceWaitsForTheMastersOwnPartThenRuns) {
  Harness h(1, true);
  slow_here_slow_link(h);
  ASSERT_TRUE(h.orch.set_policy("disnet", {}).is_ok());
  const uint64_t t = h.submit(6.0);  // the chain needs ~7.5 ms: risky, insured as soon as it can be
  ASSERT_EQ(h.script.sent.size(), 1u) << "not queued behind this input's own block";
  h.run_until(3.0);
  const std::vector<float> cut(40, 0.25f);
  h.orch.on_result(h.script.sent[0].id, cut.data(), cut.size(), 0, 3.0);
  ASSERT_EQ(h.script.sent.size(), 3u);
  EXPECT_EQ(h.script.sent[1].unit.worker, 0u);  // the next block
  EXPECT_EQ(h.script.sent[2].unit.worker, 1u);  // the insurance, the master's engine free again
  EXPECT_EQ(h.script.sent[2].unit.stage, kInsuranceStage);
  h.run_until(4.0);
  h.reply(h.script.sent[2], 2);
  h.run_until(6.0);  // the worker's block never comes back in time
  ASSERT_TRUE(h.answers.count(t));
  EXPECT_EQ(h.answers[t].outcome, Outcome::kInsured);
  EXPECT_EQ(h.answers[t].label, 2);
}

TEST(Orchestrator, SegmentPoliciesNeedWorkersSharingTheMastersModel) {
  Harness h(1, true);
  const Status st = h.orch.set_policy("disnet", {});
  EXPECT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("--local-model"), std::string::npos) << st.message();
}

// fluid-ha over a real model: worker 0 and the master's own engine (worker 1) each compute
// half of every layer's channels; the orchestrator gathers each stage's slices, sends the
// next stage, and the last (the classifier, on the master's engine) gives w1.0's answer on one
// device. A part that fails ends the partition: nothing more of it is sent.
TEST(Orchestrator, FluidHighAccuracyGathersEachStageIntoTheWholeNetworksAnswer) {
  const auto& bytes = testing::synth_bytes("fluid-cnn");
  const Model model = std::move(Model::from_bytes(bytes.data(), bytes.size()).value());
  auto engine = std::move(Engine::create(model).value());
  const uint32_t n = model.fb().subnets()->size();
  std::vector<WorkerRole> roles(2);
  for (uint32_t s = 0; s < n; ++s) {
    for (WorkerRole& r : roles) r.profile_subnet.push_back(static_cast<int>(s)), r.macs.push_back(model.cost(s).macs);
  }
  roles[0].member = 0;
  roles[1].member = -1, roles[1].local = true;
  std::fill(roles[1].profile_subnet.begin(), roles[1].profile_subnet.end(), -1);
  FakeClock clock;
  Script script(clock);
  Orchestrator orch(clock, script, roles, 10, Harness::zero_margins(), warm_engine());
  std::vector<float> accuracy(n + 1, 0.5f);
  orch.set_profile(std::make_shared<EnsembleProfile>(EnsembleProfile::from_table({n}, {roles[0].macs}, accuracy).value()));
  for (uint32_t w = 0; w < 2; ++w) {
    for (uint32_t s = 0; s < n; ++s) orch.latency().observe(w, s, 1.0);
  }
  auto catalog = std::make_shared<SegmentCatalog>(segment_catalog(model, {1, 0}, 1));
  auto partition = partition_setup(model, {1, 0});
  ASSERT_TRUE(partition.is_ok()) << partition.status().to_string();
  catalog->partition = partition.value();
  const ChannelPartition& plan = catalog->partition->plan;
  ASSERT_GE(plan.stages.size(), 2u);
  orch.set_segments(catalog);
  ASSERT_TRUE(orch.set_policy("fluid-ha", {}).is_ok());
  script.compute_share = [&](const Unit& u, const PartitionExecutor& gathered) {
    const PartitionStage& st = plan.stages[static_cast<size_t>(u.share_stage)];
    std::vector<TensorIn> in;
    for (uint32_t t : st.inputs) in.push_back({t, gathered.whole(t).data(), gathered.whole(t).size()});
    std::vector<float> slices;
    for (size_t i = 0; i < st.outputs.size(); ++i) slices.resize(slices.size() + gathered.slice_size(u.share_stage, u.part, i));
    std::vector<TensorOut> out;
    float* next = slices.data();
    for (size_t i = 0; i < st.outputs.size(); ++i) {
      out.push_back({st.outputs[i], next, gathered.slice_size(u.share_stage, u.part, i)});
      next += out.back().count;
    }
    EXPECT_TRUE(engine->run_nodes(plan.subnet, st.first_node, st.end_node, st.ranges[u.part].data(), in.data(), in.size(),
                                  out.data(), out.size()).is_ok());
    return slices;
  };
  std::map<uint64_t, Prediction> answers;
  auto submit = [&](uint8_t seed) {
    Submission s;
    s.image.resize(28 * 28);
    for (size_t i = 0; i < s.image.size(); ++i) s.image[i] = static_cast<uint8_t>(i * seed);
    s.budget_ms = 100;
    s.done = [&](Prediction&& p) { answers[p.ticket] = std::move(p); };
    return std::make_pair(orch.submit(s), s.image);
  };
  const auto [t, image] = submit(7);
  size_t replied = 0;
  while (!answers.count(t) && replied < script.sent.size()) {
    const Sent s = script.sent[replied++];
    ASSERT_TRUE(s.unit.share()) << "only shares: " << s.unit.worker;
    EXPECT_EQ(s.unit.worker, catalog->partition->workers[s.unit.part]);
    orch.on_result(s.id, s.tensor.data(), s.tensor.size(), 0, 0.5);
  }
  ASSERT_TRUE(answers.count(t));
  size_t parts = 0;
  for (const PartitionStage& st : plan.stages) parts += st.ranges.size();
  EXPECT_EQ(script.sent.size(), parts) << "every part of every stage, once";
  const Prediction& p = answers[t];
  EXPECT_EQ(p.outcome, Outcome::kAnswered);
  EXPECT_STREQ(p.mode, "high accuracy");
  Images one;
  one.count = 1, one.h = 28, one.w = 28, one.c = 1, one.pixels = image;
  std::vector<float> x, want(10);
  ASSERT_TRUE(image_to_input(one, 0, model, Fit::kExact, &x).is_ok());
  ASSERT_TRUE(engine->run(plan.subnet, x.data(), x.size(), want.data(), want.size()).is_ok());
  ASSERT_EQ(p.probabilities.size(), want.size());
  for (size_t k = 0; k < want.size(); ++k) EXPECT_NEAR(p.probabilities[k], want[k], 1e-5f) << k;

  // The worker's part of the first stage fails: no second stage goes out.
  const size_t before = script.sent.size();
  const uint64_t t2 = submit(3).first;
  ASSERT_EQ(script.sent.size(), before + plan.stages[0].ranges.size());
  for (size_t k = before; k < script.sent.size(); ++k) {
    const Sent s = script.sent[k];
    if (s.unit.worker == 0) orch.on_failure(s.id);
    else orch.on_result(s.id, s.tensor.data(), s.tensor.size(), 0, 0.5);
  }
  for (size_t k = before; k < script.sent.size(); ++k) EXPECT_NE(script.sent[k].unit.share_stage, 1) << k;
  EXPECT_FALSE(answers.count(t2) && answers[t2].outcome == Outcome::kAnswered);
}

}  // namespace
}  // namespace shoal
