// shoal experiment: the papers' figures regenerated from the shipped members, as SVG plots
// and JSON (experiment.h).
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "command.h"
#include "experiment.h"
#include "shoal/net/worker_process.h"

namespace shoal::cli {

Result<TestSet> test_set(uint32_t limit) {
  const std::string dir = kFashionMnistDir;
  auto images = read_idx_images(dir + "/t10k-images-idx3-ubyte.gz", limit);
  if (!images.is_ok()) return images.status();
  auto labels = read_idx_labels(dir + "/t10k-labels-idx1-ubyte.gz", limit);
  if (!labels.is_ok()) return labels.status();
  return TestSet{std::move(images.value()), std::move(labels.value())};
}

Chart accuracy_chart(const std::string& title, const std::string& x_label) {
  Chart chart;
  chart.title = title;
  chart.x_label = x_label;
  chart.y_label = "test accuracy";
  chart.percent = true;
  return chart;
}

Chart amount_chart(const std::string& title, const std::string& x_label, const std::string& y_label) {
  Chart chart;
  chart.title = title;
  chart.x_label = x_label;
  chart.y_label = y_label;
  chart.from_zero = true;
  return chart;
}

void interval_json(Json& j, const std::string& key, const Interval& interval) {
  j.key(key).begin_array().value(interval.lo).value(interval.hi).end_array();
}

Status write_text(const ExperimentSetup& setup, const std::string& name, const std::string& text) {
  return write_file(setup.out + "/" + name, text.data(), text.size());
}

std::vector<std::string> shipped(const std::string& dir, const std::string& prefix, const std::string& suffix) {
  std::vector<std::string> files;
  DIR* d = opendir(dir.c_str());
  if (!d) return files;
  while (const dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name.size() < prefix.size() + suffix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0 || name.find(".shoal") == std::string::npos) {
      continue;
    }
    files.push_back(dir + "/" + name);
  }
  closedir(d);
  std::sort(files.begin(), files.end());
  return files;
}

namespace {

struct Experiment {
  const char* name;
  const char* what;
  Status (*run)(const ExperimentSetup&);
};
constexpr Experiment kExperiments[] = {
    {"members", "AdaEnsemble Fig. 3 and the ensembles' gain (narrow against wide)", experiment_members},
    {"vip", "VIP's table: variants and their ensemble against the baseline student", experiment_vip},
    {"policies", "AdaEnsemble Figs. 4-5 and the cascade's alpha sweep on the emulated cluster", experiment_policies},
    {"fluid", "Fluid Fig. 2: throughput and accuracy, one device or both, HT and HA modes", experiment_fluid},
};

int experiment(const Args& args) {
  const char* name = "experiment";
  const std::string which = args.positional()[0];
  std::vector<const Experiment*> chosen;
  for (const Experiment& e : kExperiments) {
    if (which == "all" || which == e.name) chosen.push_back(&e);
  }
  if (chosen.empty()) {
    std::string names;
    for (const Experiment& e : kExperiments) names += std::string(names.empty() ? "" : ", ") + e.name;
    return fail(name, "no experiment '" + which + "'; there are " + names + " (or all)");
  }
  net::clean_up_on_signal({});  // its worker processes stop with it
  ExperimentSetup setup;
  setup.models = args.get("--models", setup.models);
  setup.out = args.get("--out", setup.out);
  auto images = args.number("--images", setup.images), cluster = args.number("--cluster-images", setup.cluster_images);
  if (!images.is_ok() || images.value() < 1 || images.value() > 10000) return fail(name, "--images takes 1 to 10000 test images");
  if (!cluster.is_ok() || cluster.value() < 1 || cluster.value() > 10000) {
    return fail(name, "--cluster-images takes 1 to 10000 test images");
  }
  setup.images = static_cast<uint32_t>(images.value());
  setup.cluster_images = static_cast<uint32_t>(cluster.value());
  setup.quiet = args.has("--quiet");
  if (mkdir(setup.out.c_str(), 0755) != 0 && errno != EEXIST) return fail(name, "cannot make the directory " + setup.out);
  for (const Experiment* e : chosen) {
    if (!setup.quiet) std::fprintf(stderr, "shoal experiment %s: %s\n", e->name, e->what);
    const auto t0 = std::chrono::steady_clock::now();
    const Status st = e->run(setup);
    if (!st.is_ok()) return fail(name, std::string(e->name) + ": " + st.to_string());
    std::printf("  (%s took %.0f s; wrote %s/%s.json and its plots)\n\n", e->name,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), setup.out.c_str(), e->name);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

const Command kExperiment = {
    "experiment",
    "regenerate the papers' figures from the shipped members: SVG plots and JSON",
    "shoal experiment NAME|all [--out DIR] [--models DIR] [--images N] [--cluster-images N]",
    "Runs one of the papers' experiments on the members shipped in models/ and the Fashion-\n"
    "MNIST test set, and writes NAME.json (every number, with 95 % intervals: Wilson for an\n"
    "accuracy, paired over the same images for a difference) and NAME-*.svg into --out.\n"
    "  members   AdaEnsemble Fig. 3 (best ensemble by members and total width), k members\n"
    "            against the best one at each width, narrow members against one as wide\n"
    "  vip       VIP's table: teacher, baseline student, variants, their averaging ensemble\n"
    "  policies  AdaEnsemble Figs. 4-5: every policy at three deadlines on the emulated\n"
    "            Table-I cluster (as 'shoal demo'), and 001's cascade alpha sweep\n"
    "  fluid     Fluid Fig. 2: throughput and accuracy with only the master, only the worker,\n"
    "            or both, in high-throughput and high-accuracy modes (real processes)\n"
    "  all       every one of them (scripts/experiments)",
    {{"--out", "DIR", "where the JSON and SVG files go (default experiments)"},
     {"--models", "DIR", "the shipped members (default models)"},
     {"--images", "N", "test images for the accuracy experiments (default 10000: all)"},
     {"--cluster-images", "N", "test images per policy and deadline, and per Fluid scenario (default 500)"},
     {"--quiet", nullptr, "no progress on stderr"}},
    experiment,
    1,
    1,
};

}  // namespace shoal::cli
