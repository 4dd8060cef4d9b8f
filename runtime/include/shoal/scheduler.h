// The scheduler's decisions, independent of how requests travel: which workers run which
// subnet for one input (a Plan), from latency predictions and the ensemble accuracy profile.
#ifndef SHOAL_SCHEDULER_H_
#define SHOAL_SCHEDULER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "shoal/status.h"

namespace shoal {

struct Choice {
  uint32_t worker = 0;
  uint32_t subnet = 0;
};
using Plan = std::vector<Choice>;

// One subnet choice per worker, -1 where the worker is not used.
using Config = std::vector<int>;

// The accuracy of every ensemble configuration (AdaEnsemble's profiling database),
// measured from each worker's class probabilities on the same labelled validation images:
// an ensemble averages its members' probabilities and takes the argmax.
class EnsembleProfile {
 public:
  // probabilities[w][s]: images x classes for worker w at subnet s. macs[w][s] breaks ties
  // between configurations of equal accuracy (cheaper first). At most 12 workers.
  static Result<EnsembleProfile> measure(const std::vector<std::vector<std::vector<float>>>& probabilities,
                                         const std::vector<std::vector<uint64_t>>& macs,
                                         const std::vector<uint8_t>& labels, uint32_t classes);

  // From accuracies already measured, indexed by configuration code (see code_of).
  static Result<EnsembleProfile> from_table(const std::vector<uint32_t>& subnets,
                                            const std::vector<std::vector<uint64_t>>& macs,
                                            std::vector<float> accuracy_by_code);
  // The code of a configuration: mixed radix, digit w (base subnets(w) + 1) = subnet + 1.
  uint32_t code_of(const Config& config) const { return encode(config); }
  const std::vector<float>& accuracy_by_code() const { return by_code_; }

  size_t workers() const { return subnets_.size(); }
  uint32_t subnets(uint32_t worker) const { return subnets_[worker]; }
  double accuracy(const Config& config) const;
  double single(uint32_t worker, uint32_t subnet) const;
  uint64_t macs(uint32_t worker, uint32_t subnet) const { return macs_[worker][subnet]; }
  // Every non-empty configuration, most accurate first.
  size_t size() const { return ranked_.size(); }
  Config config(size_t rank) const { return decode(ranked_[rank].code); }
  // The same, as workers() entries (subnet or -1) without allocating.
  const int8_t* ranked_choices(size_t rank) const { return choices_.data() + rank * subnets_.size(); }
  double ranked_accuracy(size_t rank) const { return ranked_[rank].accuracy; }

 private:
  struct Entry {
    uint32_t code;  // mixed radix: digit w is subnet + 1, 0 = unused
    float accuracy;
  };
  uint32_t encode(const Config& c) const;
  Config decode(uint32_t code) const;
  void rank();  // ranked_ and choices_ from by_code_

  std::vector<uint32_t> subnets_;
  std::vector<std::vector<uint64_t>> macs_;
  std::vector<float> by_code_;  // accuracy per code
  std::vector<Entry> ranked_;
  std::vector<int8_t> choices_;  // ranked configurations, decoded
};

// What a policy sees for one input: predicted end-to-end latency per (worker, subnet),
// margins and queueing included, and which workers are reachable.
struct PlanRequest {
  double budget_ms = 0;
  const std::vector<std::vector<double>>* predicted_ms = nullptr;
  const std::vector<bool>* alive = nullptr;
};

class Policy {
 public:
  virtual ~Policy() = default;
  virtual std::string name() const = 0;
  // Never empty while a worker is alive: when nothing fits the budget, the fastest option.
  virtual Plan plan(const PlanRequest& request) const = 0;
};

// AdaEnsemble: among configurations whose every member is predicted to fit the budget,
// the one with the highest profiled accuracy.
std::unique_ptr<Policy> make_adaensemble_policy(const EnsembleProfile& profile);
// Single-device Dynamic DNN: on the one live worker that is fastest at full width, the most
// accurate subnet that fits (and nothing once that worker is gone).
std::unique_ptr<Policy> make_dynamic_policy(const EnsembleProfile& profile,
                                            const std::vector<std::vector<double>>& predicted,
                                            const std::vector<bool>& alive);
// Static ensemble: every worker, each at the most accurate subnet predicted to fit
// `target_ms`, fixed once.
std::unique_ptr<Policy> make_static_policy(const EnsembleProfile& profile,
                                           const std::vector<std::vector<double>>& predicted, double target_ms);

// Observed round-trip times per (worker, subnet), smoothed: recent replies count most.
class LatencyEstimator {
 public:
  LatencyEstimator(const std::vector<uint32_t>& subnets_per_worker, double alpha = 0.2);
  void observe(uint32_t worker, uint32_t subnet, double ms);
  // Infinity until observed.
  double estimate(uint32_t worker, uint32_t subnet) const { return ms_[worker][subnet]; }

 private:
  double alpha_;
  std::vector<std::vector<double>> ms_;
};

// The ensemble processor: the mean of the members' probability distributions.
void average_probabilities(const std::vector<const float*>& members, uint32_t classes, float* out);

}  // namespace shoal

#endif  // SHOAL_SCHEDULER_H_
