// shoal master: deadline-aware ensemble inference over workers.
#include <cstdio>

#include "command.h"
#include "ensemble_eval.h"
#include "shoal/net/cluster.h"

namespace shoal::cli {
namespace {

int run_master(const Args& args) {
  net::ClusterConfig cluster;
  if (args.has("--cluster")) {
    auto loaded = net::load_cluster(args.get("--cluster"));
    if (!loaded.is_ok()) return fail("master", loaded.status());
    cluster = loaded.value();
  } else if (args.has("--workers")) {
    cluster.addresses = split_list(args.get("--workers"));
    cluster.names = cluster.addresses;
  } else {
    return fail("master", "needs --workers HOST:PORT,... or --cluster FILE.json");
  }
  if (args.has("--policy")) cluster.policy = args.get("--policy");
  if (args.has("--key-file")) {
    auto key = net::load_key_file(args.get("--key-file"));
    if (!key.is_ok()) return fail("master", key.status());
    cluster.key = key.value();
  }
  std::vector<std::string> policies = split_list(cluster.policy);
  if (cluster.policy == "all") policies = {"adaensemble", "dynamic", "static"};
  std::vector<double> deadlines;
  if (args.has("--deadline")) {
    auto parsed = parse_numbers(args.get("--deadline"), "--deadline");
    if (!parsed.is_ok()) return fail("master", parsed.status());
    deadlines = parsed.value();
  } else if (cluster.deadline_ms > 0) {
    deadlines = {cluster.deadline_ms};
  } else {
    return fail("master", "needs --deadline MS (or deadline_ms in the cluster file)");
  }
  auto limit = args.number("--limit", 0), calibrate = args.number("--calibrate", 100);
  auto target = args.number("--static-target", cluster.static_target_ms);
  if (!limit.is_ok() || !calibrate.is_ok() || !target.is_ok()) return fail("master", "--limit, --calibrate and --static-target take numbers");
  const std::string dir = kFashionMnistDir;
  auto images = read_idx_images(args.get("--images", dir + "/t10k-images-idx3-ubyte.gz"), static_cast<uint32_t>(limit.value()));
  if (!images.is_ok()) return fail("master", images.status());
  auto labels = read_idx_labels(args.get("--labels", dir + "/t10k-labels-idx1-ubyte.gz"), static_cast<uint32_t>(limit.value()));
  if (!labels.is_ok()) return fail("master", labels.status());
  if (labels->size() != images->count) return fail("master", "the image and label files hold different counts");

  net::MasterOptions options;
  options.addresses = cluster.addresses;
  options.margin_ms = cluster.margin_ms;
  options.margin_fraction = cluster.margin_fraction;
  options.key = cluster.key;
  auto master = net::Master::connect(options);
  if (!master.is_ok()) return fail("master", master.status());
  const bool json = args.has("--json");
  Status st = calibrate_on_validation(*master.value(), static_cast<uint32_t>(calibrate.value()), json);
  if (!st.is_ok()) return fail("master", st);
  if (args.has("--profile")) {
    st = use_profile_file(*master.value(), args.get("--profile"), json);
    if (!st.is_ok()) return fail("master", st);
  }
  if (!json) print_cluster(*master.value(), cluster.names);  // as calibrated, before any run
  auto cells = evaluate(*master.value(), images.value(), labels.value(), policies, deadlines, target.value(), json);
  if (!cells.is_ok()) return fail("master", cells.status());
  if (json) {
    Json j;
    j.begin_object();
    cells_json(j, cells.value(), *master.value(), cluster.names);
    j.end_object();
    std::printf("%s\n", j.str().c_str());
  } else {
    print_cells(cells.value(), *master.value(), cluster.names);
  }
  return 0;
}

}  // namespace

const Command kMaster = {
    "master",
    "run inputs through workers under a deadline, choosing widths per input, fusing what arrives",
    "shoal master (--workers HOST:PORT,... | --cluster FILE.json) --deadline MS[,MS...]\n"
    "       [--policy adaensemble|dynamic|static|all] [--images IDX --labels IDX] [--limit N] [--json]",
    "Connects to the workers, calibrates on the Fashion-MNIST validation split (the last 5000\n"
    "training images: latency of every worker and subnet, accuracy of every ensemble), then\n"
    "runs each test image under each policy and deadline. Per input, adaensemble picks the\n"
    "workers and widths whose predicted latency fits the deadline with the best ensemble\n"
    "accuracy; dynamic uses the fastest worker alone at the widest subnet that fits; static\n"
    "fixes one width per worker for --static-target. Late results are dropped.",
    {{"--workers", "LIST", "worker addresses, comma-separated"},
     {"--cluster", "FILE", "cluster description in JSON (schema/cluster.fbs)"},
     {"--key-file", "FILE", "pre-shared key, the same as the workers'"},
     {"--deadline", "MS", "per-input deadline in ms; a list runs each"},
     {"--policy", "NAME", "adaensemble (default), dynamic, static, a list, or all"},
     {"--static-target", "MS", "latency target the static ensemble is fixed for (default: the deadline)"},
     {"--calibrate", "N", "validation images to calibrate on (default 100)"},
     {"--profile", "FILE", "accuracy of every configuration from 'shoal profile accuracy' (calibration then only times)"},
     {"--images", "FILE", "IDX images (default: Fashion-MNIST t10k)"},
     {"--labels", "FILE", "IDX labels (default: Fashion-MNIST t10k)"},
     {"--limit", "N", "use only the first N images"},
     {"--json", nullptr, "print one JSON object"}},
    run_master,
};

}  // namespace shoal::cli
