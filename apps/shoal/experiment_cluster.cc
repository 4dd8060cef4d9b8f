// The experiments over real processes on loopback: AdaEnsemble's Figs. 4-5 and 001's cascade
// sweep on the emulated Table-I cluster, and Fluid's Fig. 2 on two emulated devices.
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "command.h"
#include "demo_cluster.h"
#include "experiment.h"
#include "shoal/channel_partition.h"
#include "shoal/engine.h"
#include "shoal/backend.h"
#include "shoal/net/handshake.h"
#include "shoal/net/partition_runner.h"
#include "shoal/net/transport.h"
#include "svg_chart.h"

namespace shoal::cli {
namespace {

// The paper's 0.6 / 0.4 / 0.2 s as multiples of the fastest worker's full-width latency: the
// tightest leaves no device time for its widest subnet.
constexpr double kDeadlineFactors[] = {1.5, 1.0, 0.5};
constexpr double kAlphas[] = {0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0};
// Fluid's devices (two Jetson Xavier NX CPUs in the paper, where a 50 % sub-network took about
// 70 ms): the reference kernels stretched 40 times, so a 50 % sub-network of the tiny Fluid CNN
// takes about 10 ms and compute, not loopback or this machine's scheduling, sets the pace.
constexpr double kFluidSlowdown = 40;
constexpr double kFluidDeadlineMs = 1000;  // throughput runs: no input is late

ChartPoint accuracy_point(double x, const Cell& c, const std::string& tip = "") {
  const Interval ci = wilson_interval(c.correct, c.images);
  return {x, c.accuracy(), ci.lo, ci.hi, tip};
}

void cell_json(Json& j, const Cell& c) {
  j.field("images", c.images).field("accuracy", c.accuracy());
  interval_json(j, "ci95", wilson_interval(c.correct, c.images));
  j.field("misses", c.misses()).field("inputs_per_s", c.seconds > 0 ? c.images / c.seconds : 0.0)
      .field("p50_ms", c.latency.p50).field("p95_ms", c.latency.p95).field("mean_ms", c.latency.mean);
}

std::string deadline_label(double ms, double factor) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.1f ms (%gx)", ms, factor);
  return text;
}

}  // namespace

Status experiment_policies(const ExperimentSetup& setup) {
  const std::vector<std::string> files = shipped(setup.models, "resnet8-slim-s", ".shoal");
  if (files.size() != 4) return Status(StatusCode::kNotFound, "the cluster needs 4 members (resnet8-slim-s*.shoal) in " + setup.models);
  DemoClusterOptions options;
  options.member_files = files;
  options.quiet = true;
  auto cluster = start_demo_cluster(options);
  if (!cluster.is_ok()) return cluster.status();
  net::Master& master = *cluster.value()->master;
  Status st = calibrate_on_validation(master, 20, 0, setup.quiet);
  if (st.is_ok()) st = use_profile_file(master, setup.models + "/resnet8-slim.shoalprof", setup.quiet);
  if (!st.is_ok()) return st;
  const double full = cluster.value()->fastest_full_width_ms();
  std::vector<double> deadlines;
  for (double f : kDeadlineFactors) deadlines.push_back(f * full);
  auto policies = policy_list("all");
  if (!policies.is_ok()) return policies.status();
  drop_unrunnable("all", master, &policies.value());
  std::vector<Run> runs = policy_runs(policies.value(), deadlines, deadlines[1]);
  const size_t sweep_from = runs.size();
  for (const Run& run : cascade_sweep(std::vector<double>(std::begin(kAlphas), std::end(kAlphas)), deadlines[1])) {
    runs.push_back(run);
  }
  auto data = test_set(setup.cluster_images);
  if (!data.is_ok()) return data.status();
  const Images* images = &data->images;
  const std::vector<uint8_t>& labels = data->labels;
  const Load load;
  auto cells = evaluate(master, *images, labels, runs, load, setup.quiet, cluster.value()->power);
  if (!cells.is_ok()) return cells.status();

  Json j;
  j.begin_object().field("experiment", "policies").field("images", images->count)
      .field("fastest_full_width_ms", full).key("deadline_factors").begin_array();
  for (double f : kDeadlineFactors) j.value(f);
  j.end_array();
  cells_json(j, cells.value(), master, cluster.value()->names, load);
  // Each policy against adaensemble at the same deadline, on the same images.
  j.key("against_adaensemble").begin_array();
  const char* by_deadline = "deadline (multiple of the fastest worker's full-width latency)";
  Chart accuracy = accuracy_chart("AdaEnsemble Fig. 5: accuracy by policy and deadline (95% CI)", by_deadline);
  Chart latency = amount_chart("AdaEnsemble Fig. 4: median latency by policy and deadline", by_deadline, "p50 latency (ms)");
  for (size_t d = 0; d < deadlines.size(); ++d) {
    accuracy.categories.push_back(deadline_label(deadlines[d], kDeadlineFactors[d]));
  }
  latency.categories = accuracy.categories;
  std::string summary;
  const size_t ada_row = static_cast<size_t>(
      std::find(policies->begin(), policies->end(), "adaensemble") - policies->begin());
  if (ada_row == policies->size()) return Status(StatusCode::kNotFound, "the policy registry has no adaensemble");
  for (size_t p = 0; p < policies->size(); ++p) {
    ChartSeries acc{policies.value()[p], {}}, lat{policies.value()[p], {}};
    for (size_t d = 0; d < deadlines.size(); ++d) {
      const Cell& c = cells.value()[p * deadlines.size() + d];
      const Cell& ada = cells.value()[ada_row * deadlines.size() + d];
      acc.points.push_back(accuracy_point(static_cast<double>(d), c));
      lat.points.push_back({static_cast<double>(d), c.latency.p50, 0, 0, ""});
      char line[160];
      std::snprintf(line, sizeof(line), "  %-12s %8.2f ms: %6.2f %%  %3u misses  p50 %6.2f ms\n", c.run.policy.c_str(),
                    c.run.deadline_ms, 100 * c.accuracy(), c.misses(), c.latency.p50);
      summary += line;
      if (p == ada_row) continue;
      const PairedDifference diff = paired_difference(ada.right, c.right);
      j.begin_object().field("policy", c.run.policy).field("deadline_ms", c.run.deadline_ms).field("adaensemble_minus_policy", diff.mean);
      interval_json(j, "ci95", diff.interval);
      j.end_object();
    }
    accuracy.series.push_back(std::move(acc));
    latency.series.push_back(std::move(lat));
  }
  j.end_array();
  // The cascade's alpha sweep at the middle deadline.
  const char* by_alpha = "alpha: escalate when the top probability is below it";
  Chart sweep_acc = accuracy_chart("Confidence cascade (001): accuracy by threshold alpha (95% CI)", by_alpha);
  Chart sweep_lat = amount_chart("Confidence cascade (001): latency by threshold alpha", by_alpha, "latency (ms)");
  sweep_acc.series = {{"cascade", {}}};
  sweep_lat.series = {{"mean", {}}, {"p95", {}}};
  j.key("cascade_sweep").begin_array();
  for (size_t r = sweep_from; r < cells->size(); ++r) {
    const Cell& c = cells.value()[r];
    sweep_acc.series[0].points.push_back(accuracy_point(c.run.params.alpha, c));
    sweep_lat.series[0].points.push_back({c.run.params.alpha, c.latency.mean, 0, 0, ""});
    sweep_lat.series[1].points.push_back({c.run.params.alpha, c.latency.p95, 0, 0, ""});
    j.begin_object().field("alpha", c.run.params.alpha);
    cell_json(j, c);
    j.end_object();
  }
  j.end_array().end_object();
  for (const auto& [name, text] : std::vector<std::pair<std::string, std::string>>{
           {"policies-accuracy.svg", bar_chart(accuracy)}, {"policies-latency.svg", bar_chart(latency)},
           {"cascade-accuracy.svg", line_chart(sweep_acc)}, {"cascade-latency.svg", line_chart(sweep_lat)},
           {"policies.json", j.str() + "\n"}}) {
    st = write_text(setup, name, text);
    if (!st.is_ok()) return st;
  }
  std::printf("policies (%u test images per policy and deadline, emulated Table-I cluster):\n%s", images->count, summary.c_str());
  return Status::ok();
}

namespace {

// Fluid's high-throughput mode: each input to one device, the one free first, each device
// at its own sub-network (net::Master with the fluid-ht policy, N inputs in flight).
Result<Cell> fluid_throughput(const std::vector<std::string>& addresses, const Images& images,
                              const std::vector<uint8_t>& labels, bool quiet) {
  net::MasterOptions options;
  options.addresses = addresses;
  auto master = net::Master::connect(options);
  if (!master.is_ok()) return master.status();
  // One subnet a device: accuracy ranks nothing, so a few images do.
  Status st = calibrate_on_validation(*master.value(), 20, 50, true);
  if (!st.is_ok()) return st;
  Run run{"fluid-ht", kFluidDeadlineMs, {}, false};
  Load load;
  load.concurrency = static_cast<uint32_t>(addresses.size());
  auto cells = evaluate(*master.value(), images, labels, {run}, load, quiet);
  if (!cells.is_ok()) return cells.status();
  return cells.value()[0];
}

// Fluid's high-accuracy mode: the full network, every layer's channels shared between this
// device (lower half, slowed down like the worker) and the worker (upper half). With
// `kill_worker` the worker is killed first and this device computes everything itself.
Result<Cell> fluid_accuracy(const Model& model, WorkerProcess& worker, const Images& images,
                            const std::vector<uint8_t>& labels, bool kill_worker) {
  auto subnet = model.find_subnet("w1.0");
  if (!subnet.is_ok()) return subnet.status();
  auto plan = plan_channel_partition(model, subnet.value(), {1, 1});
  if (!plan.is_ok()) return plan.status();
  auto engine = Engine::create(model, *find_backend("ref"), 1);
  if (!engine.is_ok()) return engine.status();
  auto dialed = net::dial_worker(net::dialer_for(net::Transport::kTcp), worker.address(), "", "shoal experiment");
  if (!dialed.is_ok()) return dialed.status();
  std::vector<std::unique_ptr<net::Connection>> connections;
  connections.push_back(std::move(dialed->connection));
  auto runner = net::PartitionRunner::create(model, *engine.value(), plan.value(), std::move(connections), {dialed->info}, 2000);
  if (!runner.is_ok()) return runner.status();
  runner.value()->set_local_slowdown(kFluidSlowdown);
  if (kill_worker) worker.kill_now();
  Cell cell;
  std::vector<double> latency;
  const auto start = std::chrono::steady_clock::now();
  for (uint32_t i = 0; i < images.count; ++i) {
    net::PartitionTiming t;
    const Status st = runner.value()->run(images, i, wire::TensorEncoding::F32, &t);
    if (!st.is_ok()) return st;
    const bool right = top_class(runner.value()->executor().output()) == labels[i];
    cell.right.push_back(right);
    cell.correct += right;
    ++cell.images;
    latency.push_back(t.total_ms);
  }
  cell.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  cell.latency = summarize(latency);
  return cell;
}

}  // namespace

Status experiment_fluid(const ExperimentSetup& setup) {
  const std::vector<std::string> files = shipped(setup.models + "/fluid", "fluid-cnn", ".shoal");
  if (files.empty()) return Status(StatusCode::kNotFound, "no Fluid model (fluid/fluid-cnn*.shoal) in " + setup.models);
  auto model = Model::from_file(files[0]);
  if (!model.is_ok()) return model.status();
  char slowdown[16];
  std::snprintf(slowdown, sizeof(slowdown), "%.2f", kFluidSlowdown);
  auto start = [&](const std::string& member, const std::string& subnets) {
    std::vector<std::string> args = {"--model", files[0], "--slowdown", slowdown, "--backend", "ref", "--member", member};
    if (!subnets.empty()) args.insert(args.end(), {"--subnets", subnets});
    return WorkerProcess::start(self_executable(), args);
  };
  auto master_device = start("fluid-master", "lower50"), worker_device = start("fluid-worker", "upper50");
  auto ha_worker = start("fluid-worker", "");
  if (!master_device.is_ok()) return master_device.status();
  if (!worker_device.is_ok()) return worker_device.status();
  if (!ha_worker.is_ok()) return ha_worker.status();
  auto data = test_set(setup.cluster_images);
  if (!data.is_ok()) return data.status();
  const Images* images = &data->images;
  const std::vector<uint8_t>& labels = data->labels;

  struct Scenario {
    const char* mode;
    const char* online;
    Result<Cell> cell;
  };
  std::vector<Scenario> scenarios;
  scenarios.push_back({"HT", "master only", fluid_throughput({master_device->address()}, *images, labels, setup.quiet)});
  scenarios.push_back({"HT", "worker only", fluid_throughput({worker_device->address()}, *images, labels, setup.quiet)});
  scenarios.push_back({"HT", "both", fluid_throughput({master_device->address(), worker_device->address()}, *images, labels,
                                                       setup.quiet)});
  scenarios.push_back({"HA", "both", fluid_accuracy(model.value(), ha_worker.value(), *images, labels, false)});
  scenarios.push_back({"HA", "master only", fluid_accuracy(model.value(), ha_worker.value(), *images, labels, true)});
  for (const Scenario& s : scenarios) {
    if (!s.cell.is_ok()) return s.cell.status();
  }
  master_device->stop();
  worker_device->stop();

  Json j;
  j.begin_object().field("experiment", "fluid").field("model", files[0]).field("images", images->count)
      .field("device_slowdown", kFluidSlowdown).key("scenarios").begin_array();
  Chart throughput = amount_chart("Fluid Fig. 2: throughput, one device or both, HT and HA modes", "devices online",
                                  "images per second");
  Chart accuracy = accuracy_chart("Fluid Fig. 2: accuracy, one device or both, HT and HA modes (95% CI)", "devices online");
  throughput.categories = accuracy.categories = {"master only", "worker only", "both"};
  throughput.series = accuracy.series = {{"high-throughput (HT)", {}}, {"high-accuracy (HA)", {}}};
  std::string summary;
  for (const Scenario& s : scenarios) {
    const Cell& c = s.cell.value();
    const size_t series = std::string(s.mode) == "HT" ? 0 : 1;
    const double at = std::string(s.online) == "master only" ? 0 : std::string(s.online) == "worker only" ? 1 : 2;
    const double rate = c.images / c.seconds;
    throughput.series[series].points.push_back({at, rate, 0, 0, ""});
    accuracy.series[series].points.push_back(accuracy_point(at, c));
    j.begin_object().field("mode", s.mode).field("online", s.online);
    cell_json(j, c);
    j.field("hedges", c.hedges).key("units_per_device_and_subnet").begin_array();
    for (const auto& per_subnet : c.usage) {
      j.begin_array();
      for (uint32_t n : per_subnet) j.value(n);
      j.end_array();
    }
    j.end_array().end_object();
    char line[160];
    std::snprintf(line, sizeof(line), "  %s %-12s %7.1f images/s  %6.2f %%\n", s.mode, s.online, rate, 100 * c.accuracy());
    summary += line;
  }
  // HA with the master down: the worker's own sub-network, the same run as HT's worker only.
  const Cell& alone = scenarios[1].cell.value();
  throughput.series[1].points.push_back({1, alone.images / alone.seconds, 0, 0, "the worker's upper50 alone, as in HT"});
  accuracy.series[1].points.push_back(accuracy_point(1, alone, "the worker's upper50 alone, as in HT"));
  j.end_array().field("ha_worker_only", "the worker's upper50 alone: the HT worker-only run").end_object();
  for (const auto& [name, text] : std::vector<std::pair<std::string, std::string>>{
           {"fluid-throughput.svg", bar_chart(throughput)}, {"fluid-accuracy.svg", bar_chart(accuracy)},
           {"fluid.json", j.str() + "\n"}}) {
    const Status st = write_text(setup, name, text);
    if (!st.is_ok()) return st;
  }
  std::printf("fluid (%u test images per scenario, two devices emulated at %.0fx the reference kernels):\n%s", images->count, kFluidSlowdown,
              summary.c_str());
  return Status::ok();
}

}  // namespace shoal::cli
