// The accuracy of ensembles of members (AdaEnsemble's profiling database), measured from each
// member's class probabilities on the same labelled validation images: an ensemble averages
// its members' probabilities and takes the argmax. Indexed by member, not by worker: workers
// that serve the same member (replicas) share its entries.
//
// Where the configurations are few enough (exact_limit), every one is measured. Beyond that
// only single units and pairs are, and a configuration's accuracy is modelled from them:
//   accuracy(S) ~ mean single accuracy + c(|S|) * mean pairwise gain,
// where the pairwise gain of u, v is acc({u, v}) - (acc(u) + acc(v)) / 2 and c(k) is fitted to
// the measured configurations of size k when there are any (1 otherwise). The tests check
// the model against measured configurations.
#ifndef SHOAL_ENSEMBLE_PROFILE_H_
#define SHOAL_ENSEMBLE_PROFILE_H_

#include <cstdint>
#include <vector>

#include "shoal/status.h"

namespace shoal {

// One subnet choice per member, -1 where the member is not used.
using Config = std::vector<int>;

class EnsembleProfile {
 public:
  static constexpr uint64_t kDefaultExactLimit = 1u << 16;

  // probabilities[m][s]: images x classes for member m at subnet s. macs[m][s] breaks ties
  // between configurations of equal accuracy (cheaper first).
  static Result<EnsembleProfile> measure(const std::vector<std::vector<std::vector<float>>>& probabilities,
                                         const std::vector<std::vector<uint64_t>>& macs,
                                         const std::vector<uint8_t>& labels, uint32_t classes,
                                         uint64_t exact_limit = kDefaultExactLimit);
  // From accuracies already measured, indexed by configuration code (see code_of).
  static Result<EnsembleProfile> from_table(const std::vector<uint32_t>& subnets,
                                            const std::vector<std::vector<uint64_t>>& macs,
                                            std::vector<float> accuracy_by_code);

  size_t members() const { return subnets_.size(); }
  uint32_t subnets(uint32_t member) const { return subnets_[member]; }
  uint64_t macs(uint32_t member, uint32_t subnet) const { return macs_[member][subnet]; }
  // Every configuration measured (else: singles and pairs, and the model).
  bool exact() const { return !by_code_.empty(); }

  // Measured where exact(), modelled otherwise.
  double accuracy(const Config& config) const;
  double single(uint32_t member, uint32_t subnet) const { return singles_[unit(member, subnet)]; }
  double pair(uint32_t m1, uint32_t s1, uint32_t m2, uint32_t s2) const;
  // The model, even where a measurement exists (to check it against one).
  double estimate(const Config& config) const;
  // The model's pieces, for an allocator that grows a configuration one unit at a time.
  uint32_t unit(uint32_t member, uint32_t subnet) const { return first_unit_[member] + subnet; }
  double gain(uint32_t unit_a, uint32_t unit_b) const { return gains_[size_t{unit_a} * units_ + unit_b]; }
  double single_of_unit(uint32_t u) const { return singles_[u]; }
  double pair_scale(uint32_t size) const;  // c(k)

  // Exact profiles only: the code of a configuration (mixed radix, digit m = subnet + 1),
  // accuracy per code, and every non-empty configuration ranked, most accurate first.
  uint32_t code_of(const Config& config) const { return encode(config); }
  const std::vector<float>& accuracy_by_code() const { return by_code_; }
  size_t size() const { return ranked_.size(); }
  Config config(size_t rank) const { return decode(ranked_[rank].code); }
  // The same, as members() entries (subnet or -1) without allocating.
  const int8_t* ranked_choices(size_t rank) const { return choices_.data() + rank * subnets_.size(); }
  double ranked_accuracy(size_t rank) const { return ranked_[rank].accuracy; }
  // The best configuration's accuracy (measured where exact, else the best pair or single).
  double best_accuracy() const;

 private:
  struct Entry {
    uint32_t code;
    float accuracy;
  };
  uint32_t encode(const Config& c) const;
  Config decode(uint32_t code) const;
  void index_units();
  void rank();              // ranked_ and choices_ from by_code_
  void pairs_from_table();  // singles_ and gains_ from by_code_
  void fit_scales();        // c(k) from by_code_

  std::vector<uint32_t> subnets_;
  std::vector<std::vector<uint64_t>> macs_;
  std::vector<uint32_t> first_unit_;
  uint32_t units_ = 0;
  std::vector<float> singles_;  // per unit
  std::vector<float> gains_;    // units x units
  std::vector<float> scales_;   // c(k), index k
  std::vector<float> by_code_;  // exact only
  std::vector<Entry> ranked_;
  std::vector<int8_t> choices_;
};

// The ensemble processor: the mean of the members' probability distributions.
void average_probabilities(const std::vector<const float*>& members, uint32_t classes, float* out);

}  // namespace shoal

#endif  // SHOAL_ENSEMBLE_PROFILE_H_
