#include "shoal/net/calibrator.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>

namespace shoal::net {
namespace {

constexpr double kCalibrationBudgetMs = 30000;  // generous: calibration waits for every unit
constexpr uint32_t kWindow = 4;                 // accuracy inputs in flight

Status check_images(const Master& master, const Images& images, uint32_t first, uint32_t count) {
  const WorkerInfo& info = master.worker(0);
  if (images.h != info.input_h || images.w != info.input_w || images.c != info.input_c) {
    return Status(StatusCode::kInvalidArgument, "calibration images are " + std::to_string(images.h) + "x" +
                                                    std::to_string(images.w) + "x" + std::to_string(images.c) +
                                                    "; the workers take " + std::to_string(info.input_h) + "x" +
                                                    std::to_string(info.input_w) + "x" + std::to_string(info.input_c));
  }
  if (uint64_t{first} + count > images.count) {
    return Status(StatusCode::kInvalidArgument, "not enough calibration images");
  }
  return Status::ok();
}

Status failed(const Master& master, const Prediction& p) {
  const Unit& u = p.dropped.front();
  return Status(StatusCode::kIo, "calibration failed: worker " + master.address(u.worker) + " did not answer (" +
                                     outcome_name(p.outcome) + ")");
}

}  // namespace

Status calibrate_latency(Master& master, const Images& images, uint32_t first, uint32_t count,
                         const Progress& progress) {
  SHOAL_RETURN_IF_ERROR(check_images(master, images, first, count));
  uint32_t most = 0;
  for (uint32_t w = 0; w < master.workers(); ++w) {
    most = std::max(most, static_cast<uint32_t>(master.worker(w).subnets.size()));
  }
  for (uint32_t i = 0; i < count; ++i) {
    for (uint32_t s = 0; s < most; ++s) {
      Submission sub;
      sub.image.assign(images.image(first + i), images.image(first + i) + master.image_bytes());
      sub.budget_ms = kCalibrationBudgetMs;
      for (uint32_t w = 0; w < master.workers(); ++w) {
        if (s < master.worker(w).subnets.size() && master.alive(w)) sub.fixed.push_back({w, s, kFirstStage});
      }
      const Prediction p = master.run(std::move(sub));
      if (!p.dropped.empty()) return failed(master, p);
    }
    if (progress) progress(i + 1, count);
  }
  return Status::ok();
}

Result<EnsembleProfile> measure_accuracy(Master& master, const Images& images, const std::vector<uint8_t>& labels,
                                         uint32_t first, uint32_t count, const Progress& progress,
                                         uint64_t exact_limit) {
  SHOAL_RETURN_IF_ERROR(check_images(master, images, first, count));
  if (labels.size() < uint64_t{first} + count) return Status(StatusCode::kInvalidArgument, "not enough labels");
  const uint32_t classes = master.classes();
  const size_t members = master.members().size();
  // One replica per (member, subnet): the first live worker serving it.
  Plan plan;
  std::vector<std::vector<std::vector<float>>> probs(members);
  std::vector<std::vector<uint64_t>> macs(members);
  for (uint32_t m = 0; m < members; ++m) {
    for (const std::string& name : master.member_subnets(m)) {
      bool placed = false;
      for (uint32_t w = 0; w < master.workers() && !placed; ++w) {
        if (master.member_of(w) != static_cast<int>(m) || !master.alive(w)) continue;
        const auto& subs = master.worker(w).subnets;
        for (uint32_t s = 0; s < subs.size() && !placed; ++s) {
          if (subs[s].name != name) continue;
          plan.push_back({w, s, kFirstStage});
          macs[m].push_back(subs[s].macs);
          placed = true;
        }
      }
      if (!placed) return Status(StatusCode::kIo, "no live worker serves " + master.members()[m] + " at " + name);
      probs[m].emplace_back(size_t{count} * classes);
    }
  }
  auto where = [&](const Unit& u) {  // (member, index among the member's subnets)
    const uint32_t m = static_cast<uint32_t>(master.member_of(u.worker));
    const auto& names = master.member_subnets(m);
    const size_t k = std::find(names.begin(), names.end(), master.worker(u.worker).subnets[u.subnet].name) - names.begin();
    return std::make_pair(m, k);
  };
  std::mutex mu;
  std::condition_variable cv;
  uint32_t in_flight = 0, finished = 0;
  Status error;
  for (uint32_t i = 0; i < count; ++i) {
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return in_flight < kWindow; });
      if (!error.is_ok()) break;
      ++in_flight;
    }
    Submission sub;
    sub.image.assign(images.image(first + i), images.image(first + i) + master.image_bytes());
    sub.budget_ms = kCalibrationBudgetMs;
    sub.fixed = plan;
    sub.keep_members = true;
    sub.done = [&, i](Prediction&& p) {
      std::lock_guard<std::mutex> lock(mu);
      if (!p.dropped.empty() && error.is_ok()) error = failed(master, p);
      for (size_t k = 0; k < p.used.size() && error.is_ok(); ++k) {
        const auto [m, s] = where(p.used[k]);
        std::copy(p.member_probabilities[k].begin(), p.member_probabilities[k].end(),
                  probs[m][s].begin() + size_t{i} * classes);
      }
      --in_flight;
      ++finished;
      cv.notify_all();
    };
    master.submit(std::move(sub));
    if (progress) {
      uint32_t done;
      {
        std::lock_guard<std::mutex> lock(mu);
        done = finished;
      }
      progress(done, count);
    }
  }
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return in_flight == 0; });
  if (!error.is_ok()) return error;
  if (progress) progress(count, count);
  const std::vector<uint8_t> truth(labels.begin() + first, labels.begin() + first + count);
  return EnsembleProfile::measure(probs, macs, truth, classes, exact_limit);
}

}  // namespace shoal::net
