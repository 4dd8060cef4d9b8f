#include "shoal/net/partition_runner.h"

#include <algorithm>
#include <chrono>

#include "shoal/clock.h"

namespace shoal::net {
namespace {

using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }


}  // namespace

Result<std::unique_ptr<PartitionRunner>> PartitionRunner::create(const Model& model, Engine& local, ChannelPartition plan,
                                                                 std::vector<std::unique_ptr<Connection>> workers,
                                                                 const std::vector<WorkerInfo>& infos,
                                                                 int reply_timeout_ms) {
  if ((workers.size() + 1 != plan.parts && workers.size() != plan.parts) || infos.size() != workers.size()) {
    return Status(StatusCode::kInvalidArgument, "a partition of " + std::to_string(plan.parts) + " parts needs " +
                                                    std::to_string(plan.parts - 1) + " workers besides this device, or " +
                                                    std::to_string(plan.parts) + " without it; " +
                                                    std::to_string(workers.size()) + " given");
  }
  if (!local.backend().narrows()) {
    return Status(StatusCode::kUnsupported, std::string("the ") + local.backend().name() +
                                                " backend runs whole subnets only; a partition needs shoal's kernels");
  }
  const std::string digest = model_digest(model);
  for (size_t i = 0; i < workers.size(); ++i) {
    if (!workers[i]) return Status(StatusCode::kInvalidArgument, "no connection to worker " + std::to_string(i + 1));
    if (infos[i].model_digest != digest) {
      return Status(StatusCode::kInvalidArgument,
                    "worker " + std::to_string(i + 1) + " serves a different model file ('" + infos[i].model_name +
                        "'); a partition needs the same file everywhere: start it with this model");
    }
  }
  std::vector<uint32_t> worker_subnet;
  for (size_t i = 0; i < workers.size(); ++i) {
    auto index = hello_subnet(infos[i], model, plan.subnet, "worker " + std::to_string(i + 1));
    if (!index.is_ok()) return index.status();
    worker_subnet.push_back(index.value());
  }
  auto runner = std::unique_ptr<PartitionRunner>(
      new PartitionRunner(model, local, std::move(plan), std::move(workers), reply_timeout_ms));
  runner->worker_subnet_ = std::move(worker_subnet);
  return runner;
}

PartitionRunner::PartitionRunner(const Model& model, Engine& local, ChannelPartition plan,
                                 std::vector<std::unique_ptr<Connection>> workers, int reply_timeout_ms)
    : model_(model), local_(local), executor_(model, std::move(plan)), workers_(std::move(workers)),
      reply_timeout_ms_(reply_timeout_ms) {
  first_remote_ = static_cast<uint32_t>(executor_.plan().parts - workers_.size());
  size_t most_inputs = 0, largest = 0;
  for (const PartitionStage& st : executor_.plan().stages) {
    most_inputs = std::max(most_inputs, st.inputs.size());
    for (uint32_t t : st.outputs) largest = std::max(largest, executor_.whole(t).size());
  }
  encoded_.resize(most_inputs);
  slice_.resize(largest);
}

size_t PartitionRunner::workers_down() const {
  return static_cast<size_t>(std::count(workers_.begin(), workers_.end(), nullptr));
}

void PartitionRunner::give_up(size_t w, const Status& why) {
  if (first_failure_.empty()) first_failure_ = "worker " + std::to_string(w + 1) + ": " + why.message();
  workers_[w].reset();
}

Status PartitionRunner::adapt(const std::vector<double>& shares, ShareBalancer::Options options) {
  if (shares.size() != executor_.plan().parts) {
    return Status(StatusCode::kInvalidArgument, "adapting takes one share per part (" +
                                                    std::to_string(executor_.plan().parts) + ")");
  }
  size_t split = 0;
  for (const PartitionStage& st : executor_.plan().stages) split += st.split;
  balancer_.emplace(shares, split, options);
  costs_.resize(split * shares.size());
  return Status::ok();
}

Status PartitionRunner::collect(size_t w, uint64_t id, size_t stage, PartitionTiming& t) {
  // Nothing there yet: the wait times the reply's arrival. Otherwise it came earlier, when
  // is not known, and its time only bounds the link's.
  const bool timed = balancer_ && workers_[w]->nothing_arrived();  // a poll: only when adapting
  SHOAL_RETURN_IF_ERROR(await_reply(*workers_[w], id, wire::MessageType::InferResult, reply_timeout_ms_, &reply_));
  const auto got = Clock::now();
  const wire::InferResult* r = verified_payload<wire::InferResult>(reply_);
  if (!r) return Status(StatusCode::kCorrupt, "the worker's result does not verify against schema/wire.fbs");
  const uint32_t part = static_cast<uint32_t>(w + first_remote_);
  if (balancer_) {
    const double compute_ms = r->compute_us() * 1e-3;
    costs_[stage * executor_.plan().parts + part] = {compute_ms, ms_between(stage_start_, got) - compute_ms, timed};
  }
  const PartitionStage& st = executor_.plan().stages[stage];
  if (!r->outputs() || r->outputs()->size() != st.outputs.size()) {
    return Status(StatusCode::kCorrupt, "the worker's result has the wrong number of tensors");
  }
  for (size_t i = 0; i < st.outputs.size(); ++i) {
    const size_t n = executor_.slice_size(stage, part, i);
    float error = 0;
    SHOAL_RETURN_IF_ERROR(result_share_output(*r, i, n, slice_.data(), &error));
    SHOAL_RETURN_IF_ERROR(executor_.place(stage, part, i, slice_.data(), n));
    t.encoding_error = std::max(t.encoding_error, error);
    t.bytes_received += r->outputs()->Get(i)->data()->size();
  }
  return Status::ok();
}

Result<double> PartitionRunner::compute_here(size_t stage, uint32_t part) {
  const auto start = Clock::now();
  SHOAL_RETURN_IF_ERROR(executor_.run_here(local_, stage, part));
  stretch_since(start, slowdown_);
  return ms_between(start, Clock::now());
}

// After a partitioned input: its costs to the balancer; this device alone when that is
// faster, and the plan re-made when it proposes shares.
void PartitionRunner::rebalance(PartitionTiming& t) {
  if (!balancer_ || workers_down() > 0 || t.alone) return;
  balancer_->observe(costs_);
  const bool alone = first_remote_ == 1 && balancer_->alone_is_faster();
  if (alone != alone_) {
    alone_ = alone, alone_inputs_ = 0, retry_every_ = kRetryAlone;
    ++reshares_;
    t.reshared = true;
  } else if (alone_) {
    retry_every_ = std::min(retry_every_ * 2, kRetryAlone * 16);  // a retry that changed nothing: wait longer
    alone_inputs_ = 0;
  }
  if (alone_) return;
  const std::vector<double> shares = balancer_->propose();
  if (shares.empty()) return;
  auto plan = plan_channel_partition(model_, executor_.plan().subnet, shares);
  if (plan.is_ok() && executor_.reshare(std::move(plan.value())).is_ok()) {
    balancer_->adopt(shares);
    ++reshares_;
    t.reshared = true;
  } else {
    balancer_->adopt(balancer_->shares());  // too few channels for them: settle again where it is
  }
}

Status PartitionRunner::run(const Images& images, uint32_t index, wire::TensorEncoding encoding, PartitionTiming* timing) {
  PartitionTiming t;
  const auto start = Clock::now();
  SHOAL_RETURN_IF_ERROR(image_to_input(images, index, model_, fit_, &input_));
  SHOAL_RETURN_IF_ERROR(executor_.begin(input_.data(), input_.size()));
  const ChannelPartition& plan = executor_.plan();
  const uint32_t budget_us = static_cast<uint32_t>(reply_timeout_ms_) * 1000u;
  std::vector<uint64_t> ids(workers_.size(), 0);
  t.alone = alone_ && ++alone_inputs_ < retry_every_;  // else a retry of the partition
  for (size_t s = 0; s < plan.stages.size(); ++s) {
    const PartitionStage& st = plan.stages[s];
    stage_start_ = Clock::now();
    if (st.split && !t.alone) {
      encoded_views_.clear();
      for (size_t i = 0; i < st.inputs.size(); ++i) {
        const std::vector<float>& x = executor_.whole(st.inputs[i]);
        encode_tensor(x.data(), x.size(), encoding, &encoded_[i]);
        t.encoding_error = std::max(t.encoding_error, encoded_[i].max_error);
        encoded_views_.push_back(&encoded_[i]);
      }
      for (size_t w = 0; w < workers_.size(); ++w) {
        if (!workers_[w]) continue;
        const ShareRequest share = share_request(st, w + first_remote_, encoded_views_.data(), encoding);
        ids[w] = next_id_++;
        const Status sent = send_share_request(*workers_[w], ids[w], worker_subnet_[w], budget_us, share);
        if (!sent.is_ok()) {
          give_up(w, sent);
          continue;
        }
        for (const EncodedTensor* e : encoded_views_) t.bytes_sent += e->data.size();
      }
    }
    if (!st.split || first_remote_ == 1) {
      const double sending_ms = ms_between(stage_start_, Clock::now());
      auto ms = compute_here(s, 0);
      if (!ms.is_ok()) return ms.status();
      t.local_ms += ms.value();
      if (st.split && balancer_) costs_[s * plan.parts] = {ms.value(), sending_ms, true};
    }
    const auto waiting = Clock::now();
    if (!st.split) continue;
    double here_ms = 0;  // the workers' parts computed here
    for (size_t w = 0; w < workers_.size(); ++w) {
      if (t.alone) {
        auto ms = compute_here(s, static_cast<uint32_t>(w + first_remote_));
        if (!ms.is_ok()) return ms.status();
        here_ms += ms.value();
        continue;
      }
      if (workers_[w]) {
        const Status got = collect(w, ids[w], s, t);
        if (got.is_ok()) continue;
        give_up(w, got);
      }
      auto again = compute_here(s, static_cast<uint32_t>(w + first_remote_));  // this worker's part, here
      if (!again.is_ok()) return again.status();
      ++t.recomputed;
      here_ms += again.value();
    }
    t.local_ms += here_ms;
    t.wait_ms += ms_between(waiting, Clock::now()) - here_ms;
  }
  t.total_ms = ms_between(start, Clock::now());
  rebalance(t);
  if (timing) *timing = t;
  return Status::ok();
}

}  // namespace shoal::net
