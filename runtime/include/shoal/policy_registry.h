// The one list of policies: name, one-line summary, factory. The CLI, the demo, the
// evaluator and the tests all read it; adding a policy is one entry here and one file in
// runtime/src/policies/.
#ifndef SHOAL_POLICY_REGISTRY_H_
#define SHOAL_POLICY_REGISTRY_H_

#include <memory>
#include <string>
#include <vector>

#include "shoal/allocator.h"
#include "shoal/policy.h"
#include "shoal/status.h"

namespace shoal {

struct PolicyParams {
  double alpha = 0.8;                 // cascade: a stage below this top probability escalates
  double static_target_ms = 0;        // static: the latency its fixed plan is chosen for
  double adaptive_utilisation = 0.7;  // adaptive: throughput mode above this predicted load
};

// What a factory may look at. Policies that fix their choice once (static, dynamic) do it
// from the predictions at creation; the others decide per input and keep no reference.
struct PolicySetup {
  const Allocator& allocator;
  const LatencyModel& latency;
  TimeUs now;
  PolicyParams params;
  const SegmentCatalog* segments = nullptr;
};

struct PolicyInfo {
  const char* name;
  const char* summary;
  std::unique_ptr<Policy> (*make)(const PolicySetup& setup);
  bool segments = false;  // runs segments of the master's own model: needs a SegmentCatalog
};

const std::vector<PolicyInfo>& policy_registry();
// "unknown policy 'x'; choose one of adaensemble, dynamic, ..." when the name is not listed.
Result<std::unique_ptr<Policy>> make_policy(const std::string& name, const PolicySetup& setup);
// ok for a listed name; otherwise the error make_policy gives.
Status check_policy_name(const std::string& name);
// Every name, in the registry's order (what --policy all runs).
std::vector<std::string> policy_names();

// The factories, one per file under runtime/src/policies/.
std::unique_ptr<Policy> make_adaensemble_policy(const PolicySetup& setup);
std::unique_ptr<Policy> make_dynamic_policy(const PolicySetup& setup);
std::unique_ptr<Policy> make_static_policy(const PolicySetup& setup);
std::unique_ptr<Policy> make_cascade_policy(const PolicySetup& setup);
std::unique_ptr<Policy> make_fluid_ht_policy(const PolicySetup& setup);
std::unique_ptr<Policy> make_fluid_ha_policy(const PolicySetup& setup);
std::unique_ptr<Policy> make_adaptive_policy(const PolicySetup& setup);
std::unique_ptr<Policy> make_disnet_policy(const PolicySetup& setup);
std::unique_ptr<Policy> make_split_policy(const PolicySetup& setup);
// Whether the policy runs segments (and so needs workers sharing the master's model).
bool policy_needs_segments(const std::string& name);

// Shared by policies: the most accurate subnet of worker w predicted back within budget,
// else its fastest; -1 when w is down.
int best_subnet_on(const PlanContext& ctx, uint32_t w, double budget_ms);
// fluid-ht's choice: one unit on the live, untried worker whose queue empties first.
Plan throughput_unit(const PlanContext& ctx, const InputState& input);
// fluid-ha's next step: the parts of the catalog's channel partition's first stage for an
// input that has sent none, of the next stage once every part of the last is back; empty
// when there is no partition, a part failed or its worker is down, or all stages went.
Plan partition_stage(const PlanContext& ctx, const InputState& input);
// How long the whole partition is predicted to take from now: per stage, its slowest part
// (its share of the subnet's round trip on its worker, plus the link's round trip for a
// worker other than the master), the first behind its worker's backlog. A part whose worker
// never ran the subnet counts nothing, so the partition is tried and measured. Infinity
// without a partition.
double predict_partition_ms(const PlanContext& ctx);
// fluid-ha's update: the next stage once the last is gathered; once a part has failed, the
// whole network on one device instead (throughput_unit), while time is left.
void continue_partition(const PlanContext& ctx, InputState& input);

}  // namespace shoal

#endif  // SHOAL_POLICY_REGISTRY_H_
