#include "shoal/outcomes.h"

#include <algorithm>

namespace shoal {

const char* outcome_name(Outcome o) {
  switch (o) {
    case Outcome::kAnswered: return "answered";
    case Outcome::kInsured: return "insured";
    case Outcome::kDeadlineTooShort: return "deadline too short";
    case Outcome::kShed: return "shed";
    case Outcome::kMissed: return "missed";
    case Outcome::kNoWorker: return "no worker";
    case Outcome::kBusy: return "busy";
  }
  return "?";
}

void LatencyHistogram::add(double ms) {
  const size_t bucket = std::lower_bound(kBoundsMs.begin(), kBoundsMs.end(), ms) - kBoundsMs.begin();
  ++counts_[bucket];
  ++count_;
  sum_ms_ += ms;
}

void OutcomeStats::record(const char* policy, Outcome outcome, int label, int truth, double latency_ms, uint32_t hedges) {
  auto it = policies_.find(policy);
  if (it == policies_.end()) it = policies_.emplace(policy, PolicyOutcomes{}).first;  // once per policy
  PolicyOutcomes& p = it->second;
  ++p.inputs;
  p.hedges += hedges;
  if (outcome == Outcome::kAnswered) ++p.answered;
  if (outcome == Outcome::kInsured) ++p.insured;
  if (!has_label(outcome)) ++p.misses;
  if (has_label(outcome)) p.latency.add(latency_ms);
  if (truth >= 0) {
    ++p.labelled;
    p.correct += label == truth;
  }
}

}  // namespace shoal
