#include "shoal/net/calibrator.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace shoal::net {
namespace {

constexpr double kCalibrationBudgetMs = 30000;  // generous: calibration waits for every unit
constexpr uint32_t kWindow = 4;                 // accuracy inputs in flight

Status check_images(const Master& master, const Images& images, uint32_t first, uint32_t count) {
  if (images.h != master.input_h() || images.w != master.input_w() || images.c != master.input_c()) {
    return Status(StatusCode::kInvalidArgument, "calibration images are " + std::to_string(images.h) + "x" +
                                                    std::to_string(images.w) + "x" + std::to_string(images.c) +
                                                    "; the workers take " + std::to_string(master.input_h()) + "x" +
                                                    std::to_string(master.input_w()) + "x" + std::to_string(master.input_c()));
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
  // The workers that have joined, as they are now (one that joins later probes itself).
  std::vector<uint32_t> subnets(master.workers());
  uint32_t most = 0;
  for (uint32_t w = 0; w < master.workers(); ++w) {
    subnets[w] = static_cast<uint32_t>(master.worker(w).subnets.size());
    most = std::max(most, subnets[w]);
  }
  for (uint32_t i = 0; i < count; ++i) {
    for (uint32_t s = 0; s < most; ++s) {
      Submission sub;
      sub.image.assign(images.image(first + i), images.image(first + i) + master.image_bytes());
      sub.budget_ms = kCalibrationBudgetMs;
      for (uint32_t w = 0; w < master.workers(); ++w) {
        if (s < subnets[w] && master.alive(w)) sub.fixed.push_back({w, s, kFirstStage});
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
  // The members as they are now (a worker that joins later adds members at the end).
  const std::vector<std::string> names = master.members();
  const size_t members = names.size();
  // One replica per (member, subnet): the first live worker serving it.
  Plan plan;
  std::vector<std::pair<uint32_t, size_t>> place;  // per unit of the plan: (member, its subnet's index)
  std::vector<std::vector<std::vector<float>>> probs(members);
  std::vector<std::vector<uint64_t>> macs(members);
  for (uint32_t m = 0; m < members; ++m) {
    for (const std::string& name : master.member_subnets(m)) {
      bool placed = false;
      for (uint32_t w = 0; w < master.workers() && !placed; ++w) {
        if (master.member_of(w) != static_cast<int>(m) || !master.alive(w)) continue;
        const std::vector<SubnetSummary> subs = master.worker(w).subnets;
        for (uint32_t s = 0; s < subs.size() && !placed; ++s) {
          if (subs[s].name != name) continue;
          plan.push_back({w, s, kFirstStage});
          place.emplace_back(m, probs[m].size());
          macs[m].push_back(subs[s].macs);
          placed = true;
        }
      }
      if (!placed) return Status(StatusCode::kIo, "no live worker serves " + names[m] + " at " + name);
      probs[m].emplace_back(size_t{count} * classes);
    }
  }
  // (member, index among the member's subnets) of a unit; runs under the master's lock, so it
  // asks the master nothing.
  auto where = [&](const Unit& u) {
    size_t k = 0;
    while (k + 1 < plan.size() && !(plan[k].worker == u.worker && plan[k].subnet == u.subnet)) ++k;
    return place[k];
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

ProfileKeeper::ProfileKeeper(Master& master, const Images& images, const std::vector<uint8_t>& labels, uint32_t first,
                             uint32_t count, Told told, int check_ms)
    : master_(master), told_(std::move(told)), check_ms_(check_ms) {
  count = std::min(count, images.count > first ? images.count - first : 0u);
  images_.h = images.h, images_.w = images.w, images_.c = images.c, images_.count = count;
  images_.pixels.assign(images.image(first), images.image(first) + size_t{count} * images.h * images.w * images.c);
  labels_.assign(labels.begin() + std::min<size_t>(first, labels.size()),
                 labels.begin() + std::min<size_t>(size_t{first} + count, labels.size()));
  thread_ = std::thread([this] { loop(); });
}

ProfileKeeper::~ProfileKeeper() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void ProfileKeeper::loop() {
  constexpr int kChecksAfterFailure = 50;  // a member with no live worker: try again much later
  int wait_checks = 1;
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, std::chrono::milliseconds(check_ms_ * wait_checks), [this] { return stopping_; })) {
    lock.unlock();
    wait_checks = 1;
    const std::vector<std::string> added = master_.unprofiled_members();
    if (!added.empty()) {
      auto profile = measure_accuracy(master_, images_, labels_, 0, images_.count);
      if (profile.is_ok()) master_.set_profile(std::make_shared<EnsembleProfile>(std::move(profile.value())));
      if (!profile.is_ok()) wait_checks = kChecksAfterFailure;
      if (told_) told_(profile.status(), added);
    }
    lock.lock();
  }
}

}  // namespace shoal::net
