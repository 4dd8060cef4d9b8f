// Running labelled images through a Master under each policy and deadline, and reporting
// it: shared by `shoal master` and `shoal demo`.
#ifndef SHOAL_APPS_ENSEMBLE_EVAL_H_
#define SHOAL_APPS_ENSEMBLE_EVAL_H_

#include <string>
#include <vector>

#include "json.h"
#include "shoal/net/master.h"
#include "shoal/stats.h"

namespace shoal::cli {

struct Cell {
  std::string policy;
  double deadline_ms = 0;
  uint32_t images = 0, correct = 0, misses = 0;
  uint64_t dropped = 0, late_replies = 0;
  LatencySummary latency, plan_us;
  std::vector<std::vector<uint32_t>> usage;  // [worker][subnet] members fused
};

// Calibrates on `count` images of the Fashion-MNIST validation split (the last 5000 of
// the training set), with progress on stderr.
Status calibrate_on_validation(net::Master& master, uint32_t count, bool quiet);

// Reads a profile file ('shoal profile accuracy') and gives its accuracies to the master.
Status use_profile_file(net::Master& master, const std::string& path, bool quiet);

Result<std::vector<Cell>> evaluate(net::Master& master, const Images& images, const std::vector<uint8_t>& labels,
                                   const std::vector<std::string>& policies, const std::vector<double>& deadlines,
                                   double static_target_ms, bool quiet);

void print_cluster(const net::Master& master, const std::vector<std::string>& names);
void print_cells(const std::vector<Cell>& cells, const net::Master& master, const std::vector<std::string>& names);
void cells_json(Json& j, const std::vector<Cell>& cells, const net::Master& master, const std::vector<std::string>& names);

}  // namespace shoal::cli

#endif  // SHOAL_APPS_ENSEMBLE_EVAL_H_
