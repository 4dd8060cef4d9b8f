#include "ensemble_eval.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>

#include "command.h"
#include "shoal/net/calibrator.h"
#include "shoal/policy_registry.h"

namespace shoal::cli {

uint32_t Cell::misses() const {
  uint32_t n = 0;
  for (const auto& [o, count] : outcomes) n += (o == Outcome::kAnswered || o == Outcome::kInsured) ? 0 : count;
  return n;
}

namespace {

net::Progress progress_line(const char* what, bool quiet) {
  if (quiet || !isatty(STDERR_FILENO)) return nullptr;
  return [what](uint32_t done, uint32_t total) {
    std::fprintf(stderr, "\r  %s %u/%u", what, done, total);
    if (done == total) std::fprintf(stderr, "\n");
  };
}

}  // namespace

Status calibrate_on_validation(net::Master& master, uint32_t latency_images, uint32_t accuracy_images, bool quiet,
                               std::unique_ptr<net::ProfileKeeper>* keeper, net::ProfileKeeper::Told told) {
  const std::string dir = kFashionMnistDir;
  auto images = read_idx_images(dir + "/train-images-idx3-ubyte.gz");
  if (!images.is_ok()) return images.status();
  auto labels = read_idx_labels(dir + "/train-labels-idx1-ubyte.gz");
  if (!labels.is_ok()) return labels.status();
  const uint32_t first = validation_first(images->count);
  const uint32_t available = images->count - first;
  latency_images = std::min(latency_images, available);
  accuracy_images = std::min(accuracy_images, available);
  if (!quiet) std::fprintf(stderr, "calibrating latency: %u validation images x every worker and subnet\n", latency_images);
  SHOAL_RETURN_IF_ERROR(net::calibrate_latency(master, images.value(), first, latency_images, progress_line("latency", quiet)));
  if (accuracy_images == 0) return Status::ok();
  if (!quiet) {
    std::fprintf(stderr, "measuring accuracy: %u validation images x every member and subnet\n", accuracy_images);
  }
  auto profile = net::measure_accuracy(master, images.value(), labels.value(), first, accuracy_images,
                                       progress_line("accuracy", quiet));
  if (!profile.is_ok()) return profile.status();
  master.set_profile(std::make_shared<EnsembleProfile>(std::move(profile.value())));
  if (keeper) {
    *keeper = std::make_unique<net::ProfileKeeper>(master, images.value(), labels.value(), first, accuracy_images,
                                                   std::move(told));
  }
  return Status::ok();
}

Status use_profile_file(net::Master& master, const std::string& path, bool quiet) {
  auto profile = master.use_profile_file(path);
  if (!profile.is_ok()) return profile.status();
  if (!quiet) std::fprintf(stderr, "ensemble accuracy from %s (%u images of %s)\n", path.c_str(), profile->count, profile->images.c_str());
  return Status::ok();
}

Result<std::vector<std::string>> policy_list(const std::string& names) {
  if (names == "all") return policy_names();
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= names.size()) {
    const size_t comma = names.find(',', start);
    const std::string name = names.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    SHOAL_RETURN_IF_ERROR(check_policy_name(name));
    out.push_back(name);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

void drop_unrunnable(const std::string& names, const net::Master& master, std::vector<std::string>* policies) {
  if (names != "all" || master.segments()) return;
  std::string dropped;
  for (auto it = policies->begin(); it != policies->end();) {
    if (!policy_needs_segments(*it)) {
      ++it;
      continue;
    }
    dropped += (dropped.empty() ? "" : ", ") + *it;
    it = policies->erase(it);
  }
  if (!dropped.empty()) {
    std::fprintf(stderr, "not running %s: they split the master's own model (--local-model) with workers serving "
                         "the same file, and none does\n", dropped.c_str());
  }
}

namespace {
std::atomic<bool> stop_requested{false};
}

void stop_evaluating() { stop_requested = true; }

Result<std::vector<Cell>> evaluate(net::Master& master, const Images& images, const std::vector<uint8_t>& labels,
                                   const std::vector<Run>& runs, const Load& load, bool quiet, const Power& power) {
  std::vector<Cell> cells;
  for (const Run& run : runs) {
    if (stop_requested) break;
    SHOAL_RETURN_IF_ERROR(master.set_policy(run.policy, run.params));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let the last run's stragglers come home
    Cell cell;
    cell.run = run;
    for (uint32_t w = 0; w < master.workers(); ++w) cell.usage.emplace_back(master.worker(w).subnets.size(), 0);
    const net::MasterCounters before = master.counters();
    std::vector<Prediction> results(images.count);
    std::mutex mu;
    std::condition_variable cv;
    uint32_t in_flight = 0;
    std::mt19937_64 rng(12345);  // the same arrival times for every policy
    std::exponential_distribution<double> gap(load.rate > 0 ? load.rate : 1.0);
    const auto start = std::chrono::steady_clock::now();
    double arrival_s = 0;
    uint32_t submitted = 0;
    Progress progress(quiet);  // each row as it goes, with the time it has left
    for (uint32_t i = 0; i < images.count && !stop_requested; ++i, ++submitted) {
      const double spent_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      char row[160];
      std::snprintf(row, sizeof(row), "%s at %.2f ms deadline, about %.0f s left", run.policy.c_str(), run.deadline_ms,
                    i ? spent_s / i * (images.count - i) : 0.0);
      progress.update(row, i, images.count);
      if (load.rate > 0) {
        arrival_s += gap(rng);
        std::this_thread::sleep_until(start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                  std::chrono::duration<double>(arrival_s)));
      }
      {
        std::unique_lock<std::mutex> lock(mu);
        if (load.rate <= 0) cv.wait(lock, [&] { return in_flight < std::max(1u, load.concurrency); });
        ++in_flight;
      }
      Submission input;
      input.image.assign(images.image(i), images.image(i) + master.image_bytes());
      input.budget_ms = run.deadline_ms;
      input.priority = static_cast<int>(i % std::max(1u, load.priorities));
      input.truth = i < labels.size() ? labels[i] : -1;  // the master's status counts it right or wrong
      input.done = [&, i](Prediction&& p) {
        std::lock_guard<std::mutex> lock(mu);
        results[i] = std::move(p);
        --in_flight;
        cv.notify_all();
      };
      master.submit(std::move(input));
    }
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return in_flight == 0; });
    }
    progress.done();
    cell.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const net::MasterCounters after = master.counters();
    cell.late_replies = after.orchestrator.late_replies - before.orchestrator.late_replies;
    if (power.given) {
      std::vector<WorkerWork> work(after.orchestrator.work.size());
      for (size_t w = 0; w < work.size() && w < before.orchestrator.work.size(); ++w) {
        work[w].compute_ms = after.orchestrator.work[w].compute_ms - before.orchestrator.work[w].compute_ms;
        work[w].bytes = after.orchestrator.work[w].bytes - before.orchestrator.work[w].bytes;
      }
      cell.energy = energy_used(power.workers, power.master, work, cell.seconds);
      cell.energy_known = true;
    }
    cell.insurance_runs = after.orchestrator.insurance_runs - before.orchestrator.insurance_runs;
    std::vector<double> latency, plan_us;
    for (uint32_t i = 0; i < submitted; ++i) {
      const Prediction& p = results[i];
      ++cell.images;
      ++cell.outcomes[p.outcome];
      cell.right.push_back(p.label >= 0 && p.label == labels[i]);
      if (p.label >= 0) {
        cell.correct += p.label == labels[i];
        latency.push_back(p.latency_ms);
      }
      plan_us.push_back(p.plan_us);
      cell.dropped += p.dropped.size();
      cell.hedges += p.hedges;
      cell.narrowed += p.narrowed;
      if (*p.mode) ++cell.modes[p.mode];
      for (const Unit& u : p.used) {  // a worker that joined during the row gets its row now
        auto& row = cell.usage[u.worker];
        if (u.subnet >= row.size()) row.resize(u.subnet + 1, 0);
        ++row[u.subnet];
      }
    }
    cell.latency = summarize(latency);
    cell.plan_us = summarize(plan_us);
    if (!quiet) {
      std::fprintf(stderr, "  %-11s deadline %7.2f ms%s: accuracy %.2f%%, %u misses, %.0f inputs/s\n", run.policy.c_str(),
                   run.deadline_ms, run.show_alpha ? (" alpha " + std::to_string(run.params.alpha).substr(0, 4)).c_str() : "",
                   100.0 * cell.accuracy(), cell.misses(), cell.images / cell.seconds);
    }
    cells.push_back(std::move(cell));
  }
  return cells;
}

void print_cluster(const net::Master& master, const std::vector<std::string>& names) {
  const auto predicted = master.predictions();
  std::printf("workers and predicted latency after calibration (ms, margins included) per subnet:\n");
  for (uint32_t w = 0; w < master.workers(); ++w) {
    const net::WorkerInfo info = master.worker(w);
    if (info.subnets.empty()) {
      std::printf("  %-10s not up yet: used once it answers\n", names[w].c_str());
      continue;
    }
    std::printf("  %-10s member %-16s", names[w].c_str(), info.member.c_str());
    for (uint32_t s = 0; s < info.subnets.size() && s < predicted[w].size(); ++s) {
      std::printf(" %s %.2f", info.subnets[s].name.c_str(), predicted[w][s]);
    }
    const LinkEstimate link = master.links()[w];
    if (master.local(w)) {
      std::printf("  (the master's own engine: insurance)\n");
    } else if (link.rtt_ms >= 0) {
      std::printf("  link rtt %.3f ms%s\n", link.rtt_ms,
                  link.ms_per_kib > 0 ? (", " + std::to_string(static_cast<int>(1.0 / link.ms_per_kib)) + " KiB/ms").c_str() : "");
    } else {
      std::printf("\n");
    }
  }
  const auto profile = master.profile();
  if (!profile) return;
  std::printf("validation accuracy of each member alone:");
  for (uint32_t m = 0; m < profile->members(); ++m) {
    std::printf(" %s", m < master.members().size() ? master.members()[m].c_str() : "?");
    for (uint32_t s = 0; s < profile->subnets(m); ++s) std::printf("%s%.1f%%", s ? "/" : " ", 100 * profile->single(m, s));
  }
  std::printf("\nbest ensemble on validation: %.1f%% (%s)\n", 100 * profile->best_accuracy(),
              profile->exact() ? "every configuration measured" : "modelled from pairs");
}

namespace {

std::string usage_text(const Cell& cell, const net::Master& master, const std::vector<std::string>& names) {
  std::string text;
  for (uint32_t w = 0; w < cell.usage.size(); ++w) {
    for (uint32_t s = 0; s < cell.usage[w].size(); ++s) {
      if (!cell.usage[w][s]) continue;
      char item[96];
      std::snprintf(item, sizeof(item), "%s%s@%s %.0f%%", text.empty() ? "" : ", ", names[w].c_str(),
                    master.worker(w).subnets[s].name.c_str(), 100.0 * cell.usage[w][s] / cell.images);
      text += item;
    }
  }
  for (const auto& [mode, n] : cell.modes) {
    char item[64];
    std::snprintf(item, sizeof(item), "; %s %.0f%%", mode.c_str(), 100.0 * n / cell.images);
    text += item;
  }
  return text.empty() ? "-" : text;
}

std::string policy_label(const Run& run) {
  if (!run.show_alpha) return run.policy;
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%s a=%.2f", run.policy.c_str(), run.params.alpha);
  return buf;
}

uint32_t count(const Cell& c, Outcome o) {
  const auto it = c.outcomes.find(o);
  return it == c.outcomes.end() ? 0 : it->second;
}

}  // namespace

void print_cells(const std::vector<Cell>& cells, const net::Master& master, const std::vector<std::string>& names,
                 const Load& load) {
  if (load.rate > 0) std::printf("\nopen-loop Poisson arrivals at %.0f inputs/s\n", load.rate);
  if (load.rate <= 0 && load.concurrency > 1) std::printf("\nclosed loop, %u inputs in flight\n", load.concurrency);
  const bool energy = !cells.empty() && cells.front().energy_known;
  std::printf("\n%-16s %9s %9s %6s %7s %7s %8s %8s %8s %6s %7s%s  %s\n", "policy", "deadline", "accuracy", "misses",
              "insured", "in/s", "p50 ms", "p99 ms", "dropped", "late", "plan us", energy ? "  mJ/in (active)" : "",
              "members used (share of inputs)");
  for (const Cell& c : cells) {
    char joules[48] = "";
    if (energy && c.images) {
      std::snprintf(joules, sizeof(joules), " %7.2f (%6.3f)", 1e3 * c.energy.total() / c.images,
                    1e3 * c.energy.active_joules / c.images);
    }
    std::printf("%-16s %6.2f ms %8.2f%% %6u %7u %7.0f %8.2f %8.2f %8llu %6llu %7.1f%s  %s\n", policy_label(c.run).c_str(),
                c.run.deadline_ms, 100.0 * c.accuracy(), c.misses(), count(c, Outcome::kInsured), c.images / c.seconds,
                c.latency.p50, c.latency.p99, static_cast<unsigned long long>(c.dropped),
                static_cast<unsigned long long>(c.late_replies), c.plan_us.p50, joules, usage_text(c, master, names).c_str());
  }
  if (energy) {
    std::printf("(mJ/in: energy per input from the devices' power models: every device idle for the run, plus\n"
                " compute above idle as each engine reported it, the master's too, and every byte at both ends;\n"
                " active: without idle)\n");
  }
  std::printf("(accuracy counts a miss as wrong; misses = inputs answered without a label: deadline too short,\n"
              " shed, missed, no worker; insured = answered by the master's own narrow run alone;\n"
              " dropped = units discarded as late or failed; late = replies after their input was answered)\n");
}

std::vector<Run> policy_runs(const std::vector<std::string>& policies, const std::vector<double>& deadlines,
                             double static_target_ms) {
  std::vector<Run> runs;
  for (const std::string& policy : policies) {
    for (double deadline : deadlines) {
      Run run{policy, deadline, {}, false};
      run.params.static_target_ms = static_target_ms;
      runs.push_back(run);
    }
  }
  return runs;
}

std::vector<Run> cascade_sweep(const std::vector<double>& alphas, double deadline_ms) {
  std::vector<Run> runs;
  for (double alpha : alphas) {
    Run run{"cascade", deadline_ms, {}, true};
    run.params.alpha = alpha;
    runs.push_back(run);
  }
  return runs;
}

void cells_json(Json& j, const std::vector<Cell>& cells, const net::Master& master, const std::vector<std::string>& names,
                const Load& load) {
  j.key("load").begin_object().field("rate", load.rate).field("concurrency", load.concurrency)
      .field("priorities", load.priorities).end_object();
  j.key("results").begin_array();
  for (const Cell& c : cells) {
    j.begin_object().field("policy", c.run.policy).field("deadline_ms", c.run.deadline_ms).field("images", c.images)
        .field("accuracy", c.accuracy()).field("misses", c.misses()).field("dropped", c.dropped)
        .field("late_replies", c.late_replies).field("hedges", c.hedges).field("insurance_runs", c.insurance_runs)
        .field("narrowed", c.narrowed).field("seconds", c.seconds).field("inputs_per_s", c.images / c.seconds)
        .field("p50_ms", c.latency.p50).field("p95_ms", c.latency.p95).field("p99_ms", c.latency.p99)
        .field("plan_us_p50", c.plan_us.p50);
    if (c.energy_known && c.images) {
      j.field("energy_j_per_input", c.energy.total() / c.images)
          .field("active_energy_j_per_input", c.energy.active_joules / c.images);
    }
    if (c.run.show_alpha) j.field("alpha", c.run.params.alpha);
    j.key("outcomes").begin_object();
    for (const auto& [o, n] : c.outcomes) j.field(outcome_name(o), n);
    j.end_object();
    j.key("modes").begin_object();
    for (const auto& [mode, n] : c.modes) j.field(mode, n);
    j.end_object();
    j.key("usage").begin_array();
    for (uint32_t w = 0; w < c.usage.size(); ++w) {
      for (uint32_t s = 0; s < c.usage[w].size(); ++s) {
        if (!c.usage[w][s]) continue;
        j.begin_object().field("worker", names[w]).field("subnet", master.worker(w).subnets[s].name)
            .field("inputs", c.usage[w][s]).end_object();
      }
    }
    j.end_array().end_object();
  }
  j.end_array();
}

}  // namespace shoal::cli
