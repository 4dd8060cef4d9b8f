#include "shoal/orchestrator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

namespace shoal {

namespace {
constexpr uint32_t kMaxUnits = 255;  // per input: the request id holds the index in 8 bits
constexpr size_t kMaxSentOrder = 4096;  // per worker: request ids kept in the order sent
uint64_t request_id(uint64_t input, uint32_t index) { return input << 8 | index; }
}  // namespace

struct Orchestrator::Input {
  uint64_t seq = 0;
  InputState state;
  std::vector<uint8_t> image;
  std::shared_ptr<Policy> policy;        // null for fixed plans
  bool fixed = false;                    // a fixed plan (calibration): not in the stats
  int truth = -1;                        // its true class, where the submitter knows it
  std::shared_ptr<Allocator> allocator;  // the one the input started with
  bool keep_members = false, narrowed = false, insured = false;
  bool insure_when_free = false;  // insurance was due while the master's engine ran this input's part
  TimeUs insurance_at = kNever;
  std::vector<std::pair<TimeUs, uint64_t>> timers;  // its deadline, insurance and hedge timers
  uint32_t hedges = 0;
  double plan_us = 0;
  std::function<void(Prediction&&)> done;
  std::unique_ptr<PartitionExecutor> gather;  // its shares' tensors, whole (fluid-ha)
};

Orchestrator::Orchestrator(const Clock& clock, UnitSender& sender, std::vector<WorkerRole> roles, uint32_t classes,
                           LatencyOptions latency, OrchestratorOptions options)
    : clock_(clock),
      sender_(sender),
      roles_(std::move(roles)),
      classes_(classes),
      options_(options),
      latency_(
          [&] {
            std::vector<uint32_t> subnets;
            for (const WorkerRole& r : roles_) subnets.push_back(static_cast<uint32_t>(r.macs.size()));
            return subnets;
          }(),
          latency) {
  counters_.work.resize(roles_.size());
}

Orchestrator::~Orchestrator() = default;

void Orchestrator::set_profile(std::shared_ptr<const EnsembleProfile> profile, std::vector<WorkerRole> roles,
                               AllocatorOptions options) {
  profile_ = std::move(profile);
  allocator_options_ = options;
  set_roles(roles.size() == roles_.size() ? std::move(roles) : roles_);
}

void Orchestrator::set_roles(std::vector<WorkerRole> roles) {
  if (roles.size() != roles_.size()) return;
  for (uint32_t w = 0; w < roles.size(); ++w) {
    if (roles[w].macs.size() != roles_[w].macs.size()) latency_.set_subnets(w, static_cast<uint32_t>(roles[w].macs.size()));
  }
  roles_ = std::move(roles);
  if (profile_) allocator_ = std::make_shared<Allocator>(profile_, roles_, allocator_options_);
}

Status Orchestrator::set_policy(const std::string& name, const PolicyParams& params) {
  if (!allocator_) return Status(StatusCode::kInvalidArgument, "calibrate (or load a profile) before choosing a policy");
  auto policy = make_policy(name, {*allocator_, latency_, clock_.now(), params, segments_.get()});
  if (!policy.is_ok()) return policy.status();
  policy_ = std::move(policy.value());
  return Status::ok();
}

bool Orchestrator::share_ready(Input& in, const Unit& u) {
  const PartitionSetup* p = segments_ ? segments_->partition.get() : nullptr;
  if (!p || u.subnet != p->plan.subnet || static_cast<size_t>(u.share_stage) >= p->plan.stages.size()) return false;
  const size_t stage = static_cast<size_t>(u.share_stage);
  if (u.part >= p->plan.stages[stage].ranges.size() || u.worker != p->workers[u.part] ||
      u.share_last != (stage + 1 == p->plan.stages.size())) {
    return false;
  }
  for (size_t k = 0; k < stage; ++k) {  // every part of every earlier stage gathered
    size_t done = 0;
    for (const InputState::Sent& s : in.state.units_) {
      done += s.state == UnitState::kDone && s.unit.share() && static_cast<size_t>(s.unit.share_stage) == k;
    }
    if (done != p->plan.stages[k].ranges.size()) return false;
  }
  if (in.gather) return true;
  if (stage != 0) return false;
  if (!spare_gathers_.empty()) {
    in.gather = std::move(spare_gathers_.back());
    spare_gathers_.pop_back();
  } else {
    in.gather = std::make_unique<PartitionExecutor>(*p->model, p->plan);
  }
  const TensorShape shape = p->model->shape(p->model->fb().input());
  gather_image_.count = 1, gather_image_.h = shape.h, gather_image_.w = shape.w, gather_image_.c = shape.c;
  gather_image_.pixels = in.image;
  return image_to_input(gather_image_, 0, *p->model, Fit::kExact, &gather_input_).is_ok() &&
         in.gather->begin(gather_input_.data(), gather_input_.size()).is_ok();
}

bool Orchestrator::place_share(Input& in, const Unit& u, const float* slices, size_t count) {
  if (!in.gather) return false;
  const size_t stage = static_cast<size_t>(u.share_stage);
  const size_t outputs = in.gather->plan().stages[stage].outputs.size();
  size_t at = 0;
  for (size_t i = 0; i < outputs; ++i) {
    const size_t n = in.gather->slice_size(stage, u.part, i);
    if (at + n > count || !in.gather->place(stage, u.part, i, slices + at, n).is_ok()) return false;
    at += n;
  }
  return at == count;
}

int Orchestrator::local_worker() const {
  for (uint32_t w = 0; w < roles_.size(); ++w) {
    if (roles_[w].local && latency_.alive(w)) return static_cast<int>(w);
  }
  return -1;
}

PlanContext Orchestrator::context(const Input& in) const {
  const size_t others = inputs_.size() - (inputs_.count(in.seq) ? 1 : 0);
  return {latency_, *in.allocator, clock_.now(), others, segments_.get()};
}

uint64_t Orchestrator::submit(Submission s) {
  const TimeUs now = clock_.now();
  latency_.arrival(now);
  latency_.age(now);
  ++counters_.submitted;
  auto owned = std::make_unique<Input>();
  Input& in = *owned;
  in.seq = next_seq_++;
  in.state.submitted_ = now;
  in.state.deadline_ = now + us_from_ms(std::max(0.0, s.budget_ms));
  in.state.priority_ = s.priority;
  in.state.classes_ = classes_;
  in.state.tried_.assign(roles_.size(), false);
  in.image = std::move(s.image);
  in.keep_members = s.keep_members;
  in.fixed = !s.fixed.empty();
  in.truth = s.truth;
  in.done = std::move(s.done);
  in.allocator = allocator_;
  const uint64_t seq = in.seq;
  if (inputs_.size() >= options_.max_in_flight) {
    answer_now(in, Outcome::kBusy);
    return seq;
  }
  if (!s.fixed.empty()) {
    for (const Unit& u : s.fixed) {
      if (u.worker < roles_.size() && u.subnet < roles_[u.worker].macs.size()) in.state.send(u);
    }
  } else {
    if (!policy_ || !in.allocator) {
      answer_now(in, Outcome::kNoWorker);
      return seq;
    }
    in.policy = policy_;
    // Shorter than anything could answer even with every queue empty: say so at once.
    double soonest = std::numeric_limits<double>::infinity();
    bool any_alive = false;
    for (uint32_t w = 0; w < roles_.size(); ++w) {
      if (!latency_.alive(w)) continue;
      any_alive = true;
      for (uint32_t k = 0; k < latency_.subnets(w); ++k) soonest = std::min(soonest, latency_.compute_ms(w, k));
    }
    if (!any_alive) {
      answer_now(in, Outcome::kNoWorker);
      return seq;
    }
    if (!std::isinf(soonest) && s.budget_ms < soonest) {
      answer_now(in, Outcome::kDeadlineTooShort);
      return seq;
    }
    // Overload: the shortest queue against the budget decides for the lower classes.
    if (s.priority > 0) {
      double shortest = std::numeric_limits<double>::infinity();
      Plan narrow;
      for (uint32_t w = 0; w < roles_.size(); ++w) {
        if (!roles_[w].planned() || !latency_.alive(w)) continue;
        shortest = std::min(shortest, latency_.backlog_ms(w, now));
        const uint32_t k = in.allocator->narrowest(w);
        if (narrow.empty() || latency_.predict_ms(w, k, now) < latency_.predict_ms(narrow[0].worker, narrow[0].subnet, now)) {
          narrow = {{w, k, kFirstStage, roles_[w].member}};
        }
      }
      const double pressure = shortest / std::max(1e-3, s.budget_ms);
      if (pressure > options_.shed_pressure / s.priority) {
        answer_now(in, Outcome::kShed);
        return seq;
      }
      if (pressure > options_.narrow_pressure / s.priority && !narrow.empty()) {
        in.narrowed = true;
        ++counters_.narrowed;
        in.state.send(narrow[0]);
      }
    }
    if (!in.narrowed) {
      const auto t0 = std::chrono::steady_clock::now();
      in.policy->start(context(in), in.state);
      in.plan_us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
    }
  }
  inputs_.emplace(seq, std::move(owned));
  flush(in);
  in.timers.push_back(add_timer(in.state.deadline_, seq, TimerKind::kDeadline));
  // Insurance: at once when the plan is empty or every unit is predicted too close to the
  // deadline; otherwise late enough that the members have usually answered by then.
  const int local = s.fixed.empty() ? local_worker() : -1;
  if (local >= 0) {
    const uint32_t lw = static_cast<uint32_t>(local);
    const double local_ms = std::max(latency_.pessimistic_ms(lw, in.allocator->narrowest(lw), now), local_slowest_ms());
    double best = std::numeric_limits<double>::infinity();
    for (const auto& u : in.state.units_) {
      if (u.state != UnitState::kPending) continue;
      const Unit& k = u.unit;  // a segment: its own part (the rest is not planned yet)
      best = std::min(best, k.segment() ? segments_->share(k.subnet, k.from, k.to) * latency_.compute_ms(k.worker, k.subnet)
                                        : latency_.compute_ms(k.worker, k.subnet));
    }
    in.insurance_at = in.state.deadline_ - us_from_ms(local_ms + options_.insurance_guard_ms + timer_slack_ms());
    if (std::isinf(best) || best > options_.risky_fraction * s.budget_ms || in.insurance_at <= now) {
      insure(in);
    } else {
      in.timers.push_back(add_timer(in.insurance_at, seq, TimerKind::kInsurance));
    }
  }
  if (inputs_.count(seq)) after_event(in);
  return seq;
}

Orchestrator::TimerKey Orchestrator::add_timer(TimeUs at, uint64_t key, TimerKind kind, uint32_t index) {
  const TimerKey k{at, ++timers_added_};
  timers_.emplace(k, Timer{key, kind, index});
  return k;
}

void Orchestrator::answer_now(Input& in, Outcome outcome) {
  // An input that never entered the map (refused at submit).
  Prediction p;
  p.ticket = in.seq;
  p.outcome = outcome;
  p.priority = in.state.priority_;
  p.policy = policy_ ? policy_->name() : "";
  switch (outcome) {
    case Outcome::kDeadlineTooShort: ++counters_.too_short; break;
    case Outcome::kShed: ++counters_.shed; break;
    case Outcome::kNoWorker: ++counters_.no_worker; break;
    case Outcome::kBusy: ++counters_.busy; break;
    default: break;
  }
  if (!in.fixed) stats_.record(p.policy, outcome, -1, in.truth, 0, 0, clock_.now());
  if (in.done) in.done(std::move(p));
}

void Orchestrator::flush(Input& in) {
  const TimeUs now = clock_.now();
  for (const Unit& queued : in.state.outbox_) {
    if (in.state.units_.size() >= kMaxUnits) break;
    Unit u = queued;
    u.member = roles_[u.worker].member;
    const uint32_t index = static_cast<uint32_t>(in.state.units_.size());
    in.state.units_.push_back({u, UnitState::kPending, now, {}});
    in.state.tried_[u.worker] = true;
    // A segment must be one the catalog knows, on a worker holding the model, fed (when it
    // starts at a cut) by an earlier unit of this input that stopped at that cut.
    const SegmentCatalog* cat = segments_.get();
    const std::vector<float>* tensor = nullptr;
    bool valid = !u.segment() || (cat && cat->holds(u.worker) && u.subnet < cat->subnets() && u.from <= cat->cuts() &&
                                  u.to <= cat->cuts() && (u.to == 0 || u.to > u.from));
    if (valid && u.from != 0) {
      const auto feed = static_cast<size_t>(u.feed);
      valid = u.feed >= 0 && feed < index && in.state.units_[feed].state == UnitState::kDone &&
              in.state.units_[feed].unit.to == u.from && in.state.units_[feed].unit.subnet == u.subnet;
      if (valid) tensor = &in.state.units_[feed].output;
    }
    const PartitionSetup* partition = cat ? cat->partition.get() : nullptr;
    if (valid && u.share()) valid = !u.segment() && share_ready(in, u);
    if (!valid || !latency_.alive(u.worker)) {
      in.state.units_.back().state = UnitState::kFailed;
      ++counters_.failures;
      continue;
    }
    const size_t stage = u.share() ? static_cast<size_t>(u.share_stage) : 0;
    const double share = u.segment() ? cat->share(u.subnet, u.from, u.to)
                         : u.share() ? partition->shares[stage][u.part]
                                     : 1.0;
    const double predicted = u.segment() ? predict_segment_ms(latency_, *cat, u.worker, u.subnet, u.from, u.to, now)
                             : u.share() ? latency_.compute_ms(u.worker, u.subnet) * share + latency_.backlog_ms(u.worker, now)
                                         : latency_.predict_ms(u.worker, u.subnet, now);
    const double pessimistic = latency_.pessimistic_ms(u.worker, u.subnet, now);  // both before it is reserved
    const uint64_t id = request_id(in.seq, index);
    const double reserved = latency_.sent(u.worker, u.subnet, now, share);
    Outstanding& sent = outstanding_[id];
    sent = {in.seq, index, u.worker, u.subnet, now, reserved};
    sent.share = share;
    sent.expected = u.to == 0 ? classes_ : cat->values_out(u.subnet, u.to);
    size_t bytes_in = u.from != 0 ? cat->bytes_in(u.subnet, u.from) : in.image.size();
    if (u.share()) {
      sent.expected = 0;
      for (size_t i = 0; i < partition->plan.stages[stage].outputs.size(); ++i) {
        sent.expected += in.gather->slice_size(stage, u.part, i);
      }
      bytes_in = 0;
      for (uint32_t t : partition->plan.stages[stage].inputs) bytes_in += in.gather->whole(t).size() * sizeof(float);
    }
    sent.insurance = u.stage == kInsuranceStage;
    if (!sender_.send(id, u, in.image, tensor, u.share() ? in.gather.get() : nullptr, in.state.remaining_ms(now))) {
      outstanding_.erase(id);
      latency_.done(u.worker, reserved, now);
      in.state.units_.back().state = UnitState::kFailed;
      ++counters_.failures;
      continue;
    }
    Outstanding& o = outstanding_[id];
    if (sent_order_.size() <= u.worker) sent_order_.resize(u.worker + 1);
    sent_order_[u.worker].push_back(id);
    // A worker that never answers is marked down and its list cleared; until then, a cap.
    if (sent_order_[u.worker].size() > kMaxSentOrder) sent_order_[u.worker].pop_front();
    o.bytes = bytes_in + o.expected * sizeof(float) + 160;  // two headers, tables, MACs
    if (u.worker < counters_.work.size()) counters_.work[u.worker].bytes += o.bytes;
    // One timer per unit: when it fires unanswered, it arms the one that forgets the request.
    const TimeUs lost_at = std::isinf(predicted) ? in.state.deadline_
                                                 : std::max(in.state.deadline_,
                                                            now + us_from_ms(options_.presume_lost_factor * predicted));
    o.presume_lost = add_timer(lost_at, id, TimerKind::kPresumeLost);
    if (in.policy && u.stage >= kFirstStage && !u.segment() && !u.share() && options_.hedge_factor > 0 &&
        !std::isinf(predicted)) {
      // At hedge_factor times the prediction, but no later than the last moment a second try
      // could still come back (a unit predicted late in the budget would otherwise never be
      // hedged), and not before it is due.
      // Past the pessimistic prediction too, so that a jittery worker's ordinary replies are
      // not hedged.
      const TimeUs last_chance = in.state.deadline_ - us_from_ms(latency_.compute_ms(u.worker, u.subnet) +
                                                                  options_.insurance_guard_ms + timer_slack_ms());
      const double late_ms = std::max(options_.hedge_factor * predicted, pessimistic);
      const TimeUs at = std::min(now + us_from_ms(late_ms), last_chance);
      if (at > now + us_from_ms(predicted) && at < in.state.deadline_) {
        in.timers.push_back(add_timer(at, in.seq, TimerKind::kHedge, index));
      }
    }
  }
  in.state.outbox_.clear();
}

void Orchestrator::after_event(Input& in) {
  const TimeUs now = clock_.now();
  if (now >= in.state.deadline_) return finish(in, Outcome::kMissed);
  // Let the policy react; failures it causes (a dead worker) let it react again.
  for (int round = 0; round < 4 && in.policy && !in.state.finished_; ++round) {
    const size_t before = in.state.units_.size();
    const bool all_failed = before > 0 && in.state.pending() == in.state.pending_in(kInsuranceStage) &&
                            in.state.top_stage() < kFirstStage;
    in.policy->update(context(in), in.state);
    flush(in);
    if (all_failed && in.state.units_.size() > before) ++counters_.replans;
    if (in.state.units_.size() == before || in.state.pending() > 0) break;
  }
  bool remote_pending = false, insurance_pending = false;
  for (const auto& u : in.state.units_) {
    if (u.state != UnitState::kPending) continue;
    (u.unit.stage == kInsuranceStage ? insurance_pending : remote_pending) = true;
  }
  if (in.state.finished_) return finish(in, Outcome::kMissed);
  if (remote_pending) return;
  if (in.state.top_stage() >= kFirstStage) return finish(in, Outcome::kMissed);
  if (insurance_pending) return;
  if (in.state.succeeded_in(kInsuranceStage) > 0) return finish(in, Outcome::kMissed);
  // Every unit failed and nothing more was planned: insure now if it was still to come.
  if (!in.insured && in.insurance_at != kNever && local_worker() >= 0) {
    insure(in);
    for (const auto& u : in.state.units_) {
      if (u.state == UnitState::kPending) return;
    }
  }
  finish(in, in.state.units_.empty() && !in.insured ? Outcome::kNoWorker : Outcome::kMissed);
}

void Orchestrator::insure(Input& in) {
  const int local = local_worker();
  if (in.insured || local < 0) return;
  // The master's engine computing this input's own part (a split's first part, a DISNET
  // block): the insurance waits for it to finish, rather than queue behind it.
  for (const auto& u : in.state.units_) {
    if (u.state == UnitState::kPending && u.unit.worker == static_cast<uint32_t>(local) && u.unit.stage >= kFirstStage) {
      in.insure_when_free = true;
      return;
    }
  }
  in.insured = true;
  ++counters_.insurance_runs;
  const uint32_t w = static_cast<uint32_t>(local);
  in.state.send({w, in.allocator->narrowest(w), kInsuranceStage, roles_[w].member});
  flush(in);
}

void Orchestrator::hedge(Input& in, uint32_t index) {
  if (index >= in.state.units_.size() || in.state.units_[index].state != UnitState::kPending) return;
  // Once another unit has answered, the input is waiting only for this one (an ensemble's
  // last member): it goes to its own worker again, not to a new member, so what is fused
  // stays what the policy chose; a lost request would otherwise hold the input to its deadline.
  const bool answered = in.state.top_stage() >= kFirstStage;
  const PlanContext ctx = context(in);
  const double budget = in.state.remaining_ms(ctx.now);
  // Another replica of the straggler's member if one fits, else the most accurate worker whose
  // member this input does not use yet (a member must not be fused twice), else the same
  // worker again.
  const int member = in.state.units_[index].unit.member;
  int pick = -1, pick_s = 0;
  double pick_key = -1;
  for (uint32_t w = 0; w < roles_.size() && !answered; ++w) {
    if (!roles_[w].planned() || !latency_.alive(w) || in.state.tried(w)) continue;
    bool member_in_use = false;
    for (const auto& u : in.state.units_) member_in_use = member_in_use || (u.unit.member >= 0 && u.unit.member == roles_[w].member);
    if (member_in_use && roles_[w].member != member) continue;
    const int s = best_subnet_on(ctx, w, budget);
    if (s < 0 || latency_.predict_ms(w, static_cast<uint32_t>(s), ctx.now) > budget) continue;
    const double key = in.allocator->single(w, static_cast<uint32_t>(s)) + (roles_[w].member == member ? 1.0 : 0.0);
    if (key > pick_key) pick = static_cast<int>(w), pick_s = s, pick_key = key;
  }
  if (pick < 0) {
    // Last resort: the straggler's own worker again. Over a lossy link (UDP) the request or
    // its reply was most likely lost, and the worker is idle; priced without the backlog the
    // lost unit still holds there.
    const Unit& late = in.state.units_[index].unit;
    if (roles_[late.worker].local || !latency_.alive(late.worker)) return;
    for (int s = static_cast<int>(late.subnet); s >= 0 && pick < 0; --s) {
      if (latency_.compute_ms(late.worker, static_cast<uint32_t>(s)) <= budget) pick = static_cast<int>(late.worker), pick_s = s;
    }
    if (pick < 0) return;
  }
  ++in.hedges;
  ++counters_.hedges;
  const uint32_t w = static_cast<uint32_t>(pick);
  in.state.send({w, static_cast<uint32_t>(pick_s), in.state.units_[index].unit.stage, roles_[w].member});
  flush(in);
  if (in.state.units_.size() > index + 1) in.state.units_.back().hedge_of = static_cast<int>(index);
}

size_t Orchestrator::expected_values(uint64_t id) const {
  const auto it = outstanding_.find(id);
  return it == outstanding_.end() ? 0 : it->second.expected;
}

void Orchestrator::release_overtaken(uint32_t w, uint64_t id, TimeUs now) {
  if (w >= sent_order_.size()) return;
  std::deque<uint64_t>& order = sent_order_[w];
  if (std::find(order.begin(), order.end(), id) == order.end()) return;
  while (!order.empty()) {
    const uint64_t before = order.front();
    order.pop_front();
    if (before == id) return;
    const auto it = outstanding_.find(before);
    if (it == outstanding_.end() || it->second.released) continue;
    latency_.done(w, it->second.reserved_ms, now);
    it->second.released = true;
    ++counters_.overtaken;
  }
}

void Orchestrator::unit_ended(uint64_t id, const float* probabilities, size_t count, double queue_ms, double compute_ms,
                              bool replied) {
  const TimeUs now = clock_.now();
  const auto it = outstanding_.find(id);
  if (it == outstanding_.end()) {
    ++counters_.unknown_replies;
    return;
  }
  if (replied && !it->second.released) release_overtaken(it->second.worker, id, now);
  const Outstanding o = it->second;
  outstanding_.erase(it);
  timers_.erase(o.presume_lost);
  timers_.erase(o.forget);
  if (!o.released) latency_.done(o.worker, o.reserved_ms, now);
  if (compute_ms > 0 && o.worker < counters_.work.size()) counters_.work[o.worker].compute_ms += compute_ms;
  // A result with NaN or infinity in it (a faulty or hostile worker) is a failure: never fused.
  const bool ok = probabilities && count == o.expected &&
                  std::all_of(probabilities, probabilities + count, [](float v) { return std::isfinite(v); });
  const double round_trip = std::max(0.0, ms_from_us(now - o.sent) - queue_ms);
  if (ok) learn_from_reply(latency_, segments_.get(), o.worker, o.subnet, o.share, round_trip, compute_ms, o.bytes);
  if (!ok || compute_ms < 0) ++counters_.failures;
  if (ok && o.insurance) local_answer_ms_[local_answers_++ % local_answer_ms_.size()] = ms_from_us(now - o.sent);
  const auto in = inputs_.find(o.input);
  if (in == inputs_.end()) {
    if (ok) ++counters_.late_replies;
    return;
  }
  Input& input = *in->second;
  InputState::Sent& unit = input.state.units_[o.index];
  if (unit.state != UnitState::kPending) {  // superseded by its hedge (or the other way round)
    if (ok) ++counters_.late_replies;
    return;
  }
  if (!ok) {
    unit.state = UnitState::kFailed;
  } else if (now > in->second->state.deadline_) {
    unit.state = UnitState::kLate;
    ++counters_.late_replies;
  } else if (unit.unit.share() && !place_share(input, unit.unit, probabilities, count)) {
    unit.state = UnitState::kFailed;  // slices of the wrong sizes
    ++counters_.failures;
  } else {
    unit.state = UnitState::kDone;
    if (unit.unit.share_last) {
      unit.output = input.gather->output();
    } else if (!unit.unit.share()) {  // a share's slices are in the input's gathered tensors
      unit.output.assign(probabilities, probabilities + count);
    }
    // A straggler and its hedges (and theirs: a chain): the first to answer counts, the others
    // are not waited for (their replies will be counted late).
    auto& units = in->second->state.units_;
    auto root = [&](size_t k) {
      while (units[k].hedge_of >= 0) k = static_cast<size_t>(units[k].hedge_of);
      return k;
    };
    const size_t group = root(o.index);
    for (size_t k = 0; k < units.size(); ++k) {
      if (k != o.index && units[k].state == UnitState::kPending && root(k) == group) units[k].state = UnitState::kLate;
    }
  }
  const bool insure_now = input.insure_when_free && roles_[o.worker].local;
  const uint64_t seq = input.seq;
  after_event(input);
  if (insure_now && inputs_.count(seq) && !input.insured && input.state.top_stage() < kFirstStage) {
    input.insure_when_free = false;
    insure(input);
    if (inputs_.count(seq)) after_event(input);
  }
}

void Orchestrator::on_result(uint64_t id, const float* probabilities, size_t count, double queue_ms, double compute_ms) {
  unit_ended(id, probabilities, count, queue_ms, compute_ms, true);
}

void Orchestrator::on_failure(uint64_t id) { unit_ended(id, nullptr, 0, 0, -1, true); }

void Orchestrator::on_worker_down(uint32_t w) {
  const TimeUs now = clock_.now();
  latency_.set_alive(w, false, now);
  std::vector<uint64_t> lost;
  for (const auto& [id, o] : outstanding_) {
    if (o.worker == w) lost.push_back(id);
  }
  std::sort(lost.begin(), lost.end());  // inputs in the order they came
  if (w < sent_order_.size()) sent_order_[w].clear();
  for (uint64_t id : lost) unit_ended(id, nullptr, 0, 0);
}

void Orchestrator::on_worker_up(uint32_t w) { latency_.set_alive(w, true, clock_.now()); }

double Orchestrator::timer_slack_ms() const {
  return *std::max_element(timer_late_ms_.begin(), timer_late_ms_.end());
}

double Orchestrator::local_slowest_ms() const {
  constexpr uint64_t kWarm = 4;
  const double slowest = *std::max_element(local_answer_ms_.begin(), local_answer_ms_.end());
  return local_answers_ < kWarm ? std::max(slowest, options_.insurance_cold_ms) : slowest;
}

void Orchestrator::on_timer() {
  const TimeUs now = clock_.now();
  latency_.age(now);
  while (!timers_.empty() && timers_.begin()->first.first <= now) {
    const Timer t = timers_.begin()->second;
    timer_late_ms_[timers_fired_++ % timer_late_ms_.size()] = ms_from_us(now - timers_.begin()->first.first);
    timers_.erase(timers_.begin());
    if (t.kind == TimerKind::kPresumeLost || t.kind == TimerKind::kForget) {
      const auto it = outstanding_.find(t.key);
      if (it == outstanding_.end()) continue;
      if (!it->second.released) {
        latency_.done(it->second.worker, it->second.reserved_ms, now);
        it->second.released = true;
        ++counters_.presumed_lost;
      }
      if (t.kind == TimerKind::kForget) {
        outstanding_.erase(it);
      } else {  // kept a while longer, so that a late reply still teaches the latency model
        it->second.forget = add_timer(std::max(now, it->second.sent + us_from_ms(options_.forget_after_ms)), t.key,
                                      TimerKind::kForget);
      }
      continue;
    }
    const auto it = inputs_.find(t.key);
    if (it == inputs_.end()) continue;
    Input& in = *it->second;
    if (t.kind == TimerKind::kDeadline) {
      finish(in, Outcome::kMissed);
    } else if (t.kind == TimerKind::kHedge) {
      hedge(in, t.index);
    } else if (t.kind == TimerKind::kInsurance && in.state.top_stage() < kFirstStage) {
      insure(in);
      if (inputs_.count(t.key)) after_event(in);
    }
  }
}

void Orchestrator::finish(Input& in, Outcome fallback) {
  const TimeUs now = clock_.now();
  Prediction p;
  p.ticket = in.seq;
  p.priority = in.state.priority_;
  p.narrowed = in.narrowed;
  p.hedges = in.hedges;
  p.plan_us = in.plan_us;
  p.policy = in.policy ? in.policy->name() : "fixed";
  p.mode = in.state.mode_;
  p.latency_ms = ms_from_us(now - in.state.submitted_);
  const uint32_t top = in.state.top_stage();
  const bool any = in.state.succeeded_in(top) > 0;
  if (any) {
    in.state.fused(top, &p.probabilities);
    p.label = static_cast<int>(std::max_element(p.probabilities.begin(), p.probabilities.end()) - p.probabilities.begin());
    p.outcome = top >= kFirstStage ? Outcome::kAnswered : Outcome::kInsured;
  } else {
    p.outcome = fallback;
  }
  for (auto& u : in.state.units_) {
    if (u.state == UnitState::kDone && u.unit.stage == top && any) {
      p.used.push_back(u.unit);
      if (in.keep_members) p.member_probabilities.push_back(std::move(u.output));
    } else if (u.state != UnitState::kDone) {
      p.dropped.push_back(u.unit);
    }
  }
  switch (p.outcome) {
    case Outcome::kAnswered: ++counters_.answered; break;
    case Outcome::kInsured: ++counters_.insured; break;
    case Outcome::kMissed: ++counters_.missed; break;
    case Outcome::kNoWorker: ++counters_.no_worker; break;
    default: break;
  }
  if (!in.fixed) stats_.record(p.policy, p.outcome, p.label, in.truth, p.latency_ms, p.hedges, now);
  auto done = std::move(in.done);
  for (const auto& key : in.timers) timers_.erase(key);
  if (in.gather) spare_gathers_.push_back(std::move(in.gather));
  inputs_.erase(in.seq);  // `in` is gone from here on; its pending units will reply late
  if (done) done(std::move(p));
}

}  // namespace shoal
