#include "shoal/ensemble_profile.h"

#include <algorithm>
#include <cmath>

namespace shoal {
namespace {

constexpr uint64_t kMaxTable = 1u << 22;  // codes must fit a uint32 and the table memory

uint32_t argmax(const double* row, uint32_t n) { return static_cast<uint32_t>(std::max_element(row, row + n) - row); }

Status check_shapes(const std::vector<std::vector<std::vector<float>>>& probs,
                    const std::vector<std::vector<uint64_t>>& macs, size_t images, uint32_t classes) {
  if (probs.empty()) return Status(StatusCode::kInvalidArgument, "an ensemble profile needs at least one member");
  if (macs.size() != probs.size()) return Status(StatusCode::kInvalidArgument, "one MAC list per member, please");
  for (size_t m = 0; m < probs.size(); ++m) {
    if (probs[m].empty() || probs[m].size() > 127 || macs[m].size() != probs[m].size()) {
      return Status(StatusCode::kInvalidArgument, "member " + std::to_string(m) + " has no subnets profiled");
    }
    for (const auto& s : probs[m]) {
      if (s.size() != images * classes) {
        return Status(StatusCode::kInvalidArgument,
                      "probabilities of member " + std::to_string(m) + " do not cover every validation image");
      }
    }
  }
  return Status::ok();
}

}  // namespace

uint32_t EnsembleProfile::encode(const Config& c) const {
  uint32_t code = 0;
  for (size_t m = c.size(); m-- > 0;) code = code * (subnets_[m] + 1) + static_cast<uint32_t>(c[m] + 1);
  return code;
}

Config EnsembleProfile::decode(uint32_t code) const {
  Config c(subnets_.size());
  for (size_t m = 0; m < subnets_.size(); ++m) {
    c[m] = static_cast<int>(code % (subnets_[m] + 1)) - 1;
    code /= subnets_[m] + 1;
  }
  return c;
}

void EnsembleProfile::index_units() {
  first_unit_.clear();
  units_ = 0;
  for (uint32_t s : subnets_) {
    first_unit_.push_back(units_);
    units_ += s;
  }
  singles_.assign(units_, 0.0f);
  gains_.assign(size_t{units_} * units_, 0.0f);
}

Result<EnsembleProfile> EnsembleProfile::measure(const std::vector<std::vector<std::vector<float>>>& probs,
                                                 const std::vector<std::vector<uint64_t>>& macs,
                                                 const std::vector<uint8_t>& labels, uint32_t classes,
                                                 uint64_t exact_limit) {
  const size_t images = labels.size();
  SHOAL_RETURN_IF_ERROR(check_shapes(probs, macs, images, classes));
  EnsembleProfile p;
  uint64_t total = 1;
  for (const auto& m : probs) {
    p.subnets_.push_back(static_cast<uint32_t>(m.size()));
    total = std::min<uint64_t>(total * (m.size() + 1), kMaxTable + 1);
  }
  p.macs_ = macs;
  p.index_units();
  if (total <= std::min<uint64_t>(exact_limit, kMaxTable)) {
    // Every configuration: depth-first over members with the running sum of probabilities.
    p.by_code_.assign(total, 0.0f);
    std::vector<std::vector<double>> sums(probs.size() + 1, std::vector<double>(images * classes, 0.0));
    Config config(probs.size(), -1);
    auto visit = [&](auto&& self, size_t m, bool any) -> void {
      if (m == probs.size()) {
        if (!any) return;
        uint32_t correct = 0;
        for (size_t i = 0; i < images; ++i) correct += argmax(sums[m].data() + i * classes, classes) == labels[i];
        p.by_code_[p.encode(config)] = static_cast<float>(correct) / static_cast<float>(images);
        return;
      }
      for (int s = -1; s < static_cast<int>(probs[m].size()); ++s) {
        config[m] = s;
        if (s < 0) {
          sums[m + 1] = sums[m];
        } else {
          const std::vector<float>& add = probs[m][static_cast<size_t>(s)];
          for (size_t k = 0; k < sums[m].size(); ++k) sums[m + 1][k] = sums[m][k] + add[k];
        }
        self(self, m + 1, any || s >= 0);
      }
      config[m] = -1;
    };
    visit(visit, 0, false);
    p.pairs_from_table();
    p.fit_scales();
    p.rank();
    return p;
  }
  // Too many configurations: singles and pairs of units of different members.
  std::vector<const float*> unit_probs;
  for (const auto& m : probs)
    for (const auto& s : m) unit_probs.push_back(s.data());
  std::vector<uint32_t> member_of_unit;
  for (uint32_t m = 0; m < probs.size(); ++m) member_of_unit.insert(member_of_unit.end(), probs[m].size(), m);
  std::vector<double> row(classes);
  for (uint32_t u = 0; u < p.units_; ++u) {
    uint32_t correct = 0;
    for (size_t i = 0; i < images; ++i) {
      for (uint32_t c = 0; c < classes; ++c) row[c] = unit_probs[u][i * classes + c];
      correct += argmax(row.data(), classes) == labels[i];
    }
    p.singles_[u] = static_cast<float>(correct) / static_cast<float>(images);
  }
  for (uint32_t a = 0; a < p.units_; ++a) {
    for (uint32_t b = a + 1; b < p.units_; ++b) {
      if (member_of_unit[a] == member_of_unit[b]) continue;
      uint32_t correct = 0;
      for (size_t i = 0; i < images; ++i) {
        for (uint32_t c = 0; c < classes; ++c) row[c] = double{unit_probs[a][i * classes + c]} + unit_probs[b][i * classes + c];
        correct += argmax(row.data(), classes) == labels[i];
      }
      const float g = static_cast<float>(correct) / static_cast<float>(images) - 0.5f * (p.singles_[a] + p.singles_[b]);
      p.gains_[size_t{a} * p.units_ + b] = p.gains_[size_t{b} * p.units_ + a] = g;
    }
  }
  return p;
}

Result<EnsembleProfile> EnsembleProfile::from_table(const std::vector<uint32_t>& subnets,
                                                    const std::vector<std::vector<uint64_t>>& macs,
                                                    std::vector<float> accuracy_by_code) {
  if (subnets.empty() || macs.size() != subnets.size()) {
    return Status(StatusCode::kInvalidArgument, "an ensemble profile needs at least one member");
  }
  uint64_t total = 1;
  for (size_t m = 0; m < subnets.size(); ++m) {
    if (subnets[m] == 0 || subnets[m] > 127 || macs[m].size() != subnets[m]) {
      return Status(StatusCode::kInvalidArgument, "member " + std::to_string(m) + " has no subnets");
    }
    total *= subnets[m] + 1;
    if (total > kMaxTable) return Status(StatusCode::kInvalidArgument, "too many configurations");
  }
  if (accuracy_by_code.size() != total) {
    return Status(StatusCode::kInvalidArgument, "the profile has " + std::to_string(accuracy_by_code.size()) +
                                                    " accuracies for " + std::to_string(total) + " configurations");
  }
  for (float a : accuracy_by_code) {
    if (!(a >= 0.0f && a <= 1.0f)) return Status(StatusCode::kInvalidArgument, "an accuracy is not in [0, 1]");
  }
  EnsembleProfile p;
  p.subnets_ = subnets;
  p.macs_ = macs;
  p.by_code_ = std::move(accuracy_by_code);
  p.index_units();
  p.pairs_from_table();
  p.fit_scales();
  p.rank();
  return p;
}

void EnsembleProfile::pairs_from_table() {
  Config c(subnets_.size(), -1);
  for (uint32_t m = 0; m < subnets_.size(); ++m) {
    for (uint32_t s = 0; s < subnets_[m]; ++s) {
      c[m] = static_cast<int>(s);
      singles_[unit(m, s)] = by_code_[encode(c)];
      c[m] = -1;
    }
  }
  for (uint32_t m1 = 0; m1 < subnets_.size(); ++m1) {
    for (uint32_t m2 = m1 + 1; m2 < subnets_.size(); ++m2) {
      for (uint32_t s1 = 0; s1 < subnets_[m1]; ++s1) {
        for (uint32_t s2 = 0; s2 < subnets_[m2]; ++s2) {
          c[m1] = static_cast<int>(s1);
          c[m2] = static_cast<int>(s2);
          const uint32_t a = unit(m1, s1), b = unit(m2, s2);
          const float g = by_code_[encode(c)] - 0.5f * (singles_[a] + singles_[b]);
          gains_[size_t{a} * units_ + b] = gains_[size_t{b} * units_ + a] = g;
        }
      }
      c[m1] = c[m2] = -1;
    }
  }
}

void EnsembleProfile::fit_scales() {
  // Least squares per size k >= 3: accuracy - mean single = c(k) * mean gain.
  std::vector<double> num(subnets_.size() + 1, 0.0), den(subnets_.size() + 1, 0.0);
  std::vector<uint32_t> units;
  for (uint32_t code = 1; code < by_code_.size(); ++code) {
    const Config c = decode(code);
    units.clear();
    for (uint32_t m = 0; m < c.size(); ++m)
      if (c[m] >= 0) units.push_back(unit(m, static_cast<uint32_t>(c[m])));
    const size_t k = units.size();
    if (k < 3) continue;
    double mean_a = 0, mean_g = 0;
    for (size_t i = 0; i < k; ++i) {
      mean_a += singles_[units[i]];
      for (size_t j = i + 1; j < k; ++j) mean_g += gain(units[i], units[j]);
    }
    mean_a /= double(k);
    mean_g /= double(k * (k - 1) / 2);
    num[k] += (by_code_[code] - mean_a) * mean_g;
    den[k] += mean_g * mean_g;
  }
  scales_.assign(subnets_.size() + 1, 1.0f);
  for (size_t k = 3; k < scales_.size(); ++k) {
    if (den[k] > 1e-12) scales_[k] = static_cast<float>(num[k] / den[k]);
  }
}

double EnsembleProfile::pair_scale(uint32_t size) const {
  if (size <= 2 || scales_.empty()) return 1.0;
  return scales_[std::min<size_t>(size, scales_.size() - 1)];
}

double EnsembleProfile::pair(uint32_t m1, uint32_t s1, uint32_t m2, uint32_t s2) const {
  const uint32_t a = unit(m1, s1), b = unit(m2, s2);
  return 0.5 * (singles_[a] + singles_[b]) + gain(a, b);
}

double EnsembleProfile::estimate(const Config& config) const {
  double sum_a = 0, sum_g = 0;
  uint32_t k = 0;
  for (uint32_t m = 0; m < config.size(); ++m) {
    if (config[m] < 0) continue;
    const uint32_t u = unit(m, static_cast<uint32_t>(config[m]));
    sum_a += singles_[u];
    for (uint32_t m2 = 0; m2 < m; ++m2) {
      if (config[m2] >= 0) sum_g += gain(u, unit(m2, static_cast<uint32_t>(config[m2])));
    }
    ++k;
  }
  if (k == 0) return 0.0;
  if (k == 1) return sum_a;
  return sum_a / k + pair_scale(k) * sum_g / (double(k) * (k - 1) / 2);
}

double EnsembleProfile::accuracy(const Config& config) const {
  return exact() ? by_code_[encode(config)] : estimate(config);
}

double EnsembleProfile::best_accuracy() const {
  if (exact()) return ranked_.empty() ? 0.0 : ranked_[0].accuracy;
  double best = 0;
  for (uint32_t a = 0; a < units_; ++a) {
    best = std::max(best, double{singles_[a]});
    for (uint32_t b = a + 1; b < units_; ++b) {
      if (gain(a, b) != 0.0f) best = std::max(best, 0.5 * (singles_[a] + singles_[b]) + gain(a, b));
    }
  }
  return best;
}

void EnsembleProfile::rank() {
  auto cost = [&](uint32_t code) {
    uint64_t sum = 0;
    const Config c = decode(code);
    for (size_t m = 0; m < c.size(); ++m) sum += c[m] >= 0 ? macs_[m][static_cast<size_t>(c[m])] : 0;
    return sum;
  };
  ranked_.clear();
  choices_.clear();
  for (uint32_t code = 1; code < by_code_.size(); ++code) ranked_.push_back({code, by_code_[code]});
  std::vector<uint64_t> costs(by_code_.size());
  for (uint32_t code = 1; code < by_code_.size(); ++code) costs[code] = cost(code);
  std::stable_sort(ranked_.begin(), ranked_.end(), [&](const Entry& a, const Entry& b) {
    if (a.accuracy != b.accuracy) return a.accuracy > b.accuracy;
    return costs[a.code] < costs[b.code];
  });
  for (const Entry& e : ranked_) {
    for (int s : decode(e.code)) choices_.push_back(static_cast<int8_t>(s));
  }
}

void average_probabilities(const std::vector<const float*>& members, uint32_t classes, float* out) {
  for (uint32_t c = 0; c < classes; ++c) {
    double sum = 0;
    for (const float* m : members) sum += m[c];
    out[c] = members.empty() ? 0.0f : static_cast<float>(sum / members.size());
  }
}

}  // namespace shoal
