// One network split across two devices (papers 001 and 002's device-to-edge split): this
// device runs the graph from the image up to a cut tensor (Model::cut_tensors), sends the
// tensor to a worker, which runs the rest and replies with the probabilities. Cut at the
// model's input, the image itself goes and the worker runs everything; at its output, all
// runs here.
#ifndef SHOAL_NET_SPLIT_RUNNER_H_
#define SHOAL_NET_SPLIT_RUNNER_H_

#include <chrono>
#include <memory>
#include <vector>

#include "shoal/dataset.h"
#include "shoal/engine.h"
#include "shoal/net/messages.h"
#include "shoal/split_planner.h"

namespace shoal::net {

struct SplitTiming {
  double head_ms = 0;        // this device's part, encoding included
  double round_trip_ms = 0;  // from sending to the reply decoded: the link and the worker's part
  double worker_ms = 0;      // the worker's compute, as it reports
  size_t bytes_sent = 0;     // the tensor (or image) in the request
  size_t wire_bytes = 0;     // request and reply frames together (the request's table estimated)
  float encoding_error = 0;  // the most the encoding moved any value of the tensor
};

class SplitRunner {
 public:
  // `connection` is past the handshake and `worker` is its Hello: the worker must serve the
  // same model file as `model` (its digest), or this fails saying so. `local` runs heads.
  static Result<std::unique_ptr<SplitRunner>> create(const Model& model, Engine& local,
                                                     std::unique_ptr<Connection> connection, const WorkerInfo& worker,
                                                     int reply_timeout_ms = 5000);

  // Image `index` of `images` through `subnet`, cut at tensor `cut` (the model's input or
  // output, or one of its cut tensors), the tensor sent as `encoding`. Its buffers (input,
  // head, encoded tensor, reply) are reused; the request names the subnet and cut by the
  // numbers the worker's Hello gave them.
  Status run(uint32_t subnet, uint32_t cut, const Images& images, uint32_t index, wire::TensorEncoding encoding,
             std::vector<float>* probabilities, SplitTiming* timing);
  // The cut `planner` predicts fastest now, run at the planner's subnet, and what it showed
  // fed back: both sides' times, the link's; a probe of the link first when the planner asks
  // for one. Returns the candidate it ran.
  Result<size_t> run_planned(SplitPlanner& planner, const Images& images, uint32_t index,
                             wire::TensorEncoding encoding, double deadline_ms, std::vector<float>* probabilities,
                             SplitTiming* timing);

  // Stretches this device's compute by `factor` (>= 1), to emulate a slower device.
  void set_local_slowdown(double factor) { slowdown_ = factor < 1 ? 1 : factor; }
  // A heartbeat's round trip less the worker's time on it (the link alone, in ms) and the
  // bytes it moved both ways.
  struct Probe {
    double ms = 0;
    size_t bytes = 0;
  };
  Result<Probe> probe_round_trip();

 private:
  SplitRunner(const Model& model, Engine& local, std::unique_ptr<Connection> connection, int reply_timeout_ms);
  uint32_t budget_us() const { return static_cast<uint32_t>(reply_timeout_ms_) * 1000u; }  // the worker gives up when we do

  const Model& model_;
  Engine& local_;
  std::unique_ptr<Connection> connection_;
  int reply_timeout_ms_;
  uint64_t next_id_ = 1;
  double slowdown_ = 1;
  std::vector<uint32_t> cut_tensors_;  // the model's, which the worker numbers alike (the same file)
  std::vector<int> worker_subnet_;     // per subnet of the model, its index in the worker's Hello (-1: not served)
  std::vector<float> input_, head_;
  EncodedTensor encoded_;
  Frame reply_;
};

}  // namespace shoal::net

#endif  // SHOAL_NET_SPLIT_RUNNER_H_
