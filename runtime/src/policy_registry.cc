#include "shoal/policy_registry.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "shoal/latency_model.h"
#include "shoal/segments.h"

namespace shoal {

const std::vector<PolicyInfo>& policy_registry() {
  static const std::vector<PolicyInfo> registry = {
      {"adaensemble", "the most accurate ensemble whose every member fits the deadline (AdaEnsemble)",
       make_adaensemble_policy},
      {"dynamic", "the fastest device alone at the widest subnet that fits (single-device dynamic DNN)",
       make_dynamic_policy},
      {"static", "every worker at one width fixed for --static-target (static ensemble)", make_static_policy},
      {"cascade", "narrowest subnet on the fastest device first; below --alpha, a wider ensemble in what is left",
       make_cascade_policy},
      {"fluid-ht", "each input to one worker, the one whose queue empties first (Fluid high-throughput)",
       make_fluid_ht_policy},
      {"adaptive", "adaensemble (fluid-ha with --local-model) while the cluster keeps up, fluid-ht when load would outgrow it",
       make_adaptive_policy},
      {"fluid-ha", "every layer's channels of the master's model shared between it and the workers that hold it (Fluid high-accuracy)",
       make_fluid_ha_policy, true},
      {"disnet", "the master's model cut into layer blocks over the devices that hold it, sized to their speed (DISNET)",
       make_disnet_policy, true},
      {"split", "the master's model from this device up to a cut, a worker after it; cut, worker and width per input",
       make_split_policy, true},
  };
  return registry;
}

std::vector<std::string> policy_names() {
  std::vector<std::string> names;
  for (const PolicyInfo& p : policy_registry()) names.push_back(p.name);
  return names;
}

Result<std::unique_ptr<Policy>> make_policy(const std::string& name, const PolicySetup& setup) {
  for (const PolicyInfo& p : policy_registry()) {
    if (name != p.name) continue;
    if (p.segments && !setup.segments) {
      return Status(StatusCode::kInvalidArgument,
                    "policy '" + name + "' runs the master's own model (--local-model) in segments, with workers "
                    "serving the same model file; give the master one that a worker serves");
    }
    return p.make(setup);
  }
  return check_policy_name(name);
}

bool policy_needs_segments(const std::string& name) {
  for (const PolicyInfo& p : policy_registry()) {
    if (name == p.name) return p.segments;
  }
  return false;
}

Status check_policy_name(const std::string& name) {
  for (const PolicyInfo& p : policy_registry()) {
    if (name == p.name) return Status::ok();
  }
  std::string list;
  for (const PolicyInfo& p : policy_registry()) list += std::string(list.empty() ? "" : ", ") + p.name;
  return Status(StatusCode::kInvalidArgument, "unknown policy '" + name + "'; choose one of " + list + " or all");
}

void Policy::update(const PlanContext& ctx, InputState& input) {
  // Nothing of the plan is pending (the master's insurance may be) and nothing succeeded.
  if (input.pending() == input.pending_in(kInsuranceStage) && input.top_stage() < kFirstStage) start(ctx, input);
}

int best_subnet_on(const PlanContext& ctx, uint32_t w, double budget_ms) {
  if (!ctx.latency.alive(w)) return -1;
  int best = -1, fastest = 0;
  for (uint32_t s = 0; s < ctx.latency.subnets(w); ++s) {
    const double ms = ctx.latency.predict_ms(w, s, ctx.now);
    if (ms < ctx.latency.predict_ms(w, static_cast<uint32_t>(fastest), ctx.now)) fastest = static_cast<int>(s);
    if (ms <= budget_ms &&
        (best < 0 || ctx.allocator.single(w, s) > ctx.allocator.single(w, static_cast<uint32_t>(best)))) {
      best = static_cast<int>(s);
    }
  }
  return best >= 0 ? best : fastest;
}

Plan throughput_unit(const PlanContext& ctx, const InputState& input) {
  const double budget = input.remaining_ms(ctx.now);
  int pick = -1;
  double soonest = std::numeric_limits<double>::infinity();
  for (uint32_t w = 0; w < ctx.allocator.workers(); ++w) {
    if (!ctx.allocator.roles()[w].planned() || !ctx.latency.alive(w) || input.tried(w)) continue;
    // Ties (idle workers) go to the one fastest at its narrowest subnet.
    const double key = ctx.latency.backlog_ms(w, ctx.now) +
                       1e-3 * ctx.latency.compute_ms(w, ctx.allocator.narrowest(w));
    if (key < soonest) soonest = key, pick = static_cast<int>(w);
  }
  if (pick < 0) return {};
  const uint32_t w = static_cast<uint32_t>(pick);
  return {{w, static_cast<uint32_t>(best_subnet_on(ctx, w, budget)), kFirstStage, ctx.allocator.roles()[w].member}};
}

Plan partition_stage(const PlanContext& ctx, const InputState& input) {
  const PartitionSetup* p = ctx.segments ? ctx.segments->partition.get() : nullptr;
  if (!p) return {};
  int last = -1;
  size_t done = 0, failed = 0;
  for (size_t i = 0; i < input.units(); ++i) {
    const Unit& u = input.unit(i);
    if (!u.share()) continue;
    if (u.share_stage > last) last = u.share_stage, done = failed = 0;
    if (u.share_stage != last) continue;
    done += input.state(i) == UnitState::kDone;
    failed += input.state(i) == UnitState::kFailed || input.state(i) == UnitState::kLate;
  }
  const size_t next = static_cast<size_t>(last + 1);
  if (failed > 0 || next >= p->plan.stages.size()) return {};
  if (last >= 0 && done < p->plan.stages[static_cast<size_t>(last)].ranges.size()) return {};
  Plan plan;
  for (uint16_t part = 0; part < p->plan.stages[next].ranges.size(); ++part) {
    const uint32_t w = p->workers[part];
    if (!ctx.latency.alive(w)) return {};
    Unit u{w, p->plan.subnet, kFirstStage, -1};
    u.share_stage = static_cast<int16_t>(next);
    u.part = part;
    u.share_last = next + 1 == p->plan.stages.size();
    plan.push_back(u);
  }
  return plan;
}

double predict_partition_ms(const PlanContext& ctx) {
  const PartitionSetup* p = ctx.segments ? ctx.segments->partition.get() : nullptr;
  if (!p) return std::numeric_limits<double>::infinity();
  double total = 0;
  for (size_t k = 0; k < p->plan.stages.size(); ++k) {
    double slowest = 0;
    for (size_t part = 0; part < p->plan.stages[k].ranges.size(); ++part) {
      const uint32_t w = p->workers[part];
      const double whole = ctx.latency.compute_ms(w, p->plan.subnet);
      if (std::isinf(whole)) continue;
      double ms = whole * p->shares[k][part];
      if (static_cast<int>(w) != ctx.segments->local) ms += std::max(0.0, ctx.latency.link(w).rtt_ms);
      if (k == 0) ms += ctx.latency.backlog_ms(w, ctx.now);
      slowest = std::max(slowest, ms);
    }
    total += slowest;
  }
  return total;
}

void continue_partition(const PlanContext& ctx, InputState& input) {
  if (input.pending() > input.pending_in(kInsuranceStage) || input.top_stage() >= kFirstStage) return;
  Plan next = partition_stage(ctx, input);
  if (next.empty()) next = throughput_unit(ctx, input);
  for (const Unit& u : next) input.send(u);
}

}  // namespace shoal
