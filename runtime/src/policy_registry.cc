#include "shoal/policy_registry.h"

#include <limits>

#include "shoal/latency_model.h"

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
      {"adaptive", "adaensemble while the cluster keeps up, fluid-ht when load would outgrow it",
       make_adaptive_policy},
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
    if (ctx.allocator.roles()[w].local || !ctx.latency.alive(w) || input.tried(w)) continue;
    // Ties (idle workers) go to the one fastest at its narrowest subnet.
    const double key = ctx.latency.backlog_ms(w, ctx.now) +
                       1e-3 * ctx.latency.compute_ms(w, ctx.allocator.narrowest(w));
    if (key < soonest) soonest = key, pick = static_cast<int>(w);
  }
  if (pick < 0) return {};
  const uint32_t w = static_cast<uint32_t>(pick);
  return {{w, static_cast<uint32_t>(best_subnet_on(ctx, w, budget)), kFirstStage, ctx.allocator.roles()[w].member}};
}

}  // namespace shoal
