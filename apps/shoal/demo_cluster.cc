#include "demo_cluster.h"

#include <algorithm>
#include <cstdio>

#include "shoal/backend.h"

namespace shoal::cli {
namespace {

// The AdaEnsemble paper's Table I workers, as compute-time stretch factors against one core
// of this machine. The workers run the reference kernels: with the optimised ones a member
// takes ~0.15 ms and millisecond deadlines measure this machine's scheduling jitter (four
// workers and a master on two cores), not the devices. A Pi 5 core is taken as 3x slower
// than this one; mostly sleeping also keeps the emulated devices from fighting over cores.
// Their power models (idle and busy watts, nanojoules per byte on the network) are typical
// figures for such boards, not measurements: energy per input in the table is an estimate.
struct DemoDevice {
  const char* name;
  double slowdown;
  PowerModel power;
};
constexpr DemoDevice kDevices[] = {{"nano-cpu", 7.8, {1.3, 5.0, 50}},
                                   {"pi5", 3.0, {2.7, 7.0, 50}},
                                   {"xavier-nx", 3.9, {4.5, 10.0, 50}},
                                   {"nano-gpu", 5.4, {1.3, 7.5, 50}}};
constexpr PowerModel kMasterPower = {2.7, 7.0, 50};  // the master: another Pi 5

std::string stem(const std::string& path) {
  std::string name = path.substr(path.rfind('/') + 1);
  return name.substr(0, name.rfind('.'));
}

}  // namespace

DemoCluster::~DemoCluster() {
  master.reset();  // before the workers, so it does not see them go
  for (WorkerProcess& w : workers) w.stop();
}

double DemoCluster::fastest_full_width_ms() const {
  const auto predicted = master->predictions();
  double full = predicted[0].back();
  for (const auto& worker : predicted) full = std::min(full, worker.back());
  return full;
}

Result<std::unique_ptr<DemoCluster>> start_demo_cluster(const DemoClusterOptions& options) {
  if (options.member_files.size() != 4) return Status(StatusCode::kInvalidArgument, "the demo cluster takes 4 members");
  if (options.master_member > 3) return Status(StatusCode::kInvalidArgument, "the master's member is a worker's, 0 to 3");
  auto cluster = std::make_unique<DemoCluster>();
  net::MasterOptions master_options;
  for (uint32_t i = 0; i < 4; ++i) {
    const std::string& path = options.member_files[i];
    const std::string member = i < options.member_names.size() ? options.member_names[i] : stem(path);
    char slowdown[32];
    std::snprintf(slowdown, sizeof(slowdown), "%.2f", kDevices[i].slowdown);
    auto worker = WorkerProcess::start(self_executable(), {"--model", path, "--slowdown", slowdown, "--backend", "ref", "--member", member});
    if (!worker.is_ok()) return worker.status();
    if (!options.quiet) {
      std::printf("  %-10s pid %-7d %s  slowdown %.1fx\n", kDevices[i].name, worker->pid(), worker->address().c_str(),
                  kDevices[i].slowdown);
    }
    master_options.addresses.push_back(worker->address());
    cluster->names.push_back(kDevices[i].name);
    cluster->power.workers.push_back(kDevices[i].power);
    cluster->workers.push_back(std::move(worker.value()));
  }
  // The master is a device too (a Pi 5 by default): it runs one member itself, as insurance.
  auto own = Model::from_file(options.member_files[options.master_member]);
  if (!own.is_ok()) return own.status();
  cluster->own = std::make_unique<Model>(std::move(own.value()));
  master_options.local_model = cluster->own.get();
  master_options.local.backend = find_backend("ref");
  master_options.local.slowdown = options.master_slowdown;
  cluster->names.push_back("master");
  cluster->power.master = kMasterPower;
  cluster->power.given = true;
  if (!options.quiet) {
    std::printf("  %-10s this process, its own engine for insurance (%s, narrowest subnet) and for disnet and\n"
                "             split with %s, slowdown %.1fx\n",
                "master", cluster->own->fb().name() ? cluster->own->fb().name()->c_str() : "member",
                kDevices[options.master_member].name, options.master_slowdown);
    std::fflush(stdout);
  }
  auto master = net::Master::connect(master_options);
  if (!master.is_ok()) return master.status();
  cluster->master = std::move(master.value());
  return cluster;
}

}  // namespace shoal::cli
