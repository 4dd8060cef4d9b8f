// The papers' figures regenerated from the shipped members (`shoal experiment`): each
// experiment writes NAME.json (every number, with 95 % intervals where a difference is
// claimed) and NAME-*.svg into the output directory, and prints a short summary.
#ifndef SHOAL_APPS_EXPERIMENT_H_
#define SHOAL_APPS_EXPERIMENT_H_

#include <string>
#include <vector>

#include "shoal/json.h"
#include "shoal/dataset.h"
#include "shoal/stats.h"
#include "shoal/status.h"
#include "svg_chart.h"

namespace shoal::cli {

struct ExperimentSetup {
  std::string models = "models";  // the shipped members: resnet8-slim-s*.shoal, vip/, fluid/
  std::string out = "experiments";
  uint32_t images = 10000;        // test images for accuracy experiments
  uint32_t cluster_images = 500;  // test images per policy and deadline on the emulated cluster
  bool quiet = false;
};

// AdaEnsemble Fig. 3 and the ensembles' gain: accuracy by members and total width; four
// members at w1.0 against the best one; narrow members against one of the same total width.
Status experiment_members(const ExperimentSetup& setup);
// VIP's table: teacher, baseline student, every variant, and their averaging ensembles.
Status experiment_vip(const ExperimentSetup& setup);
// AdaEnsemble Figs. 4-5 on the emulated Table-I cluster (every policy at three deadlines),
// and 001's confidence-cascade alpha sweep.
Status experiment_policies(const ExperimentSetup& setup);
// Fluid Fig. 2: throughput and accuracy with only the master, only the worker, and both, in
// high-throughput and high-accuracy modes.
Status experiment_fluid(const ExperimentSetup& setup);

// Shared by the experiments: the first `limit` Fashion-MNIST test images and their labels.
struct TestSet {
  Images images;
  std::vector<uint8_t> labels;
};
Result<TestSet> test_set(uint32_t limit);
void interval_json(Json& j, const std::string& key, const Interval& interval);
// Charts of test accuracy (percentages, from the data), and of an amount from zero.
Chart accuracy_chart(const std::string& title, const std::string& x_label);
Chart amount_chart(const std::string& title, const std::string& x_label, const std::string& y_label);
Status write_text(const ExperimentSetup& setup, const std::string& name, const std::string& text);
// The shipped files matching dir/prefix*suffix, sorted.
std::vector<std::string> shipped(const std::string& dir, const std::string& prefix, const std::string& suffix);

}  // namespace shoal::cli

#endif  // SHOAL_APPS_EXPERIMENT_H_
