#include "ensemble_eval.h"

#include <unistd.h>

#include <cstdio>

namespace shoal::cli {

Status calibrate_on_validation(net::Master& master, uint32_t count, bool quiet) {
  const std::string dir = kFashionMnistDir;
  auto images = read_idx_images(dir + "/train-images-idx3-ubyte.gz");
  if (!images.is_ok()) return images.status();
  auto labels = read_idx_labels(dir + "/train-labels-idx1-ubyte.gz");
  if (!labels.is_ok()) return labels.status();
  const uint32_t first = validation_first(images->count);
  count = std::min(count, images->count - first);
  if (!quiet) std::fprintf(stderr, "calibrating: %u validation images x every worker and subnet\n", count);
  return master.calibrate(images.value(), labels.value(), first, count, [&](uint32_t done) {
    if (!quiet && isatty(STDERR_FILENO)) std::fprintf(stderr, "\r  %u/%u", done, count);
    if (!quiet && done == count && isatty(STDERR_FILENO)) std::fprintf(stderr, "\n");
  });
}

Status use_profile_file(net::Master& master, const std::string& path, bool quiet) {
  auto profile = read_profile(path);
  if (!profile.is_ok()) return profile.status();
  Status st = master.use_profile(profile.value());
  if (!st.is_ok()) return Status(st.code(), path + ": " + st.message());
  if (!quiet) std::fprintf(stderr, "ensemble accuracy from %s (%u images of %s)\n", path.c_str(), profile->count, profile->images.c_str());
  return Status::ok();
}

Result<std::vector<Cell>> evaluate(net::Master& master, const Images& images, const std::vector<uint8_t>& labels,
                                   const std::vector<std::string>& policies, const std::vector<double>& deadlines,
                                   double static_target_ms, bool quiet) {
  std::vector<Cell> cells;
  for (const std::string& policy : policies) {
    double static_fixed_for = -1;  // the static ensemble is chosen once per latency target
    for (double deadline : deadlines) {
      const double target = static_target_ms > 0 ? static_target_ms : deadline;
      if (policy != "static" || target != static_fixed_for) {
        SHOAL_RETURN_IF_ERROR(master.set_policy(policy, target));
        static_fixed_for = policy == "static" ? target : -1;
      }
      Cell cell;
      cell.policy = policy;
      cell.deadline_ms = deadline;
      for (uint32_t w = 0; w < master.workers(); ++w) cell.usage.emplace_back(master.worker(w).subnets.size(), 0);
      const uint64_t late_before = master.counters().late_replies;
      std::vector<double> latency, plan_us;
      for (uint32_t i = 0; i < images.count; ++i) {
        const net::Prediction p = master.infer(images.image(i), deadline);
        ++cell.images;
        if (p.label < 0) {
          ++cell.misses;
        } else {
          cell.correct += p.label == labels[i];
          latency.push_back(p.latency_ms);
        }
        plan_us.push_back(p.plan_us);
        cell.dropped += p.dropped.size();
        for (const Choice& c : p.used) ++cell.usage[c.worker][c.subnet];
      }
      cell.late_replies = master.counters().late_replies - late_before;
      cell.latency = summarize(latency);
      cell.plan_us = summarize(plan_us);
      if (!quiet) {
        std::fprintf(stderr, "  %-11s deadline %7.2f ms: accuracy %.2f%%, %u misses\n", policy.c_str(), deadline,
                     100.0 * cell.correct / cell.images, cell.misses);
      }
      cells.push_back(std::move(cell));
    }
  }
  return cells;
}

void print_cluster(const net::Master& master, const std::vector<std::string>& names) {
  const auto predicted = master.predictions();
  std::printf("workers and predicted latency after calibration (ms, margins included) per subnet:\n");
  for (uint32_t w = 0; w < master.workers(); ++w) {
    const net::WorkerInfo& info = master.worker(w);
    std::printf("  %-10s member %-14s", names[w].c_str(), info.member.c_str());
    for (uint32_t s = 0; s < info.subnets.size(); ++s) {
      std::printf(" %s %.2f", info.subnets[s].name.c_str(), predicted[w][s]);
    }
    std::printf("\n");
  }
  const EnsembleProfile& profile = master.profile();
  std::printf("validation accuracy, single members:");
  for (uint32_t w = 0; w < master.workers(); ++w) {
    std::printf(" %s", names[w].c_str());
    for (uint32_t s = 0; s < profile.subnets(w); ++s) std::printf("%s%.1f%%", s ? "/" : " ", 100 * profile.single(w, s));
  }
  std::printf("\nbest ensemble on validation: %.1f%%\n", 100 * profile.ranked_accuracy(0));
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
  return text.empty() ? "-" : text;
}

}  // namespace

void print_cells(const std::vector<Cell>& cells, const net::Master& master, const std::vector<std::string>& names) {
  std::printf("\n%-11s %9s %9s %7s %8s %8s %8s %8s %9s  %s\n", "policy", "deadline", "accuracy", "misses", "dropped",
              "p50 ms", "p99 ms", "late", "plan us", "members used (share of inputs)");
  for (const Cell& c : cells) {
    std::printf("%-11s %6.2f ms %8.2f%% %7u %8llu %8.2f %8.2f %8llu %9.1f  %s\n", c.policy.c_str(), c.deadline_ms,
                100.0 * c.correct / c.images, c.misses, static_cast<unsigned long long>(c.dropped), c.latency.p50,
                c.latency.p99, static_cast<unsigned long long>(c.late_replies), c.plan_us.p50,
                usage_text(c, master, names).c_str());
  }
  std::printf("(accuracy counts a miss as wrong; dropped = member results discarded as late or failed;\n"
              " late = replies that arrived after their deadline)\n");
}

void cells_json(Json& j, const std::vector<Cell>& cells, const net::Master& master, const std::vector<std::string>& names) {
  j.key("results").begin_array();
  for (const Cell& c : cells) {
    j.begin_object().field("policy", c.policy).field("deadline_ms", c.deadline_ms).field("images", c.images)
        .field("accuracy", double(c.correct) / c.images).field("misses", c.misses).field("dropped", c.dropped)
        .field("late_replies", c.late_replies).field("p50_ms", c.latency.p50).field("p95_ms", c.latency.p95)
        .field("p99_ms", c.latency.p99).field("plan_us_p50", c.plan_us.p50);
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
