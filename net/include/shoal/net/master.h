// The master: sends each input to the workers its policy picks, collects the replies that
// arrive before the deadline (later ones are dropped and counted, and still teach the
// latency estimator), and averages their class probabilities. A worker that dies is
// dropped from planning at once, and its input re-planned on the others if time allows;
// a worker that comes back is reconnected and used again.
#ifndef SHOAL_NET_MASTER_H_
#define SHOAL_NET_MASTER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "shoal/dataset.h"
#include "shoal/net/messages.h"
#include "shoal/profile_file.h"
#include "shoal/scheduler.h"

namespace shoal::net {

struct MasterOptions {
  std::vector<std::string> addresses;  // HOST:PORT per worker
  double margin_ms = 0.3;              // latency predictions get this added...
  double margin_fraction = 0.1;        // ...and this share of themselves
  int connect_timeout_ms = 2000;
  Limits limits;
  std::string key;  // pre-shared key, the same as the workers' (empty: none)
};

struct Prediction {
  int label = -1;  // -1: no member answered in time (a deadline miss)
  std::vector<float> probabilities;
  Plan used;     // members whose results were fused
  Plan dropped;  // members that answered late, failed or died
  double latency_ms = 0;
  double plan_us = 0;  // time the policy took to decide
};

struct MasterCounters {
  uint64_t late_replies = 0;   // results that arrived after their deadline
  uint64_t worker_errors = 0;  // error replies (DeadlineExpired included)
  uint64_t disconnects = 0;
  uint64_t reconnects = 0;
  uint64_t replans = 0;        // inputs re-planned after a worker failed
};

class Master {
 public:
  // Connects to every worker and checks they agree on input shape and classes.
  static Result<std::unique_ptr<Master>> connect(const MasterOptions& options);
  ~Master();

  size_t workers() const;
  const WorkerInfo& worker(uint32_t w) const;
  bool alive(uint32_t w) const;

  // Runs `count` labelled images through every (worker, subnet): the replies' round-trip
  // times seed the latency estimates and their probabilities give the ensemble profile.
  Status calibrate(const Images& images, const std::vector<uint8_t>& labels, uint32_t first, uint32_t count,
                   const std::function<void(uint32_t done)>& progress);
  const EnsembleProfile& profile() const;
  // Replaces the accuracy calibrate() measured with a profile file's (made on more images by
  // 'shoal profile accuracy'); every worker's model and subnets must be in it.
  Status use_profile(const AccuracyProfile& profile);
  // adaensemble, dynamic or static (needs calibrate() first).
  Status set_policy(const std::string& name, double static_target_ms);
  // One input (input_h x input_w x input_c bytes, as every worker's Hello says).
  Prediction infer(const uint8_t* image, double budget_ms);
  // Predicted latency (margins and queueing included) for each worker and subnet.
  std::vector<std::vector<double>> predictions() const;
  MasterCounters counters() const;

 private:
  struct Impl;
  explicit Master(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shoal::net

#endif  // SHOAL_NET_MASTER_H_
