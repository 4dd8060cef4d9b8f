// shoal demo: an AdaEnsemble cluster on this machine, every policy at three deadlines.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "command.h"
#include "demo_cluster.h"
#include "ensemble_eval.h"
#include "shoal/architectures.h"
#include "shoal/backend.h"
#include "shoal/net/worker_process.h"
#include "shoal/policy_registry.h"

namespace shoal::cli {
namespace {

int run_demo(const Args& args) {
  auto limit = args.count("--limit", 500);
  if (!limit.is_ok()) return fail("demo", limit.status());
  auto rate = args.number("--rate", 0), concurrency = args.number("--concurrency", 1);
  if (!rate.is_ok() || !concurrency.is_ok() || concurrency.value() < 1) {
    return fail("demo", "--rate takes inputs per second, --concurrency a count of 1 or more");
  }
  auto policies = policy_list(args.get("--policy", "all"));
  if (!policies.is_ok()) return fail("demo", policies.status());
  const std::string arch = args.get("--arch", "resnet8");
  auto master_slowdown = args.number("--master-slowdown", DemoClusterOptions{}.master_slowdown), master_member = args.number("--master-member", 0);
  if (!master_slowdown.is_ok() || master_slowdown.value() < 1) return fail("demo", "--master-slowdown takes a factor of 1 or more");
  if (!master_member.is_ok() || master_member.value() < 0 || master_member.value() > 3) {
    return fail("demo", "--master-member takes the worker (0 to 3) whose member the master holds");
  }
  // The random members' files live in a temporary directory, removed however the demo ends.
  struct TempDir {
    char path[32] = "/tmp/shoal-demo-XXXXXX";
    bool made = mkdtemp(path) != nullptr;
    ~TempDir() {
      for (uint32_t i = 0; made && i < 4; ++i) std::remove((std::string(path) + "/member" + std::to_string(i) + ".shoal").c_str());
      if (made) rmdir(path);
    }
  } temp;
  if (!temp.made) return fail("demo", "cannot make a temporary directory in /tmp");
  const char* dir = temp.path;
  // Stopped by a signal, it stops its workers and removes the folder all the same.
  std::vector<std::string> ours;
  for (uint32_t i = 0; i < 4; ++i) ours.push_back(std::string(dir) + "/member" + std::to_string(i) + ".shoal");
  ours.push_back(dir);
  net::clean_up_on_signal(ours);

  const std::vector<std::string> trained =
      args.has("--members") ? split_list(args.get("--members")) : std::vector<std::string>{};
  if (!trained.empty() && trained.size() != 4) return fail("demo", "--members takes 4 model files, one per worker");
  if (trained.empty()) {
    std::printf("shoal demo: 4 workers on loopback, each its own process and member (%s)\n", arch.c_str());
    std::printf("NOTE: no --members given, so members are random-weight models from 'shoal synth' and\n"
                "accuracy is at chance level; latency, deadlines, misses and choices are real.\n"
                "(they are written to %s, which is removed however the demo ends)\n", dir);
  } else {
    std::printf("shoal demo: 4 workers on loopback, each its own process and trained member\n");
  }
  std::printf("Workers run the reference kernels, slowed down to mimic each device (see --help).\n\n");
  DemoClusterOptions cluster_options;
  for (uint32_t i = 0; i < 4; ++i) {
    if (!trained.empty()) {
      cluster_options.member_files.push_back(trained[i]);
      continue;
    }
    auto bytes = synth_model_bytes(arch, 1000 + i);
    if (!bytes.is_ok()) return fail("demo", bytes.status());
    const std::string path = std::string(dir) + "/member" + std::to_string(i) + ".shoal";
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes->data()), static_cast<long>(bytes->size()));
    cluster_options.member_files.push_back(path);
    cluster_options.member_names.push_back(arch + "-seed" + std::to_string(1000 + i));
  }
  cluster_options.master_member = static_cast<uint32_t>(master_member.value());
  cluster_options.master_slowdown = master_slowdown.value();
  auto cluster = start_demo_cluster(cluster_options);
  if (!cluster.is_ok()) return fail("demo", cluster.status());
  net::Master& master = *cluster.value()->master;
  // Latency on a few images; accuracy from the profile file, else measured (random members
  // are at chance level anyway, so a few hundred images do).
  auto accuracy_images = args.count("--accuracy-images", 300);
  if (!accuracy_images.is_ok()) return fail("demo", accuracy_images.status());
  Status st = calibrate_on_validation(master, 20, args.has("--profile") ? 0 : accuracy_images.value(), false);
  if (!st.is_ok()) return fail("demo", st);
  if (args.has("--profile")) {
    st = use_profile_file(master, args.get("--profile"), false);
    if (!st.is_ok()) return fail("demo", st);
  }

  // The paper's 0.6 / 0.4 / 0.2 s, scaled so the middle one is what the fastest worker
  // needs at full width: wide ensembles fit the first, the last forces narrow ones.
  const double full = cluster.value()->fastest_full_width_ms();
  const std::vector<double> deadlines = {1.5 * full, full, 0.5 * full};
  const std::string dataset = kFashionMnistDir;
  auto images = read_idx_images(dataset + "/t10k-images-idx3-ubyte.gz", limit.value());
  auto labels = read_idx_labels(dataset + "/t10k-labels-idx1-ubyte.gz", limit.value());
  if (!images.is_ok() || !labels.is_ok()) return fail("demo", images.is_ok() ? labels.status() : images.status());
  print_cluster(master, cluster.value()->names);  // as calibrated, before any run leaves a backlog
  drop_unrunnable(args.get("--policy", "all"), master, &policies.value());
  std::fflush(stdout);
  std::fprintf(stderr, "running %u test images per policy and deadline\n", images->count);
  std::vector<Run> runs = policy_runs(policies.value(), deadlines, deadlines[1]);
  const bool sweep = std::find(policies->begin(), policies->end(), "cascade") != policies->end() && !args.has("--no-sweep");
  if (sweep) {  // 001's confidence threshold, at the middle deadline
    for (const Run& run : cascade_sweep({0.0, 0.5, 0.7, 0.9, 0.95, 0.99, 1.0}, deadlines[1])) runs.push_back(run);
  }
  const Load load{rate.value(), static_cast<uint32_t>(concurrency.value()), 1};
  auto cells = evaluate(master, images.value(), labels.value(), runs, load, false, cluster.value()->power);
  if (!cells.is_ok()) return fail("demo", cells.status());
  std::printf("\n");
  print_cells(cells.value(), master, cluster.value()->names, load);
  std::printf("deadlines: 1.5x, 1x and 0.5x the fastest worker's predicted full-width latency (the paper's\n"
              "0.6 / 0.4 / 0.2 s); static is fixed for the middle one (%.2f ms), as the paper's is for 0.4 s;\n"
              "cascade runs at alpha 0.8, and the alpha sweep at the middle deadline.\n",
              deadlines[1]);
  cluster.value().reset();
  std::printf("all workers stopped.\n");
  return 0;
}

}  // namespace

const Command kDemo = {
    "demo",
    "start a 4-worker cluster on loopback and compare every policy at three deadlines",
    "shoal demo [--limit N] [--members FILES --profile FILE] [--policy LIST|all] [--rate R | --concurrency N]",
    "Starts four workers, each its own process and ensemble member, slowed down to mimic the\n"
    "AdaEnsemble paper's cluster (Jetson Nano CPU, Raspberry Pi 5, Jetson Xavier NX, Jetson\n"
    "Nano GPU) and running the reference kernels so that compute, not this machine's\n"
    "scheduling jitter, dominates. The master runs the first member itself (--master-member),\n"
    "slowed down like a Pi 5 (--master-slowdown), as insurance; disnet and split run that\n"
    "member across the master and the worker that serves it. Calibrates, then runs N\n"
    "Fashion-MNIST test images through every policy at three deadlines and the cascade at\n"
    "several confidence thresholds, prints one table with energy per input (typical power\n"
    "figures for the boards, an estimate) and stops every worker.",
    {{"--limit", "N", "test images per policy and deadline (default 500)"},
     {"--policy", "LIST", "policies to compare (default all)"},
     {"--rate", "R", "open loop: Poisson arrivals at R inputs per second (default: one input at a time)"},
     {"--concurrency", "N", "closed loop: N inputs in flight"},
     {"--no-sweep", nullptr, "skip the cascade's alpha sweep"},
     {"--accuracy-images", "N", "validation images the accuracy of random members is measured on (default 300)"},
     {"--arch", "NAME", "member architecture when no --members are given (default resnet8)"},
     {"--members", "FILES", "4 trained .shoal files, one per worker (default: random-weight synth members)"},
     {"--profile", "FILE", "accuracy profile of those members from 'shoal profile accuracy'"},
     {"--master-member", "I", "the worker (0-3) whose member the master also holds (default 0)"},
     {"--master-slowdown", "F", "stretch the master's compute by F (default 3: a Pi 5; 7.8: a weaker device)"}},
    run_demo,
};

}  // namespace shoal::cli
