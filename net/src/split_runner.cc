#include "shoal/net/split_runner.h"

#include <algorithm>
#include <chrono>

#include "shoal/clock.h"

namespace shoal::net {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

}  // namespace

Result<std::unique_ptr<SplitRunner>> SplitRunner::create(const Model& model, Engine& local,
                                                         std::unique_ptr<Connection> connection,
                                                         const WorkerInfo& worker, int reply_timeout_ms) {
  if (!connection) return Status(StatusCode::kInvalidArgument, "no connection to the worker");
  if (worker.model_digest != model_digest(model)) {
    return Status(StatusCode::kInvalidArgument,
                  "the worker serves a different model file ('" + worker.model_name + "', member '" + worker.member +
                      "'); a split needs the same file on both sides: start the worker with this model");
  }
  std::unique_ptr<SplitRunner> runner(new SplitRunner(model, local, std::move(connection), reply_timeout_ms));
  for (uint32_t s = 0; s < model.fb().subnets()->size(); ++s) {
    auto index = hello_subnet(worker, model, s, "the worker");
    runner->worker_subnet_.push_back(index.is_ok() ? static_cast<int>(index.value()) : -1);
  }
  return runner;
}

SplitRunner::SplitRunner(const Model& model, Engine& local, std::unique_ptr<Connection> connection,
                         int reply_timeout_ms)
    : model_(model), local_(local), connection_(std::move(connection)), reply_timeout_ms_(reply_timeout_ms),
      cut_tensors_(model.cut_tensors()) {}

Status SplitRunner::run(uint32_t subnet, uint32_t cut, const Images& images, uint32_t index,
                        wire::TensorEncoding encoding, std::vector<float>* probabilities, SplitTiming* timing) {
  const fb::Model& m = model_.fb();
  if (subnet >= m.subnets()->size()) return Status(StatusCode::kInvalidArgument, "no such subnet");
  const int there = worker_subnet_[subnet];
  if (there < 0 && cut != m.output()) {
    return Status(StatusCode::kNotFound, "the worker does not serve subnet '" + m.subnets()->Get(subnet)->name()->str() + "'");
  }
  const uint64_t id = next_id_++;
  SplitTiming t;
  const auto start = Clock::now();
  Status sent;
  Clock::time_point sent_at;  // the round trip counts the send: a large tensor takes a while to go
  if (cut == m.output()) {  // everything here
    Status st = image_to_input(images, index, model_, Fit::kExact, &input_);
    probabilities->resize(local_.packed_size(subnet, cut));
    if (st.is_ok()) st = local_.run(subnet, input_.data(), input_.size(), probabilities->data(), probabilities->size());
    stretch_since(start, slowdown_);
    t.head_ms = ms_since(start);
    if (timing) *timing = t;
    return st;
  }
  if (cut == m.input()) {
    if (index >= images.count) return Status(StatusCode::kInvalidArgument, "no such image");
    const size_t pixels = size_t{images.h} * images.w * images.c;
    t.bytes_sent = pixels;
    sent_at = Clock::now();
    sent = send_infer_request(*connection_, id, static_cast<uint32_t>(there), budget_us(),
                              images.pixels.data() + index * pixels, pixels);
  } else {
    const auto at = std::find(cut_tensors_.begin(), cut_tensors_.end(), cut);
    if (at == cut_tensors_.end()) return Status(StatusCode::kInvalidArgument, "not a cut: `shoal inspect MODEL --splits` lists them");
    const std::string& cut_name = m.tensors()->Get(cut)->name()->str();
    auto seg = local_.segment(m.tensors()->Get(m.input())->name()->string_view(), cut_name);
    if (!seg.is_ok()) return seg.status();
    Status st = image_to_input(images, index, model_, Fit::kExact, &input_);
    if (!st.is_ok()) return st;
    head_.resize(local_.packed_size(subnet, cut));
    st = local_.run(subnet, seg.value(), input_.data(), input_.size(), head_.data(), head_.size());
    if (!st.is_ok()) return st;
    stretch_since(start, slowdown_);
    encode_tensor(head_.data(), head_.size(), encoding, &encoded_);
    t.head_ms = ms_since(start);
    t.bytes_sent = encoded_.data.size();
    t.encoding_error = encoded_.max_error;
    SegmentRequest tail{static_cast<uint16_t>(at - cut_tensors_.begin() + 1), 0, &encoded_};
    sent_at = Clock::now();
    sent = send_segment_request(*connection_, id, static_cast<uint32_t>(there), budget_us(), tail, nullptr, 0);
  }
  if (!sent.is_ok()) return sent;
  Status st = await_reply(*connection_, id, wire::MessageType::InferResult, reply_timeout_ms_, &reply_);
  if (!st.is_ok()) return st;
  const wire::InferResult* r = verified_payload<wire::InferResult>(reply_);
  if (!r) return Status(StatusCode::kCorrupt, "the worker's result does not verify against schema/wire.fbs");
  st = result_probabilities(*r, model_.shape(m.output()).c, probabilities);
  if (!st.is_ok()) return st;
  t.round_trip_ms = ms_since(sent_at);
  t.worker_ms = r->compute_us() / 1000.0;
  const size_t frame = kHeaderBytes + (connection_->key().empty() ? 0 : kMacBytes), table = 64;
  t.wire_bytes = 2 * frame + t.bytes_sent + table + reply_.header.payload_bytes;
  if (timing) *timing = t;
  return Status::ok();
}

Result<size_t> SplitRunner::run_planned(SplitPlanner& planner, const Images& images, uint32_t index,
                                        wire::TensorEncoding encoding, double deadline_ms,
                                        std::vector<float>* probabilities, SplitTiming* timing) {
  const size_t c = planner.choose(steady_clock().now(), deadline_ms);
  if (planner.probe_wanted()) {
    auto probe = probe_round_trip();
    if (!probe.is_ok()) return probe.status();
    planner.observe_probe(probe->ms, probe->bytes);
  }
  SplitTiming t;
  const Status st = run(planner.subnet(), planner.tensor(c), images, index, encoding, probabilities, &t);
  if (!st.is_ok()) return st;
  planner.observe(c, t.head_ms, t.round_trip_ms, t.worker_ms, t.wire_bytes);
  if (timing) *timing = t;
  return c;
}

Result<SplitRunner::Probe> SplitRunner::probe_round_trip() {
  const uint64_t id = next_id_++;
  const auto sent_at = Clock::now();
  Status st = write_frame(*connection_, wire::MessageType::Heartbeat, id, nullptr, 0);
  if (st.is_ok()) st = await_reply(*connection_, id, wire::MessageType::Heartbeat, reply_timeout_ms_, &reply_);
  if (!st.is_ok()) return st;
  const double ms = ms_since(sent_at);
  auto report = parse_heartbeat(reply_);
  if (!report.is_ok()) return report.status();
  const size_t mac = connection_->key().empty() ? 0 : kMacBytes;
  return Probe{std::max(0.0, ms - report->service_us / 1000.0), 2 * (kHeaderBytes + mac) + reply_.header.payload_bytes};
}

}  // namespace shoal::net
