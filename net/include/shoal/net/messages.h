// Building and reading the messages of schema/wire.fbs. Senders reuse a per-thread
// builder; readers verify the payload and return a plain struct or a clear error.
#ifndef SHOAL_NET_MESSAGES_H_
#define SHOAL_NET_MESSAGES_H_

#include <string>
#include <vector>

#include "shoal/channel_partition.h"
#include "shoal/model.h"
#include "shoal/net/frame.h"
#include "shoal/net/tensor_encoding.h"

namespace shoal::net {

struct SubnetSummary {
  std::string name;
  float width = 0;
  uint64_t macs = 0;
  float val_accuracy = -1;
};

// What a worker serves, from its Hello. A master's Hello fills only protocol and software.
struct WorkerInfo {
  uint32_t protocol = kProtocolVersion;
  std::string software, member, model_name, architecture;
  std::vector<SubnetSummary> subnets;
  uint32_t input_h = 0, input_w = 0, input_c = 0, classes = 0;
  std::string nonce, peer_nonce;  // the handshake's (net/handshake.h)
  std::string model_digest;       // SHA-256 of the worker's model file (32 bytes)
  std::vector<std::string> cuts;  // its model's cut tensors; requests number them from 1
};

struct ResourceReport {
  float cpu_load = -1;  // load average per core
  uint64_t available_memory_bytes = 0;
  float temperature_c = -1;
  uint32_t queue_length = 0;
  float clock_ratio = 1;  // current / maximum CPU clock (1 where the device does not say)
  uint32_t service_us = 0;  // the worker's time on the heartbeat itself
};

// A Hello's model_digest: SHA-256 of the model's bytes as loaded.
std::string model_digest(const Model& model);
// The number requests give `subnet` of `model` at a worker serving that model file: its index
// in the worker's Hello; kNotFound (naming worker `who`) when the worker does not serve it.
Result<uint32_t> hello_subnet(const WorkerInfo& worker, const Model& model, uint32_t subnet, const std::string& who);

Status send_hello(Connection& c, const WorkerInfo& info);
// Requests name `subnet` by its index in the worker's Hello (WorkerInfo::subnets).
Status send_infer_request(Connection& c, uint64_t id, uint32_t subnet, uint32_t budget_us, const uint8_t* image,
                          size_t size, uint32_t top_k = 0);
// A graph segment instead of the whole network, between cuts numbered from 1 as the worker's
// Hello lists them (WorkerInfo::cuts): it starts at cut `from` (its value in `input`) or at
// the image (0), and stops at cut `to` (the reply carries it, encoded as `output_encoding`)
// or at the probabilities (0).
struct SegmentRequest {
  uint16_t from = 0, to = 0;
  const EncodedTensor* input = nullptr;  // with `from`
  wire::TensorEncoding output_encoding = wire::TensorEncoding::F32;
};
// With segment.from set, `image` is ignored (the request carries no image).
Status send_segment_request(Connection& c, uint64_t id, uint32_t subnet, uint32_t budget_us,
                            const SegmentRequest& segment, const uint8_t* image, size_t size, uint32_t top_k = 0);
Status send_segment_result(Connection& c, uint64_t id, const EncodedTensor& output, uint32_t compute_us,
                           uint32_t queue_us);
// A segment result's tensor, decoded into `count` floats (the tensor's packed size at the
// subnet it ran); kCorrupt when the result carries no tensor or not that many values.
Status result_tensor(const wire::InferResult& result, size_t count, std::vector<float>* out, float* max_error = nullptr);
// One device's share of a channel-parallel partition stage: nodes [first_node, end_node) at
// `ranges` (one per group), from `inputs` (encoded, tensors numbered `input_tensors`, each at
// the subnet's ranges) to the tensors numbered `output_tensors`, sent back as `output_encoding`.
struct ShareRequest {
  uint32_t first_node = 0, end_node = 0;
  const fb::GroupRange* ranges = nullptr;
  size_t groups = 0;
  const uint32_t* input_tensors = nullptr;
  const EncodedTensor* const* inputs = nullptr;
  size_t input_count = 0;
  const uint32_t* output_tensors = nullptr;
  size_t output_count = 0;
  wire::TensorEncoding output_encoding = wire::TensorEncoding::F32;
};
// Part `part` of partition stage `stage`, from its inputs (encoded, in the stage's order).
ShareRequest share_request(const PartitionStage& stage, size_t part, const EncodedTensor* const* inputs,
                           wire::TensorEncoding output_encoding);
Status send_share_request(Connection& c, uint64_t id, uint32_t subnet, uint32_t budget_us, const ShareRequest& share);
Status send_share_result(Connection& c, uint64_t id, const EncodedTensor* const* outputs, size_t count,
                         uint32_t compute_us, uint32_t queue_us);
// Output `i` of a share's result decoded into `count` floats; kCorrupt when it is missing or
// does not hold that many.
Status result_share_output(const wire::InferResult& result, size_t i, size_t count, float* out, float* max_error = nullptr);
// All of a share's outputs decoded back to back into `count` floats; kCorrupt unless they
// hold exactly that many.
Status result_share_outputs(const wire::InferResult& result, size_t count, std::vector<float>* out);
// The reply to request `id` into `reply`, passing over replies to earlier requests (that the
// caller gave up on); an Error reply becomes its Status, another kind of message kCorrupt.
Status await_reply(Connection& c, uint64_t id, wire::MessageType type, int timeout_ms, Frame* reply);
// With 0 < top_k < count, only the top_k most probable classes and their probabilities.
Status send_infer_result(Connection& c, uint64_t id, const float* probabilities, size_t count,
                         uint32_t compute_us, uint32_t queue_us, uint32_t top_k = 0);
// A result's probabilities over all `classes` (a top-k reply filled in: the mass not listed
// spread evenly over the classes not listed); kCorrupt when they do not fit `classes`.
Status result_probabilities(const wire::InferResult& result, uint32_t classes, std::vector<float>* out);
Status send_heartbeat(Connection& c, uint64_t id, const ResourceReport& report);
Status send_error(Connection& c, uint64_t id, wire::ErrorCode code, const std::string& message);

Result<WorkerInfo> parse_hello(const Frame& frame);
Result<ResourceReport> parse_heartbeat(const Frame& frame);
// "worker error DeadlineExpired: ..." as a Status message; kCorrupt when it does not verify.
Status parse_error(const Frame& frame, wire::ErrorCode* code);

// This machine's load, memory, temperature and clock, from /proc and /sys (Linux).
ResourceReport read_resource_report(uint32_t queue_length);

}  // namespace shoal::net

#endif  // SHOAL_NET_MESSAGES_H_
