// A channel-parallel partition over real workers (paper 001's edge-to-edge partition,
// Fluid's high-accuracy mode): for every stage of the plan, each worker is sent the stage's
// inputs and computes its own channels, while this device computes part 0; the slices come
// back and are gathered whole for the next stage. The last stage (the classifier) runs here.
// A worker that fails (closes, times out, answers an error or garbage) is given up on and
// its parts are computed here from then on, so inference carries on at full accuracy.
// With adapt(), the shares follow the devices: after each input every part's compute and
// link time are fed to a ShareBalancer, and when it finds shares predicted clearly faster
// the plan is re-made with them (paper 002's adaptive partitioning).
#ifndef SHOAL_NET_PARTITION_RUNNER_H_
#define SHOAL_NET_PARTITION_RUNNER_H_

#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include "shoal/channel_partition.h"
#include "shoal/dataset.h"
#include "shoal/engine.h"
#include "shoal/net/messages.h"
#include "shoal/share_balancer.h"

namespace shoal::net {

struct PartitionTiming {
  double total_ms = 0;     // image to probabilities
  double local_ms = 0;     // this device's computing: its parts, the last stage, any recomputed
  double wait_ms = 0;      // waiting for the workers' slices after its own part was done
  size_t bytes_sent = 0;   // tensors sent, every worker
  size_t bytes_received = 0;
  uint32_t recomputed = 0;  // parts computed here because their worker had failed
  float encoding_error = 0;  // the most an encoding moved any value, either way
  bool reshared = false;     // adapting: the next input runs at new shares, or alone, or partitioned again
  bool alone = false;        // adapting: this device computed every part, nothing was sent
};

class PartitionRunner {
 public:
  // workers[i] is past the handshake, infos[i] its Hello, and it must serve the same model
  // file (its digest). With plan.parts - 1 workers, worker i computes part i + 1 and `local`
  // part 0; with plan.parts workers, worker i computes part i and this device only gathers.
  // `local` runs the last stage (and any failed worker's parts) and must use shoal's kernels
  // (not an operator backend).
  static Result<std::unique_ptr<PartitionRunner>> create(const Model& model, Engine& local, ChannelPartition plan,
                                                         std::vector<std::unique_ptr<Connection>> workers,
                                                         const std::vector<WorkerInfo>& infos,
                                                         int reply_timeout_ms = 5000);

  // Image `index` through the partition, tensors sent as `encoding`; the result is in
  // executor().output() (and logits()).
  Status run(const Images& images, uint32_t index, wire::TensorEncoding encoding, PartitionTiming* timing = nullptr);
  const PartitionExecutor& executor() const { return executor_; }

  // From now on, re-choose the shares from what each part takes, starting from `shares`
  // (those the plan was made from, one per part). When this device computes part 0 and
  // computing everything itself is predicted faster (a link too slow for what the workers
  // save), it does so, trying the partition again after kRetryAlone inputs to see whether
  // that has changed, and after twice as many each time it has not (up to 16 times). Once a worker has failed the shares stay as they are.
  Status adapt(const std::vector<double>& shares, ShareBalancer::Options options = {});
  // The shares now, normalised (adapting), or empty.
  std::vector<double> shares() const { return balancer_ ? balancer_->shares() : std::vector<double>{}; }
  uint32_t reshares() const { return reshares_; }
  bool alone() const { return alone_; }
  static constexpr uint32_t kRetryAlone = 10;
  // Stretches this device's compute by `factor` (>= 1), to emulate it loaded or slower.
  void set_local_slowdown(double factor) { slowdown_ = factor < 1 ? 1 : factor; }
  // How images of another size than the model's input are taken (default: refused).
  void set_fit(Fit fit) { fit_ = fit; }
  // Workers given up on; why the first one was.
  size_t workers_down() const;
  const std::string& first_failure() const { return first_failure_; }

 private:
  PartitionRunner(const Model& model, Engine& local, ChannelPartition plan,
                  std::vector<std::unique_ptr<Connection>> workers, int reply_timeout_ms);
  void give_up(size_t worker, const Status& why);
  // Worker `w`'s reply to request `id` for stage `stage`, placed, and its cost counted; an
  // error gives it up.
  Status collect(size_t w, uint64_t id, size_t stage, PartitionTiming& t);
  // Part `part` of stage `stage` here, slowdown included; returns its milliseconds.
  Result<double> compute_here(size_t stage, uint32_t part);
  void rebalance(PartitionTiming& t);

  const Model& model_;
  Engine& local_;
  PartitionExecutor executor_;
  std::vector<std::unique_ptr<Connection>> workers_;  // null once given up
  int reply_timeout_ms_;
  uint32_t first_remote_ = 1;  // the part worker 0 computes
  uint64_t next_id_ = 1;
  double slowdown_ = 1;
  Fit fit_ = Fit::kExact;
  std::optional<ShareBalancer> balancer_;
  std::vector<PartCost> costs_;  // this input's, per part
  std::chrono::steady_clock::time_point stage_start_;  // before its inputs are encoded and sent
  uint32_t reshares_ = 0;
  bool alone_ = false;
  uint32_t alone_inputs_ = 0, retry_every_ = kRetryAlone;
  std::string first_failure_;
  std::vector<uint32_t> worker_subnet_;  // per worker, the plan's subnet as its Hello numbers it
  std::vector<float> input_, slice_;
  std::vector<EncodedTensor> encoded_;
  std::vector<const EncodedTensor*> encoded_views_;
  Frame reply_;
};

}  // namespace shoal::net

#endif  // SHOAL_NET_PARTITION_RUNNER_H_
