// The cluster C API (shoal_cluster.h) over net::Master: a handle owns the master, its own
// model (insurance) and the keeper that profiles workers joining later; statuses are
// shoal.h's (the same codes as StatusCode), every entry checks its pointers first.
#include "shoal_cluster.h"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <string>

#include "shoal/c_api_status.h"
#include "shoal/net/calibrator.h"
#include "shoal/net/cluster.h"
#include "shoal/net/key_file.h"
#include "shoal/net/master.h"
#include "shoal/net/monitor.h"
#include "shoal/policy_registry.h"

struct shoal_cluster {
  std::unique_ptr<shoal::Model> local;  // before the master: it must outlive it
  std::unique_ptr<shoal::net::Master> master;
  std::unique_ptr<shoal::net::ProfileKeeper> keeper;  // after: destroyed first
  std::vector<std::string> names;
  std::mutex mu;  // policy and params, which the calibration applies
  std::string policy = "adaensemble";
  shoal::PolicyParams params;
  // Each worker's subnet names, for predictions: a callback runs under the master's lock and
  // cannot ask it. Refreshed (outside that lock) while some worker has not joined yet.
  std::mutex names_mu;
  std::vector<std::vector<std::string>> subnet_names;
  bool all_joined = false;
  // Inputs submitted whose callback has not returned yet: close waits for them.
  std::mutex flight_mu;
  std::condition_variable flight_cv;
  uint64_t in_flight = 0;
};

namespace {

using shoal::Status;
using shoal::StatusCode;
using shoal::c_api::fail;
using shoal::c_api::ok;

static_assert(static_cast<int>(shoal::Outcome::kAnswered) == SHOAL_ANSWERED &&
                  static_cast<int>(shoal::Outcome::kInsured) == SHOAL_INSURED &&
                  static_cast<int>(shoal::Outcome::kDeadlineTooShort) == SHOAL_TOO_SHORT &&
                  static_cast<int>(shoal::Outcome::kShed) == SHOAL_SHED &&
                  static_cast<int>(shoal::Outcome::kMissed) == SHOAL_MISSED &&
                  static_cast<int>(shoal::Outcome::kNoWorker) == SHOAL_NO_WORKER &&
                  static_cast<int>(shoal::Outcome::kBusy) == SHOAL_BUSY_INPUT,
              "shoal_outcome follows Outcome");

void copy_string(char* to, size_t size, const std::string& from) {
  if (size == 0) return;
  std::snprintf(to, size, "%s", from.c_str());
}

// Never under the master's lock (it asks the master).
void refresh_names(shoal_cluster* cluster) {
  {
    std::lock_guard<std::mutex> lock(cluster->names_mu);
    if (cluster->all_joined) return;
  }
  const shoal::net::Master& m = *cluster->master;
  std::vector<std::vector<std::string>> names(m.workers());
  bool all = true;
  for (uint32_t w = 0; w < names.size(); ++w) {
    for (const shoal::net::SubnetSummary& s : m.worker(w).subnets) names[w].push_back(s.name);
    all = all && !names[w].empty();
  }
  std::lock_guard<std::mutex> lock(cluster->names_mu);
  cluster->subnet_names = std::move(names);
  cluster->all_joined = all;
}

void fill(shoal_cluster& cluster, const shoal::Prediction& p, shoal_prediction* out) {
  std::memset(out, 0, sizeof(*out));
  out->ticket = p.ticket;
  out->outcome = static_cast<shoal_outcome>(p.outcome);
  out->label = p.label;
  out->probability = p.label >= 0 && static_cast<size_t>(p.label) < p.probabilities.size()
                         ? p.probabilities[static_cast<size_t>(p.label)]
                         : 0.0f;
  out->latency_ms = p.latency_ms;
  out->used_count = static_cast<uint32_t>(p.used.size());
  for (size_t i = 0; i < p.used.size() && i < SHOAL_MAX_UNITS; ++i) {
    shoal_unit& u = out->used[i];
    u.worker = p.used[i].worker;
    u.subnet = p.used[i].subnet;
    std::lock_guard<std::mutex> lock(cluster.names_mu);
    const auto& names = cluster.subnet_names;
    copy_string(u.subnet_name, sizeof(u.subnet_name),
                u.worker < names.size() && u.subnet < names[u.worker].size() ? names[u.worker][u.subnet] : "");
  }
  out->dropped_count = static_cast<uint32_t>(p.dropped.size());
}

shoal_status check_cluster(const shoal_cluster* cluster, const char* function, shoal_error* err) {
  if (!cluster || !cluster->master) return fail(err, SHOAL_INVALID_ARGUMENT, std::string(function) + ": the cluster is NULL");
  return SHOAL_OK;
}

shoal_status check_image(const shoal_cluster* cluster, const uint8_t* image, size_t bytes, double deadline_ms,
                         const char* function, shoal_error* err) {
  if (!image) return fail(err, SHOAL_INVALID_ARGUMENT, std::string(function) + ": the image is NULL");
  if (bytes != cluster->master->image_bytes()) {
    return fail(err, SHOAL_INVALID_ARGUMENT,
                std::string(function) + ": the image has " + std::to_string(bytes) + " bytes; the workers take " +
                    std::to_string(cluster->master->input_h()) + "x" + std::to_string(cluster->master->input_w()) +
                    "x" + std::to_string(cluster->master->input_c()) + " = " +
                    std::to_string(cluster->master->image_bytes()));
  }
  if (!(deadline_ms > 0) || !std::isfinite(deadline_ms)) {
    return fail(err, SHOAL_INVALID_ARGUMENT,
                std::string(function) + ": a deadline is a time in milliseconds above 0, not " + std::to_string(deadline_ms));
  }
  if (!cluster->master->profile()) {
    return fail(err, SHOAL_INVALID_ARGUMENT,
                std::string(function) + ": calibrate first (shoal_cluster_calibrate or shoal_cluster_load_profile)");
  }
  return SHOAL_OK;
}

// Images the caller holds, as the calibrator takes them (a copy).
shoal::Result<shoal::Images> caller_images(const shoal_cluster* cluster, const uint8_t* images, uint32_t count,
                                           uint32_t latency_images, const char* function) {
  if (!images || count == 0) {
    return Status(StatusCode::kInvalidArgument, std::string(function) + ": needs images (count > 0)");
  }
  if (latency_images == 0 || latency_images > count) {
    return Status(StatusCode::kInvalidArgument, std::string(function) + ": latency_images is " +
                                                    std::to_string(latency_images) + "; it takes 1 to count (" +
                                                    std::to_string(count) + "); 20 is plenty");
  }
  const shoal::net::Master& m = *cluster->master;
  shoal::Images out;
  out.count = count;
  out.h = m.input_h();
  out.w = m.input_w();
  out.c = m.input_c();
  out.pixels.assign(images, images + size_t{count} * m.image_bytes());
  return out;
}

// The chosen policy, once the master has a profile.
Status apply_policy(shoal_cluster* cluster) {
  std::lock_guard<std::mutex> lock(cluster->mu);
  return cluster->master->set_policy(cluster->policy, cluster->params);
}

}  // namespace

extern "C" {

shoal_status shoal_cluster_connect(const shoal_cluster_config* config, shoal_cluster** out, shoal_error* err) {
  if (!out) return fail(err, SHOAL_INVALID_ARGUMENT, "shoal_cluster_connect: out is NULL");
  *out = nullptr;
  if (!config) return fail(err, SHOAL_INVALID_ARGUMENT, "shoal_cluster_connect: config is NULL");
  shoal::net::ClusterConfig cluster;
  if (config->cluster_file) {
    auto loaded = shoal::net::load_cluster(config->cluster_file);
    if (!loaded.is_ok()) return fail(err, loaded.status());
    cluster = loaded.value();
    if (config->workers) return fail(err, SHOAL_INVALID_ARGUMENT, "shoal_cluster_connect: give workers or a cluster_file, not both");
  } else {
    if (!config->workers || config->worker_count == 0) {
      return fail(err, SHOAL_INVALID_ARGUMENT, "shoal_cluster_connect: no workers (set workers and worker_count, or cluster_file)");
    }
    for (size_t w = 0; w < config->worker_count; ++w) {
      if (!config->workers[w]) return fail(err, SHOAL_INVALID_ARGUMENT, "shoal_cluster_connect: worker " + std::to_string(w) + " is NULL");
      cluster.addresses.emplace_back(config->workers[w]);
    }
    cluster.names = cluster.addresses;
  }
  if (config->key_file) {
    auto key = shoal::net::load_key_file(config->key_file);
    if (!key.is_ok()) return fail(err, key.status());
    cluster.key = key.value();
  }
  if (config->transport) cluster.transport = config->transport;
  auto options = shoal::net::master_options(cluster);
  if (!options.is_ok()) return fail(err, options.status());
  if (config->policy) cluster.policy = config->policy;
  const Status known = shoal::check_policy_name(cluster.policy);
  if (!known.is_ok()) return fail(err, known);

  auto handle = std::unique_ptr<shoal_cluster>(new (std::nothrow) shoal_cluster);
  if (!handle) return fail(err, SHOAL_OUT_OF_MEMORY, "out of memory");
  handle->policy = cluster.policy;
  handle->names = cluster.names;
  if (config->local_model) {
    auto model = shoal::Model::from_file(config->local_model);
    if (!model.is_ok()) return fail(err, model.status());
    handle->local = std::make_unique<shoal::Model>(std::move(model.value()));
    options->local_model = handle->local.get();
    handle->names.push_back("master");
  }
  options->wait_for_first_ms = static_cast<int>(std::min<unsigned>(config->wait_ms, std::numeric_limits<int>::max()));
  auto master = shoal::net::Master::connect(options.value());
  if (!master.is_ok()) return fail(err, master.status());
  handle->master = std::move(master.value());
  *out = handle.release();
  return ok(err);
}

void shoal_cluster_close(shoal_cluster* cluster) {
  if (!cluster) return;
  {
    // Every input is answered by its deadline (missed at worst), so this ends.
    std::unique_lock<std::mutex> lock(cluster->flight_mu);
    cluster->flight_cv.wait(lock, [cluster] { return cluster->in_flight == 0; });
  }
  cluster->keeper.reset();
  cluster->master.reset();
  delete cluster;
}

uint32_t shoal_cluster_input_height(const shoal_cluster* cluster) { return cluster ? cluster->master->input_h() : 0; }
uint32_t shoal_cluster_input_width(const shoal_cluster* cluster) { return cluster ? cluster->master->input_w() : 0; }
uint32_t shoal_cluster_input_channels(const shoal_cluster* cluster) { return cluster ? cluster->master->input_c() : 0; }
size_t shoal_cluster_image_bytes(const shoal_cluster* cluster) { return cluster ? cluster->master->image_bytes() : 0; }
uint32_t shoal_cluster_classes(const shoal_cluster* cluster) { return cluster ? cluster->master->classes() : 0; }

shoal_status shoal_cluster_calibrate(shoal_cluster* cluster, const uint8_t* images, const uint8_t* labels,
                                     uint32_t count, uint32_t latency_images, shoal_error* err) {
  if (const shoal_status s = check_cluster(cluster, "shoal_cluster_calibrate", err); s != SHOAL_OK) return s;
  if (!labels) {
    return fail(err, SHOAL_INVALID_ARGUMENT,
                "shoal_cluster_calibrate: labels are NULL; without labels, load a profile (shoal_cluster_load_profile)");
  }
  auto held = caller_images(cluster, images, count, latency_images, "shoal_cluster_calibrate");
  if (!held.is_ok()) return fail(err, held.status());
  const uint32_t classes = cluster->master->classes();
  for (uint32_t i = 0; i < count; ++i) {
    if (labels[i] >= classes) {
      return fail(err, SHOAL_INVALID_ARGUMENT, "shoal_cluster_calibrate: label " + std::to_string(i) + " is " +
                                                   std::to_string(labels[i]) + "; the workers have " +
                                                   std::to_string(classes) + " classes (0 to " +
                                                   std::to_string(classes - 1) + ")");
    }
  }
  shoal::net::Master& master = *cluster->master;
  Status st = shoal::net::calibrate_latency(master, held.value(), 0, latency_images);
  if (!st.is_ok()) return fail(err, st);
  const std::vector<uint8_t> truth(labels, labels + count);
  auto profile = shoal::net::measure_accuracy(master, held.value(), truth, 0, count);
  if (!profile.is_ok()) return fail(err, profile.status());
  master.set_profile(std::make_shared<shoal::EnsembleProfile>(std::move(profile.value())));
  st = apply_policy(cluster);
  if (!st.is_ok()) return fail(err, st);
  // A worker that joins later with a member of its own is measured on the same images.
  cluster->keeper = std::make_unique<shoal::net::ProfileKeeper>(master, held.value(), truth, 0, count);
  return ok(err);
}

shoal_status shoal_cluster_load_profile(shoal_cluster* cluster, const char* profile_path, const uint8_t* images,
                                        uint32_t count, uint32_t latency_images, shoal_error* err) {
  if (const shoal_status s = check_cluster(cluster, "shoal_cluster_load_profile", err); s != SHOAL_OK) return s;
  if (!profile_path) return fail(err, SHOAL_INVALID_ARGUMENT, "shoal_cluster_load_profile: the profile path is NULL");
  auto held = caller_images(cluster, images, count, latency_images, "shoal_cluster_load_profile");
  if (!held.is_ok()) return fail(err, held.status());
  auto profile = cluster->master->use_profile_file(profile_path);  // before the timing: a bad file fails at once
  if (!profile.is_ok()) return fail(err, profile.status());
  Status st = shoal::net::calibrate_latency(*cluster->master, held.value(), 0, latency_images);
  if (!st.is_ok()) return fail(err, st);
  st = apply_policy(cluster);
  if (!st.is_ok()) return fail(err, st);
  return ok(err);
}

shoal_status shoal_cluster_set_policy(shoal_cluster* cluster, const char* policy, const shoal_policy_params* params,
                                      shoal_error* err) {
  if (const shoal_status s = check_cluster(cluster, "shoal_cluster_set_policy", err); s != SHOAL_OK) return s;
  if (!policy) return fail(err, SHOAL_INVALID_ARGUMENT, "shoal_cluster_set_policy: the policy is NULL");
  const Status known = shoal::check_policy_name(policy);
  if (!known.is_ok()) return fail(err, known);
  shoal::PolicyParams p;
  if (params && params->alpha > 0) p.alpha = params->alpha;
  if (params && params->static_target_ms > 0) p.static_target_ms = params->static_target_ms;
  {
    std::lock_guard<std::mutex> lock(cluster->mu);
    cluster->policy = policy;
    cluster->params = p;
  }
  if (!cluster->master->profile()) return ok(err);  // applied by the calibration
  const Status st = apply_policy(cluster);
  if (!st.is_ok()) return fail(err, st);
  return ok(err);
}

shoal_status shoal_cluster_infer(shoal_cluster* cluster, const uint8_t* image, size_t image_bytes, double deadline_ms,
                                 int priority, float* probabilities, size_t classes, shoal_prediction* prediction,
                                 shoal_error* err) {
  if (const shoal_status s = check_cluster(cluster, "shoal_cluster_infer", err); s != SHOAL_OK) return s;
  if (!prediction) return fail(err, SHOAL_INVALID_ARGUMENT, "shoal_cluster_infer: prediction is NULL");
  if (probabilities && classes < cluster->master->classes()) {
    return fail(err, SHOAL_INVALID_ARGUMENT, "shoal_cluster_infer: room for " + std::to_string(classes) +
                                                 " probabilities; the workers have " +
                                                 std::to_string(cluster->master->classes()) + " classes");
  }
  if (const shoal_status s = check_image(cluster, image, image_bytes, deadline_ms, "shoal_cluster_infer", err); s != SHOAL_OK) {
    return s;
  }
  refresh_names(cluster);
  const shoal::Prediction p = cluster->master->infer(image, deadline_ms, priority);
  fill(*cluster, p, prediction);
  if (probabilities) {
    std::fill(probabilities, probabilities + classes, 0.0f);
    std::copy(p.probabilities.begin(), p.probabilities.end(), probabilities);
  }
  return ok(err);
}

shoal_status shoal_cluster_submit(shoal_cluster* cluster, const uint8_t* image, size_t image_bytes,
                                  double deadline_ms, int priority, shoal_prediction_callback done, void* user,
                                  uint64_t* ticket, shoal_error* err) {
  if (const shoal_status s = check_cluster(cluster, "shoal_cluster_submit", err); s != SHOAL_OK) return s;
  if (!done) return fail(err, SHOAL_INVALID_ARGUMENT, "shoal_cluster_submit: done (the callback) is NULL");
  if (const shoal_status s = check_image(cluster, image, image_bytes, deadline_ms, "shoal_cluster_submit", err); s != SHOAL_OK) {
    return s;
  }
  refresh_names(cluster);
  {
    std::lock_guard<std::mutex> lock(cluster->flight_mu);
    ++cluster->in_flight;
  }
  const uint64_t t = cluster->master->submit(image, deadline_ms, priority, [cluster, done, user](shoal::Prediction&& p) {
    shoal_prediction out;
    fill(*cluster, p, &out);
    done(user, &out, p.probabilities.empty() ? nullptr : p.probabilities.data(), p.probabilities.size());
    std::lock_guard<std::mutex> lock(cluster->flight_mu);
    if (--cluster->in_flight == 0) cluster->flight_cv.notify_all();
  });
  if (ticket) *ticket = t;
  return ok(err);
}

size_t shoal_cluster_worker_count(const shoal_cluster* cluster) { return cluster ? cluster->master->workers() : 0; }

shoal_status shoal_cluster_worker(const shoal_cluster* cluster, uint32_t worker, shoal_worker_state* state,
                                  shoal_error* err) {
  if (const shoal_status s = check_cluster(cluster, "shoal_cluster_worker", err); s != SHOAL_OK) return s;
  if (!state) return fail(err, SHOAL_INVALID_ARGUMENT, "shoal_cluster_worker: state is NULL");
  const shoal::net::MasterStatus status = cluster->master->status();
  if (worker >= status.workers.size()) {
    return fail(err, SHOAL_INVALID_ARGUMENT, "shoal_cluster_worker: worker " + std::to_string(worker) + " of " +
                                                 std::to_string(status.workers.size()));
  }
  const shoal::net::WorkerState& w = status.workers[worker];
  std::memset(state, 0, sizeof(*state));
  copy_string(state->address, sizeof(state->address), cluster->master->address(worker));
  copy_string(state->member, sizeof(state->member), w.info.member);
  state->subnets = static_cast<uint32_t>(w.info.subnets.size());
  state->up = w.up;
  const std::vector<std::string> unprofiled = cluster->master->unprofiled_members();
  state->planned = w.up && cluster->master->profile() && !w.info.member.empty() &&
                   std::find(unprofiled.begin(), unprofiled.end(), w.info.member) == unprofiled.end();
  state->for_s = w.for_s;
  state->link_rtt_ms = w.link.rtt_ms;
  state->cpu_load = w.reported ? w.report.cpu_load : -1;
  state->temperature_c = w.reported ? w.report.temperature_c : -1;
  state->queue = w.reported ? w.report.queue_length : 0;
  state->in_flight = w.in_flight;
  return ok(err);
}

shoal_status shoal_cluster_worker_subnet(const shoal_cluster* cluster, uint32_t worker, uint32_t subnet,
                                         char* name, size_t name_size, double* predicted_ms, shoal_error* err) {
  if (const shoal_status s = check_cluster(cluster, "shoal_cluster_worker_subnet", err); s != SHOAL_OK) return s;
  if (worker >= cluster->master->workers()) {
    return fail(err, SHOAL_INVALID_ARGUMENT, "shoal_cluster_worker_subnet: worker " + std::to_string(worker) +
                                                 " of " + std::to_string(cluster->master->workers()));
  }
  const shoal::net::WorkerInfo info = cluster->master->worker(worker);
  if (subnet >= info.subnets.size()) {
    return fail(err, SHOAL_INVALID_ARGUMENT, "shoal_cluster_worker_subnet: subnet " + std::to_string(subnet) +
                                                 "; worker " + std::to_string(worker) + " serves " +
                                                 std::to_string(info.subnets.size()));
  }
  if (name) copy_string(name, name_size, info.subnets[subnet].name);
  if (predicted_ms) {
    const std::vector<std::vector<double>> predictions = cluster->master->predictions();
    *predicted_ms = worker < predictions.size() && subnet < predictions[worker].size()
                        ? predictions[worker][subnet]
                        : std::numeric_limits<double>::infinity();
  }
  return ok(err);
}

void shoal_cluster_get_counters(const shoal_cluster* cluster, shoal_cluster_counters* counters) {
  if (!counters) return;
  std::memset(counters, 0, sizeof(*counters));
  if (!cluster) return;
  const shoal::net::MasterCounters c = cluster->master->counters();
  counters->submitted = c.orchestrator.submitted;
  counters->answered = c.orchestrator.answered;
  counters->insured = c.orchestrator.insured;
  counters->missed = c.orchestrator.missed;
  counters->shed = c.orchestrator.shed;
  counters->too_short = c.orchestrator.too_short;
  counters->no_worker = c.orchestrator.no_worker;
  counters->late_replies = c.orchestrator.late_replies;
  counters->hedges = c.orchestrator.hedges;
  counters->disconnects = c.disconnects;
  counters->reconnects = c.reconnects;
  counters->joins = c.joins;
}

shoal_status shoal_cluster_status_json(const shoal_cluster* cluster, char* buffer, size_t size, size_t* needed,
                                       shoal_error* err) {
  if (const shoal_status s = check_cluster(cluster, "shoal_cluster_status_json", err); s != SHOAL_OK) return s;
  if (!needed || (!buffer && size > 0)) {
    return fail(err, SHOAL_INVALID_ARGUMENT, "shoal_cluster_status_json: needed is NULL, or buffer is NULL with a size");
  }
  const std::string json = shoal::net::master_status_json(cluster->master->status(), cluster->names);
  *needed = json.size() + 1;
  if (size > 0) copy_string(buffer, size, json);
  return ok(err);
}

}  // extern "C"
