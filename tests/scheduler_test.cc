// The ensemble profile against direct evaluation, and the AdaEnsemble allocator against
// brute force over every configuration, on random profiles.
#include <gtest/gtest.h>

#include <random>

#include "shoal/scheduler.h"

namespace shoal {
namespace {

struct RandomProfile {
  std::vector<std::vector<std::vector<float>>> probs;
  std::vector<std::vector<uint64_t>> macs;
  std::vector<uint8_t> labels;
};

RandomProfile random_profile(std::mt19937& rng, uint32_t workers, uint32_t classes, uint32_t images) {
  RandomProfile r;
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (uint32_t i = 0; i < images; ++i) r.labels.push_back(static_cast<uint8_t>(rng() % classes));
  for (uint32_t w = 0; w < workers; ++w) {
    const uint32_t subnets = 1 + rng() % 4;
    r.probs.emplace_back();
    r.macs.emplace_back();
    for (uint32_t s = 0; s < subnets; ++s) {
      std::vector<float> p(size_t{images} * classes);
      for (uint32_t i = 0; i < images; ++i) {
        // Wider subnets lean more towards the right label, so accuracy means something.
        for (uint32_t c = 0; c < classes; ++c) p[i * classes + c] = u(rng) + (c == r.labels[i] ? 0.3f * s : 0.0f);
      }
      r.probs[w].push_back(p);
      r.macs[w].push_back(1000 * (s + 1));
    }
  }
  return r;
}

double direct_accuracy(const RandomProfile& r, const Config& c, uint32_t classes) {
  uint32_t correct = 0;
  for (size_t i = 0; i < r.labels.size(); ++i) {
    std::vector<double> sum(classes, 0.0);
    for (size_t w = 0; w < c.size(); ++w) {
      if (c[w] < 0) continue;
      for (uint32_t k = 0; k < classes; ++k) sum[k] += r.probs[w][static_cast<size_t>(c[w])][i * classes + k];
    }
    correct += static_cast<uint32_t>(std::max_element(sum.begin(), sum.end()) - sum.begin()) == r.labels[i];
  }
  return double(correct) / r.labels.size();
}

TEST(EnsembleProfile, MatchesDirectEvaluation) {
  std::mt19937 rng(3);
  const RandomProfile r = random_profile(rng, 3, 5, 50);
  auto p = EnsembleProfile::measure(r.probs, r.macs, r.labels, 5);
  ASSERT_TRUE(p.is_ok()) << p.status().to_string();
  size_t configs = 1;
  for (const auto& w : r.probs) configs *= w.size() + 1;
  ASSERT_EQ(p->size(), configs - 1);
  for (size_t rank = 0; rank < p->size(); ++rank) {
    const Config c = p->config(rank);
    EXPECT_NEAR(p->ranked_accuracy(rank), direct_accuracy(r, c, 5), 1e-6);
    if (rank > 0) {
      EXPECT_LE(p->ranked_accuracy(rank), p->ranked_accuracy(rank - 1));
    }
    for (size_t w = 0; w < c.size(); ++w) EXPECT_EQ(p->ranked_choices(rank)[w], c[w]);
  }
}

TEST(AdaEnsemble, AgreesWithBruteForce) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 300; ++trial) {
    const uint32_t workers = 1 + rng() % 5;
    const RandomProfile r = random_profile(rng, workers, 4, 30);
    auto profile = EnsembleProfile::measure(r.probs, r.macs, r.labels, 4);
    ASSERT_TRUE(profile.is_ok());
    auto policy = make_adaensemble_policy(profile.value());
    std::vector<std::vector<double>> predicted;
    std::vector<bool> alive;
    for (uint32_t w = 0; w < workers; ++w) {
      predicted.emplace_back();
      for (size_t s = 0; s < r.probs[w].size(); ++s) predicted[w].push_back(1.0 + (rng() % 100) / 10.0);
      alive.push_back(rng() % 5 != 0);
    }
    const double budget = (rng() % 120) / 10.0;
    const Plan plan = policy->plan({budget, &predicted, &alive});

    // Brute force: every configuration, feasible ones only, best accuracy.
    double best = -1;
    Config c(workers, -1);
    auto visit = [&](auto&& self, uint32_t w) -> void {
      if (w == workers) {
        bool any = false, ok = true;
        for (uint32_t k = 0; k < workers; ++k) {
          if (c[k] < 0) continue;
          any = true;
          ok = ok && alive[k] && predicted[k][static_cast<size_t>(c[k])] <= budget;
        }
        if (any && ok) best = std::max(best, profile->accuracy(c));
        return;
      }
      for (int s = -1; s < static_cast<int>(r.probs[w].size()); ++s) {
        c[w] = s;
        self(self, w + 1);
      }
    };
    visit(visit, 0);

    bool any_alive = false;
    for (bool a : alive) any_alive = any_alive || a;
    if (best < 0) {  // nothing fits: the single fastest live option, or nothing at all
      ASSERT_EQ(plan.size(), any_alive ? 1u : 0u) << "trial " << trial;
      continue;
    }
    Config chosen(workers, -1);
    for (const Choice& ch : plan) {
      ASSERT_TRUE(alive[ch.worker]);
      ASSERT_LE(predicted[ch.worker][ch.subnet], budget);
      chosen[ch.worker] = static_cast<int>(ch.subnet);
    }
    EXPECT_DOUBLE_EQ(profile->accuracy(chosen), best) << "trial " << trial;
  }
}

TEST(Policies, DynamicAndStaticFollowTheirRules) {
  std::mt19937 rng(5);
  RandomProfile r = random_profile(rng, 3, 4, 40);
  for (auto& w : r.probs) w.resize(std::min<size_t>(w.size(), 2));
  for (auto& m : r.macs) m.resize(std::min<size_t>(m.size(), 2));
  while (r.probs[1].size() < 2) r.probs[1].push_back(r.probs[1][0]), r.macs[1].push_back(5000);
  auto profile = EnsembleProfile::measure(r.probs, r.macs, r.labels, 4);
  ASSERT_TRUE(profile.is_ok());
  std::vector<std::vector<double>> predicted = {{5, 50}, {1, 2}, {3, 30}};
  predicted[0].resize(r.probs[0].size());
  predicted[2].resize(r.probs[2].size());
  const std::vector<bool> alive = {true, true, true};
  // Worker 1 is fastest at its widest subnet, so dynamic uses it alone.
  auto dynamic = make_dynamic_policy(profile.value(), predicted, alive);
  const Plan d = dynamic->plan({10.0, &predicted, &alive});
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].worker, 1u);
  const std::vector<bool> fastest_down = {true, false, true};
  const Plan d2 = make_dynamic_policy(profile.value(), predicted, fastest_down)->plan({10.0, &predicted, &fastest_down});
  ASSERT_EQ(d2.size(), 1u);
  EXPECT_NE(d2[0].worker, 1u);
  // Static: every worker, each fixed once for its target, whatever the budget later.
  auto fixed = make_static_policy(profile.value(), predicted, 4.0);
  const Plan s1 = fixed->plan({0.5, &predicted, &alive});
  EXPECT_EQ(s1.size(), 3u);
  const std::vector<bool> one_down = {true, false, true};
  EXPECT_EQ(fixed->plan({0.5, &predicted, &one_down}).size(), 2u);
}

TEST(LatencyEstimator, SmoothsTowardsRecentReplies) {
  LatencyEstimator e({2});
  EXPECT_TRUE(std::isinf(e.estimate(0, 1)));
  e.observe(0, 1, 10.0);
  EXPECT_DOUBLE_EQ(e.estimate(0, 1), 10.0);
  for (int i = 0; i < 50; ++i) e.observe(0, 1, 2.0);
  EXPECT_NEAR(e.estimate(0, 1), 2.0, 0.01);
}

TEST(Fusion, AveragesDistributions) {
  const float a[3] = {0.2f, 0.8f, 0.0f}, b[3] = {0.6f, 0.0f, 0.4f};
  float out[3];
  average_probabilities({a, b}, 3, out);
  EXPECT_FLOAT_EQ(out[0], 0.4f);
  EXPECT_FLOAT_EQ(out[1], 0.4f);
  EXPECT_FLOAT_EQ(out[2], 0.2f);
}

}  // namespace
}  // namespace shoal
