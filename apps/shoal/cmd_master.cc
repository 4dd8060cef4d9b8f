// shoal master: deadline-aware ensemble inference over workers.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <thread>

#include "command.h"
#include "ensemble_eval.h"
#include "shoal/net/cluster.h"
#include "shoal/net/http_server.h"
#include "shoal/net/monitor.h"
#include "shoal/net/transport.h"
#include "shoal/net/worker_server.h"
#include "shoal/policy_registry.h"

namespace shoal::cli {
namespace {

std::string policy_help() {
  std::string text;
  for (const PolicyInfo& p : policy_registry()) text += std::string("\n  ") + p.name + ": " + p.summary;
  return text;
}

int run_master(const Args& args) {
  // SIGINT and SIGTERM stop it cleanly: no new inputs, those in flight answered, the table of
  // what ran and the counters printed.
  block_stop_signals();
  on_stop_signal([](int signal) {
    std::fprintf(stderr, "shoal master: stopping (signal %d): answering the inputs in flight\n", signal);
    stop_evaluating();
  });
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
  if (args.has("--transport")) cluster.transport = args.get("--transport");
  auto transport = net::parse_transport(cluster.transport);
  if (!transport.is_ok()) return fail("master", transport.status());
  if (args.has("--key-file")) {
    auto key = key_option(args);
    if (!key.is_ok()) return fail("master", key.status());
    cluster.key = key.value();
  }
  auto policies = policy_list(cluster.policy);
  if (!policies.is_ok()) return fail("master", policies.status());
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
  for (double d : deadlines) {
    if (!(d > 0) || !std::isfinite(d)) {
      return fail("master", "a deadline is a time in milliseconds above 0, not " + std::to_string(d) +
                                "; try the fastest worker's latency (shoal profile) or more");
    }
  }
  std::vector<double> alphas = {0.8};
  if (args.has("--alpha")) {
    auto parsed = parse_numbers(args.get("--alpha"), "--alpha");
    if (!parsed.is_ok()) return fail("master", parsed.status());
    alphas = parsed.value();
  }
  auto limit = args.count("--limit", 0);
  if (!limit.is_ok()) return fail("master", limit.status());
  auto latency_images = args.number("--calibrate", 20);
  auto accuracy_images = args.number("--accuracy-images", kValidationImages);
  auto target = args.number("--static-target", cluster.static_target_ms);
  auto rate = args.number("--rate", 0), concurrency = args.number("--concurrency", 1);
  auto priorities = args.number("--priorities", 1), slowdown = args.number("--local-slowdown", 1.0);
  for (const auto* n : {&latency_images, &accuracy_images, &target, &rate, &concurrency, &priorities, &slowdown}) {
    if (!n->is_ok()) return fail("master", n->status());
  }
  if (concurrency.value() < 1 || priorities.value() < 1) return fail("master", "--concurrency and --priorities take 1 or more");
  auto test_set = labelled_images_option(args, limit.value());
  if (!test_set.is_ok()) return fail("master", test_set.status());

  auto from_cluster = net::master_options(cluster);
  if (!from_cluster.is_ok()) return fail("master", from_cluster.status());
  net::MasterOptions options = from_cluster.value();
  auto heartbeat = args.number("--heartbeat", options.heartbeat_ms);
  if (!heartbeat.is_ok() || heartbeat.value() < 0) return fail("master", "--heartbeat takes milliseconds, 0 for none");
  options.heartbeat_ms = static_cast<int>(heartbeat.value());
  auto top_k = args.number("--top-k", 0);
  if (!top_k.is_ok() || top_k.value() < 0) return fail("master", "--top-k takes a number of classes, 0 for all");
  options.reply_top_k = static_cast<uint32_t>(top_k.value());
  // Workers waiting, joining, going down and coming back, and the profile growing as they
  // join, on stderr as it happens (a JSON line each with --json).
  const auto started = std::chrono::steady_clock::now();
  const bool json_events = args.has("--json");
  const std::vector<std::string> names = cluster.names;
  auto event = [started, json_events](const std::string& what, const std::string& who, const std::string& address,
                                      const std::string& why) {
    const double at_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (json_events) {
      Json j;
      j.begin_object().field("event", what).field("at_s", at_s);
      if (!who.empty()) j.field("worker", who).field("address", address);
      if (!why.empty()) j.field("why", why);
      j.end_object();
      std::fprintf(stderr, "%s\n", j.str().c_str());
    } else if (who.empty()) {
      std::fprintf(stderr, "shoal master: [%.1f s] %s%s%s\n", at_s, what.c_str(), why.empty() ? "" : ": ", why.c_str());
    } else {
      const std::string at = who == address ? "" : " (" + address + ")";
      std::fprintf(stderr, "shoal master: [%.1f s] %s%s %s%s%s\n", at_s, who.c_str(), at.c_str(), what.c_str(),
                   why.empty() ? "" : ": ", why.c_str());
    }
  };
  options.on_event = [event, names](const net::WorkerEvent& e) {
    event(std::string("worker ") + net::worker_event_name(e.kind), e.worker < names.size() ? names[e.worker] : e.address,
          e.address, e.why);
  };
  Result<Model> local = Status(StatusCode::kNotFound, "");
  if (args.has("--local-model")) {
    local = Model::from_file(args.get("--local-model"));
    if (!local.is_ok()) return fail("master", local.status());
    auto kernels = backend_option(args);
    if (!kernels.is_ok()) return fail("master", kernels.status());
    options.local_model = &local.value();
    options.local.backend = kernels.value();
    options.local.slowdown = slowdown.value();
    cluster.names.push_back("master");
  }
  // --serve: this node is also a worker for its peers (every node mastering its own inputs and
  // serving the others': no single device whose loss stops the rest).
  std::unique_ptr<net::WorkerServer> served;
  std::unique_ptr<net::Listener> serving_on;
  std::thread serving;
  if (args.has("--serve")) {
    if (!options.local_model) return fail("master", "--serve serves the --local-model: give one");
    net::WorkerOptions worker = options.local;
    worker.key = cluster.key;
    auto server = net::WorkerServer::create(*options.local_model, worker);
    if (!server.is_ok()) return fail("master", server.status());
    auto listener = net::listen_on(transport.value(), args.get("--serve"));
    if (!listener.is_ok()) return fail("master", listener.status());
    const Status allowed = server.value()->may_serve_on(*listener.value());
    if (!allowed.is_ok()) return fail("master", allowed);
    served = std::move(server.value());
    serving_on = std::move(listener.value());
    serving = std::thread([&] { (void)served->run(*serving_on); });  // may_serve_on said yes
    std::fprintf(stderr, "shoal master: serving %s on %s:%u\n", args.get("--local-model").c_str(),
                 args.get("--serve").substr(0, args.get("--serve").rfind(':')).c_str(), serving_on->port());
  }
  struct StopServing {
    std::unique_ptr<net::WorkerServer>& server;
    std::thread& thread;
    ~StopServing() {
      if (server) server->stop();
      if (thread.joinable()) thread.join();
    }
  } stop_serving{served, serving};
  auto wait_for = args.number("--wait-for-workers", 0);
  if (!wait_for.is_ok()) return fail("master", wait_for.status());
  options.wait_for_first_ms = static_cast<int>(wait_for.value() * 1000);
  auto master = net::Master::connect(options);
  if (!master.is_ok()) return fail("master", master.status());
  Status fits = labels_fit(test_set->labels, master.value()->classes(), args);
  if (!fits.is_ok()) return fail("master", fits);
  std::unique_ptr<net::HttpServer> http;
  if (args.has("--http")) {
    auto serving_http = net::HttpServer::start(args.get("--http"), cluster.key, net::master_monitor(*master.value(), cluster.names));
    if (!serving_http.is_ok()) return fail("master", serving_http.status());
    http = std::move(serving_http.value());
    std::fprintf(stderr, "shoal master: health and metrics on http://%s/ (/metrics, /status, /health)\n",
                 http->address().c_str());
  }
  const bool json = args.has("--json");
  const bool from_file = args.has("--profile");
  // Measured here: a worker that joins later with a member of its own is measured on the same
  // images in the background, and planned once it is.
  std::unique_ptr<net::ProfileKeeper> keeper;
  Status st = calibrate_on_validation(
      *master.value(), static_cast<uint32_t>(latency_images.value()),
      from_file ? 0 : static_cast<uint32_t>(accuracy_images.value()), json, from_file ? nullptr : &keeper,
      [event](const Status& measured, const std::vector<std::string>& added) {
        std::string members;
        for (const std::string& m : added) members += (members.empty() ? "" : ", ") + m;
        event("profile", "", "",
              measured.is_ok() ? "measured with " + members + ": planned from now"
                               : "could not measure " + members + " yet: " + measured.message());
      });
  if (!st.is_ok()) return fail("master", st);
  if (from_file) {
    st = use_profile_file(*master.value(), args.get("--profile"), json);
    if (!st.is_ok()) return fail("master", st);
  }
  if (!json) print_cluster(*master.value(), cluster.names);  // as calibrated, before any run
  drop_unrunnable(cluster.policy, *master.value(), &policies.value());
  std::vector<Run> runs;
  for (const std::string& policy : policies.value()) {
    for (double deadline : deadlines) {
      const bool cascade = policy == "cascade";
      for (size_t a = 0; a < (cascade ? alphas.size() : 1); ++a) {
        Run run{policy, deadline, {}, cascade && alphas.size() > 1};
        run.params.alpha = alphas[a];
        run.params.static_target_ms = target.value() > 0 ? target.value() : deadline;
        runs.push_back(run);
      }
    }
  }
  Load load{rate.value(), static_cast<uint32_t>(concurrency.value()), static_cast<uint32_t>(priorities.value())};
  Power power;
  power.given = cluster.has_power();
  power.workers = cluster.power;
  power.workers.resize(cluster.addresses.size());
  power.master = cluster.master_power;
  auto cells = evaluate(*master.value(), test_set->images, test_set->labels, runs, load, json, power);
  if (!cells.is_ok()) return fail("master", cells.status());
  if (json) {
    Json j;
    j.begin_object();
    cells_json(j, cells.value(), *master.value(), cluster.names, load);
    j.end_object();
    std::printf("%s\n", j.str().c_str());
  } else {
    print_cells(cells.value(), *master.value(), cluster.names, load);
  }
  const net::MasterCounters c = master.value()->counters();
  std::fprintf(stderr,
               "shoal master: %llu inputs: %llu answered, %llu insured, %llu missed, %llu shed, %llu too short, "
               "%llu no worker; %llu late replies, %llu hedges, %llu presumed lost; %llu disconnects "
               "(%llu silent), %llu reconnects, %llu joined late\n",
               static_cast<unsigned long long>(c.orchestrator.submitted), static_cast<unsigned long long>(c.orchestrator.answered),
               static_cast<unsigned long long>(c.orchestrator.insured), static_cast<unsigned long long>(c.orchestrator.missed),
               static_cast<unsigned long long>(c.orchestrator.shed), static_cast<unsigned long long>(c.orchestrator.too_short),
               static_cast<unsigned long long>(c.orchestrator.no_worker), static_cast<unsigned long long>(c.orchestrator.late_replies),
               static_cast<unsigned long long>(c.orchestrator.hedges), static_cast<unsigned long long>(c.orchestrator.presumed_lost),
               static_cast<unsigned long long>(c.disconnects), static_cast<unsigned long long>(c.silent_drops),
               static_cast<unsigned long long>(c.reconnects), static_cast<unsigned long long>(c.joins));
  return 0;
}

const std::string kMasterDescription =
    std::string("Connects to the workers and calibrates: the latency of every worker and subnet on a few\n"
    "validation images, and the accuracy of every member and ensemble on the whole validation\n"
    "split (the last 5000 training images) unless --profile gives it. Then runs each test image\n"
    "under each policy and deadline, one at a time, N in flight (--concurrency), or arriving\n"
    "at random at R per second (--rate), and reports accuracy, misses, throughput and latency.\n"
    "Late results are dropped. With --local-model the master runs that member itself and uses\n"
    "its narrowest subnet as insurance, so an input is answered even when every worker is late.\n"
    "With --serve it also serves that member to other masters: run one such master on every\n"
    "device, each listing the others (and itself) in --workers, and losing any one device\n"
    "leaves the others answering their own inputs. disnet and split run the --local-model in\n"
    "segments over this device and the workers serving the same file.\n"
    "Policies:") + policy_help();

}  // namespace

const Command kMaster = {
    "master",
    "run inputs through workers under a deadline, choosing widths per input, fusing what arrives",
    "shoal master (--workers HOST:PORT,... | --cluster FILE.json) --deadline MS[,MS...]\n"
    "       [--policy NAME[,NAME...]|all] [--alpha A[,A...]] [--rate R | --concurrency N]\n"
    "       [--profile FILE] [--local-model FILE [--serve HOST:PORT]] [--images IDX --labels IDX] [--limit N] [--json]\n"
    "       [--http HOST:PORT]",
    kMasterDescription.c_str(),
    {{"--workers", "LIST", "worker addresses, comma-separated"},
     {"--transport", "NAME", "tcp (default) or udp, as the workers'"},
     {"--heartbeat", "MS", "heartbeat period; a worker silent for 3 is marked down (default 100, 0: none)"},
     {"--top-k", "K", "workers reply with their K most probable classes only (smaller replies; default 0: all)"},
     {"--cluster", "FILE", "cluster description in JSON (schema/cluster.fbs)"},
     {"--key-file", "FILE", "pre-shared key, the same as the workers'"},
     {"--deadline", "MS", "per-input deadline in ms; a list runs each"},
     {"--policy", "NAME", "a policy, a comma-separated list, or all (default adaensemble)"},
     {"--alpha", "A", "cascade: escalate when the top probability is below A (default 0.8); a list sweeps"},
     {"--static-target", "MS", "latency target the static ensemble is fixed for (default: the deadline)"},
     {"--rate", "R", "open loop: Poisson arrivals at R inputs per second"},
     {"--concurrency", "N", "closed loop: N inputs in flight (default 1)"},
     {"--priorities", "K", "inputs take priority classes 0..K-1 in turn; under overload the higher are narrowed, then shed"},
     {"--calibrate", "N", "validation images for latency calibration (default 20)"},
     {"--accuracy-images", "N", "validation images for the accuracy profile (default 5000: the whole split)"},
     {"--profile", "FILE", "accuracy of every configuration from 'shoal profile accuracy' (calibration then only times)"},
     {"--local-model", "FILE", "a member the master runs itself: insurance, and disnet's and split's model"},
     {"--local-slowdown", "F", "stretch its compute time by F, to emulate a slower master (default 1)"},
     {"--serve", "HOST:PORT", "also serve the --local-model to other masters here (every node a master and a worker)"},
     {"--http", "HOST:PORT", "serve /metrics (Prometheus), /status (JSON) and a live page at / (loopback, or with the key)"},
     {"--wait-for-workers", "S", "wait up to S seconds for the first worker to answer (default 0); the rest join when they come up"},
     {"--backend", "NAME", "kernels of the master's own engine (default: the fastest this CPU runs)"},
     {"--images", "FILE", "IDX images (default: Fashion-MNIST t10k)"},
     {"--labels", "FILE", "IDX labels (default: Fashion-MNIST t10k)"},
     {"--limit", "N", "use only the first N images"},
     {"--json", nullptr, "print one JSON object"}},
    run_master,
};

}  // namespace shoal::cli
