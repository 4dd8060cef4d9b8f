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

void OutcomeStats::record(const char* policy, Outcome outcome, int label, int truth, double latency_ms, uint32_t hedges,
                          int64_t now_us) {
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
  const int64_t second = now_us / 1000000;
  SecondOutcomes& s = seconds_[static_cast<size_t>(second % static_cast<int64_t>(kSeconds))];
  if (s.second != second) s = SecondOutcomes{second};
  ++s.inputs;
  s.misses += !has_label(outcome);
  if (truth >= 0) {
    ++s.labelled;
    s.correct += label == truth;
  }
}

std::vector<SecondOutcomes> OutcomeStats::timeline(int64_t now_us) const {
  const int64_t last = now_us / 1000000;
  std::vector<SecondOutcomes> out;
  out.reserve(kSeconds);
  for (int64_t second = last - static_cast<int64_t>(kSeconds) + 1; second <= last; ++second) {
    const SecondOutcomes& s = seconds_[static_cast<size_t>(((second % static_cast<int64_t>(kSeconds)) + kSeconds) % kSeconds)];
    out.push_back(s.second == second ? s : SecondOutcomes{second});
  }
  return out;
}

}  // namespace shoal
