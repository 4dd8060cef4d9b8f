// Measures what the master's policies decide from. Latency: a few inputs through every
// worker and subnet (the master's own engine included) seed every round-trip estimate.
// Accuracy: every member at every subnet it is served at, on labelled images (by default the
// whole validation split), one replica each, several inputs in flight; the ensemble profile
// is measured from the members' probabilities (exact or modelled, see ensemble_profile.h).
#ifndef SHOAL_NET_CALIBRATOR_H_
#define SHOAL_NET_CALIBRATOR_H_

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "shoal/dataset.h"
#include "shoal/net/master.h"

namespace shoal::net {

using Progress = std::function<void(uint32_t done, uint32_t total)>;

Status calibrate_latency(Master& master, const Images& images, uint32_t first, uint32_t count,
                         const Progress& progress = nullptr);

Result<EnsembleProfile> measure_accuracy(Master& master, const Images& images, const std::vector<uint8_t>& labels,
                                         uint32_t first, uint32_t count, const Progress& progress = nullptr,
                                         uint64_t exact_limit = EnsembleProfile::kDefaultExactLimit);

// Keeps a master's accuracy profile whole as workers join: when one joins serving a member
// the profile lacks (Master::unprofiled_members, looked at every `check_ms`), it measures
// every member again on the same labelled images, in its own thread while the master serves,
// and gives the master the new profile; until then that worker is not planned. `told` hears
// each attempt: the members it added, or why it failed (a member with no live worker: tried
// again 50 looks later).
class ProfileKeeper {
 public:
  using Told = std::function<void(const Status& status, const std::vector<std::string>& added)>;
  // Keeps its own copy of images [first, first + count). Destroy it before the master.
  ProfileKeeper(Master& master, const Images& images, const std::vector<uint8_t>& labels, uint32_t first,
                uint32_t count, Told told = nullptr, int check_ms = 100);
  ~ProfileKeeper();  // waits for a measurement under way
  ProfileKeeper(const ProfileKeeper&) = delete;
  ProfileKeeper& operator=(const ProfileKeeper&) = delete;

 private:
  void loop();

  Master& master_;
  Images images_;
  std::vector<uint8_t> labels_;
  Told told_;
  int check_ms_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace shoal::net

#endif  // SHOAL_NET_CALIBRATOR_H_
