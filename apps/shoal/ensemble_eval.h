// Running labelled images through a Master under each policy and deadline, one at a time,
// closed-loop (N in flight) or open-loop (Poisson arrivals at R per second), and reporting
// it: shared by `shoal master` and `shoal demo`.
#ifndef SHOAL_APPS_ENSEMBLE_EVAL_H_
#define SHOAL_APPS_ENSEMBLE_EVAL_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "shoal/json.h"
#include "shoal/net/calibrator.h"
#include "shoal/net/master.h"
#include "shoal/dataset.h"
#include "shoal/energy.h"
#include "shoal/stats.h"

namespace shoal::cli {

struct Load {
  double rate = 0;           // > 0: open-loop Poisson arrivals per second
  uint32_t concurrency = 1;  // otherwise: this many inputs in flight (1: one at a time)
  uint32_t priorities = 1;   // inputs take classes 0..priorities-1 in turn
};

// Power models of the cluster's devices (from the cluster file): each run reports energy.
struct Power {
  std::vector<PowerModel> workers;
  PowerModel master;
  bool given = false;
};

// One row: a policy (with its parameters) at one deadline.
struct Run {
  std::string policy;
  double deadline_ms = 0;
  PolicyParams params;
  bool show_alpha = false;
};

struct Cell {
  Run run;
  uint32_t images = 0, correct = 0;
  std::vector<uint8_t> right;  // per image, in order: 1 when answered with its true label
  std::map<Outcome, uint32_t> outcomes;
  uint32_t narrowed = 0;
  uint64_t dropped = 0, late_replies = 0, hedges = 0, insurance_runs = 0;
  double seconds = 0;  // wall time of the run
  LatencySummary latency, plan_us;
  std::vector<std::vector<uint32_t>> usage;  // [worker][subnet] units fused
  std::map<std::string, uint32_t> modes;
  bool energy_known = false;
  Energy energy;  // the whole run's (energy.h)
  uint32_t misses() const;  // inputs answered with no label
  double accuracy() const { return images ? double(correct) / images : 0.0; }
};

// Latency of every worker and subnet on a few validation images, then accuracy of every
// member and subnet on `accuracy_images` of them (0: none; the default is the whole split).
// With `keeper` (and accuracy images), also keeps the profile whole as workers join, on the
// same images (net::ProfileKeeper), telling `told`.
Status calibrate_on_validation(net::Master& master, uint32_t latency_images, uint32_t accuracy_images, bool quiet,
                               std::unique_ptr<net::ProfileKeeper>* keeper = nullptr,
                               net::ProfileKeeper::Told told = nullptr);

// Reads a profile file ('shoal profile accuracy') and gives its accuracies to the master.
Status use_profile_file(net::Master& master, const std::string& path, bool quiet);

// Every policy of the registry when `names` is "all"; errors name the unknown ones.
Result<std::vector<std::string>> policy_list(const std::string& names);
// For "all": leaves out the segment policies (disnet, split) when no worker serves the
// master's own model, saying so on stderr. A policy named on its own stays, and its run
// fails with the reason.
void drop_unrunnable(const std::string& names, const net::Master& master, std::vector<std::string>* policies);

// Every policy at every deadline, the static ensemble fixed for `static_target_ms` (as the
// paper's is for 0.4 s), in that order.
std::vector<Run> policy_runs(const std::vector<std::string>& policies, const std::vector<double>& deadlines,
                             double static_target_ms);
// 001's confidence cascade at each threshold alpha, at one deadline.
std::vector<Run> cascade_sweep(const std::vector<double>& alphas, double deadline_ms);

// Runs every run over the images. stop_evaluating() (from a signal's thread) makes it stop
// submitting, wait for what is in flight, and return what it has.
Result<std::vector<Cell>> evaluate(net::Master& master, const Images& images, const std::vector<uint8_t>& labels,
                                   const std::vector<Run>& runs, const Load& load, bool quiet, const Power& power = {});
void stop_evaluating();

void print_cluster(const net::Master& master, const std::vector<std::string>& names);
void print_cells(const std::vector<Cell>& cells, const net::Master& master, const std::vector<std::string>& names,
                 const Load& load);
void cells_json(Json& j, const std::vector<Cell>& cells, const net::Master& master, const std::vector<std::string>& names,
                const Load& load);

}  // namespace shoal::cli

#endif  // SHOAL_APPS_ENSEMBLE_EVAL_H_
