// The emulated AdaEnsemble Table-I cluster on this machine: four worker processes, each
// serving one member and slowed down like one of the paper's devices, and a master that
// holds one of the members itself. Shared by `shoal demo` and `shoal experiment policies`.
#ifndef SHOAL_APPS_DEMO_CLUSTER_H_
#define SHOAL_APPS_DEMO_CLUSTER_H_

#include <memory>
#include <string>
#include <vector>

#include "ensemble_eval.h"
#include "shoal/model.h"
#include "shoal/net/master.h"
#include "shoal/net/worker_process.h"

namespace shoal::cli {

using net::WorkerProcess;
using net::self_executable;

struct DemoClusterOptions {
  std::vector<std::string> member_files;  // 4, one per worker
  std::vector<std::string> member_names;  // the workers' member names (the files' stems when empty)
  uint32_t master_member = 0;             // the worker whose member the master holds
  double master_slowdown = 3.0;           // the master: a Pi 5
  bool quiet = false;                     // no lines about the processes on stdout
};

struct DemoCluster {
  std::vector<WorkerProcess> workers;
  std::vector<std::string> names;  // the devices: every worker's, then "master"
  std::unique_ptr<Model> own;      // the master's member
  std::unique_ptr<net::Master> master;
  Power power;  // typical figures for the boards (an estimate)

  ~DemoCluster();
  // The fastest worker's predicted latency at its widest subnet, once calibrated: what the
  // deadlines are scaled to (the paper's 0.4 s).
  double fastest_full_width_ms() const;
};

// Starts the workers and connects the master (not yet calibrated).
Result<std::unique_ptr<DemoCluster>> start_demo_cluster(const DemoClusterOptions& options);


}  // namespace shoal::cli

#endif  // SHOAL_APPS_DEMO_CLUSTER_H_
