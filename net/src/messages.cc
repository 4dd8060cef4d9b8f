#include "shoal/net/messages.h"

#include "shoal/net/hmac.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <cstring>

namespace shoal::net {
namespace {

flatbuffers::FlatBufferBuilder& builder() {
  thread_local flatbuffers::FlatBufferBuilder fbb(1024);
  fbb.Clear();
  return fbb;
}

Status send(Connection& c, wire::MessageType type, uint64_t id, flatbuffers::FlatBufferBuilder& fbb) {
  return write_frame(c, type, id, fbb.GetBufferPointer(), fbb.GetSize());
}

Status malformed(const char* what) {
  return Status(StatusCode::kCorrupt, std::string(what) + " message does not verify against schema/wire.fbs");
}

std::string str(const flatbuffers::String* s) { return s ? s->str() : ""; }

}  // namespace

std::string model_digest(const Model& model) {
  Sha256 sha;
  sha.update(model.data(), model.size());
  const Digest d = sha.finish();
  return std::string(d.begin(), d.end());
}

Result<uint32_t> hello_subnet(const WorkerInfo& worker, const Model& model, uint32_t subnet, const std::string& who) {
  const std::string name = model.fb().subnets()->Get(subnet)->name()->str();
  for (size_t i = 0; i < worker.subnets.size(); ++i) {
    if (worker.subnets[i].name == name) return static_cast<uint32_t>(i);
  }
  return Status(StatusCode::kNotFound, who + " does not serve subnet '" + name + "': start it without --subnets, or with it");
}

Status send_hello(Connection& c, const WorkerInfo& info) {
  auto& fbb = builder();
  std::vector<flatbuffers::Offset<wire::SubnetInfo>> subnets;
  for (const SubnetSummary& s : info.subnets) {
    subnets.push_back(wire::CreateSubnetInfoDirect(fbb, s.name.c_str(), s.width, s.macs, s.val_accuracy));
  }
  const std::vector<uint8_t> nonce(info.nonce.begin(), info.nonce.end());
  const std::vector<uint8_t> peer_nonce(info.peer_nonce.begin(), info.peer_nonce.end());
  const std::vector<uint8_t> digest(info.model_digest.begin(), info.model_digest.end());
  std::vector<flatbuffers::Offset<flatbuffers::String>> cuts;
  for (const std::string& name : info.cuts) cuts.push_back(fbb.CreateString(name));
  fbb.Finish(wire::CreateHelloDirect(fbb, info.protocol, info.software.c_str(), info.member.c_str(),
                                     info.model_name.c_str(), info.architecture.c_str(), &subnets, info.input_h,
                                     info.input_w, info.input_c, info.classes, &nonce, &peer_nonce,
                                     digest.empty() ? nullptr : &digest, cuts.empty() ? nullptr : &cuts));
  return send(c, wire::MessageType::Hello, 0, fbb);
}

Status send_infer_request(Connection& c, uint64_t id, uint32_t subnet, uint32_t budget_us, const uint8_t* image,
                          size_t size, uint32_t top_k) {
  return send_segment_request(c, id, subnet, budget_us, SegmentRequest{}, image, size, top_k);
}

namespace {

flatbuffers::Offset<wire::Tensor> create_tensor(flatbuffers::FlatBufferBuilder& fbb, const EncodedTensor& t) {
  auto data = fbb.CreateVector(t.data);
  return wire::CreateTensor(fbb, t.encoding, t.scale, t.max_error, data);
}

}  // namespace

Status send_segment_request(Connection& c, uint64_t id, uint32_t subnet, uint32_t budget_us,
                            const SegmentRequest& segment, const uint8_t* image, size_t size, uint32_t top_k) {
  auto& fbb = builder();
  const bool from_cut = segment.from != 0;
  auto pixels = fbb.CreateVector(image, from_cut ? 0 : size);
  flatbuffers::Offset<wire::Tensor> input;
  if (from_cut && segment.input) input = create_tensor(fbb, *segment.input);
  fbb.Finish(wire::CreateInferRequest(fbb, subnet, budget_us, pixels, top_k, segment.from, segment.to, input,
                                      segment.output_encoding));
  return send(c, wire::MessageType::InferRequest, id, fbb);
}

Status send_segment_result(Connection& c, uint64_t id, const EncodedTensor& output, uint32_t compute_us,
                           uint32_t queue_us) {
  auto& fbb = builder();
  auto tensor = create_tensor(fbb, output);
  auto none = fbb.CreateVector(static_cast<const float*>(nullptr), 0);
  fbb.Finish(wire::CreateInferResult(fbb, none, compute_us, queue_us, 0, tensor));
  return send(c, wire::MessageType::InferResult, id, fbb);
}

Status result_tensor(const wire::InferResult& result, size_t count, std::vector<float>* out, float* max_error) {
  const wire::Tensor* t = result.output();
  if (!t) return Status(StatusCode::kCorrupt, "a segment result that carries no tensor");
  out->resize(count);
  if (max_error) *max_error = t->max_error();
  return decode_tensor(t->encoding(), t->scale(), t->data()->data(), t->data()->size(), out->data(), count);
}

ShareRequest share_request(const PartitionStage& stage, size_t part, const EncodedTensor* const* inputs,
                           wire::TensorEncoding output_encoding) {
  ShareRequest share;
  share.first_node = stage.first_node, share.end_node = stage.end_node;
  share.ranges = stage.ranges[part].data(), share.groups = stage.ranges[part].size();
  share.input_tensors = stage.inputs.data(), share.inputs = inputs, share.input_count = stage.inputs.size();
  share.output_tensors = stage.outputs.data(), share.output_count = stage.outputs.size();
  share.output_encoding = output_encoding;
  return share;
}

Status send_share_request(Connection& c, uint64_t id, uint32_t subnet, uint32_t budget_us, const ShareRequest& share) {
  auto& fbb = builder();
  auto pixels = fbb.CreateVector(static_cast<const uint8_t*>(nullptr), 0);
  std::vector<wire::ChannelRange> ranges;
  ranges.reserve(share.groups);
  for (size_t g = 0; g < share.groups; ++g) ranges.emplace_back(share.ranges[g].lo(), share.ranges[g].hi());
  auto ranges_v = fbb.CreateVectorOfStructs(ranges);
  auto in_ids = fbb.CreateVector(share.input_tensors, share.input_count);
  std::vector<flatbuffers::Offset<wire::Tensor>> tensors;
  for (size_t i = 0; i < share.input_count; ++i) tensors.push_back(create_tensor(fbb, *share.inputs[i]));
  auto inputs = fbb.CreateVector(tensors);
  auto out_ids = fbb.CreateVector(share.output_tensors, share.output_count);
  wire::InferRequestBuilder b(fbb);
  b.add_subnet(subnet);
  b.add_budget_us(budget_us);
  b.add_image(pixels);
  b.add_output_encoding(share.output_encoding);
  b.add_first_node(share.first_node);
  b.add_end_node(share.end_node);
  b.add_ranges(ranges_v);
  b.add_input_tensors(in_ids);
  b.add_inputs(inputs);
  b.add_output_tensors(out_ids);
  fbb.Finish(b.Finish());
  return send(c, wire::MessageType::InferRequest, id, fbb);
}

Status send_share_result(Connection& c, uint64_t id, const EncodedTensor* const* outputs, size_t count,
                         uint32_t compute_us, uint32_t queue_us) {
  auto& fbb = builder();
  std::vector<flatbuffers::Offset<wire::Tensor>> tensors;
  for (size_t i = 0; i < count; ++i) tensors.push_back(create_tensor(fbb, *outputs[i]));
  auto outs = fbb.CreateVector(tensors);
  auto none = fbb.CreateVector(static_cast<const float*>(nullptr), 0);
  wire::InferResultBuilder b(fbb);
  b.add_probabilities(none);
  b.add_compute_us(compute_us);
  b.add_queue_us(queue_us);
  b.add_outputs(outs);
  fbb.Finish(b.Finish());
  return send(c, wire::MessageType::InferResult, id, fbb);
}

Status result_share_output(const wire::InferResult& result, size_t i, size_t count, float* out, float* max_error) {
  if (!result.outputs() || i >= result.outputs()->size()) {
    return Status(StatusCode::kCorrupt, "a share's result without its output " + std::to_string(i));
  }
  const wire::Tensor* t = result.outputs()->Get(i);
  if (max_error) *max_error = t->max_error();
  return decode_tensor(t->encoding(), t->scale(), t->data()->data(), t->data()->size(), out, count);
}

Status result_share_outputs(const wire::InferResult& result, size_t count, std::vector<float>* out) {
  out->resize(count);
  size_t at = 0;
  for (size_t i = 0; result.outputs() && i < result.outputs()->size(); ++i) {
    const wire::Tensor* t = result.outputs()->Get(i);
    if (t->encoding() > wire::TensorEncoding::MAX) return Status(StatusCode::kCorrupt, "a share's output in an unknown encoding");
    const size_t n = t->data()->size() / encoded_bytes(t->encoding(), 1);  // its own size: the sizes are the caller's to check
    if (n > count - at) break;
    SHOAL_RETURN_IF_ERROR(result_share_output(result, i, n, out->data() + at));
    at += n;
  }
  if (at != count || !result.outputs()) {
    return Status(StatusCode::kCorrupt, "a share's outputs hold other than the " + std::to_string(count) + " values asked");
  }
  return Status::ok();
}

Status await_reply(Connection& c, uint64_t id, wire::MessageType type, int timeout_ms, Frame* reply) {
  const auto sent_at = std::chrono::steady_clock::now();
  for (;;) {
    const auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - sent_at);
    const int left = timeout_ms - static_cast<int>(spent.count());
    if (left <= 0) {
      return Status(StatusCode::kTimeout, "the worker did not answer within " + std::to_string(timeout_ms) + " ms");
    }
    Status st = read_frame(c, Limits{}, reply, left);
    if (!st.is_ok()) return st;
    if (reply->header.request_id != id) continue;
    if (reply->header.type == wire::MessageType::Error) {
      wire::ErrorCode code;
      return parse_error(*reply, &code);
    }
    if (reply->header.type != type) return Status(StatusCode::kCorrupt, "the worker answered with another kind of message");
    return Status::ok();
  }
}

Status send_infer_result(Connection& c, uint64_t id, const float* probabilities, size_t count, uint32_t compute_us,
                         uint32_t queue_us, uint32_t top_k) {
  auto& fbb = builder();
  if (top_k == 0 || top_k >= count || count > 65536) {
    auto probs = fbb.CreateVector(probabilities, count);
    fbb.Finish(wire::CreateInferResult(fbb, probs, compute_us, queue_us));
  } else {
    thread_local std::vector<uint16_t> order;
    thread_local std::vector<float> top;
    order.resize(count);
    for (size_t i = 0; i < count; ++i) order[i] = static_cast<uint16_t>(i);
    std::partial_sort(order.begin(), order.begin() + top_k, order.end(),
                      [&](uint16_t a, uint16_t b) { return probabilities[a] > probabilities[b]; });
    order.resize(top_k);
    top.resize(top_k);
    for (uint32_t i = 0; i < top_k; ++i) top[i] = probabilities[order[i]];
    auto probs = fbb.CreateVector(top);
    auto classes = fbb.CreateVector(order);
    fbb.Finish(wire::CreateInferResult(fbb, probs, compute_us, queue_us, classes));
  }
  return send(c, wire::MessageType::InferResult, id, fbb);
}

Status result_probabilities(const wire::InferResult& r, uint32_t classes, std::vector<float>* out) {
  const auto* p = r.probabilities();
  if (!r.classes()) {
    if (p->size() != classes) return Status(StatusCode::kCorrupt, "a result for " + std::to_string(p->size()) +
                                                                       " classes, the model has " + std::to_string(classes));
    out->assign(p->begin(), p->end());
    return Status::ok();
  }
  const auto* listed = r.classes();
  if (listed->size() != p->size() || p->size() == 0 || p->size() > classes) {
    return Status(StatusCode::kCorrupt, "a top-k result whose classes and probabilities do not match");
  }
  out->assign(classes, -1.0f);
  float mass = 0;
  for (uint32_t i = 0; i < p->size(); ++i) {
    const uint16_t k = listed->Get(i);
    if (k >= classes || (*out)[k] >= 0) return Status(StatusCode::kCorrupt, "a top-k result names a class twice or out of range");
    if (!(p->Get(i) >= 0.0f && p->Get(i) <= 1.0f)) return Status(StatusCode::kCorrupt, "a top-k result with a probability outside [0, 1]");
    (*out)[k] = p->Get(i);
    mass += p->Get(i);
  }
  const float rest = p->size() < classes ? std::max(0.0f, 1.0f - mass) / static_cast<float>(classes - p->size()) : 0.0f;
  for (float& v : *out) {
    if (v < 0) v = rest;
  }
  return Status::ok();
}

Status send_heartbeat(Connection& c, uint64_t id, const ResourceReport& r) {
  auto& fbb = builder();
  fbb.Finish(wire::CreateHeartbeat(fbb, r.cpu_load, r.available_memory_bytes, r.temperature_c, r.queue_length,
                                   r.clock_ratio, r.service_us));
  return send(c, wire::MessageType::Heartbeat, id, fbb);
}

Status send_error(Connection& c, uint64_t id, wire::ErrorCode code, const std::string& message) {
  auto& fbb = builder();
  fbb.Finish(wire::CreateErrorDirect(fbb, code, message.c_str()));
  return send(c, wire::MessageType::Error, id, fbb);
}

Result<WorkerInfo> parse_hello(const Frame& frame) {
  const wire::Hello* h = verified_payload<wire::Hello>(frame);
  if (!h) return malformed("Hello");
  WorkerInfo info;
  info.protocol = h->protocol();
  info.software = str(h->software());
  info.member = str(h->member());
  info.model_name = str(h->model_name());
  info.architecture = str(h->architecture());
  if (h->subnets()) {
    for (const wire::SubnetInfo* s : *h->subnets()) {
      info.subnets.push_back({s->name()->str(), s->width(), s->macs(), s->val_accuracy()});
    }
  }
  info.input_h = h->input_h();
  info.input_w = h->input_w();
  info.input_c = h->input_c();
  info.classes = h->classes();
  if (h->nonce()) info.nonce.assign(h->nonce()->begin(), h->nonce()->end());
  if (h->peer_nonce()) info.peer_nonce.assign(h->peer_nonce()->begin(), h->peer_nonce()->end());
  if (h->model_digest()) info.model_digest.assign(h->model_digest()->begin(), h->model_digest()->end());
  if (h->cuts()) {
    for (const flatbuffers::String* name : *h->cuts()) info.cuts.push_back(name->str());
  }
  return info;
}

Result<ResourceReport> parse_heartbeat(const Frame& frame) {
  const wire::Heartbeat* h = verified_payload<wire::Heartbeat>(frame);
  if (!h) return malformed("Heartbeat");
  return ResourceReport{h->cpu_load(), h->available_memory_bytes(), h->temperature_c(), h->queue_length(),
                        h->clock_ratio(), h->service_us()};
}

Status parse_error(const Frame& frame, wire::ErrorCode* code) {
  const wire::Error* e = verified_payload<wire::Error>(frame);
  if (!e) return malformed("Error");
  *code = e->code();
  const char* name = wire::EnumNameErrorCode(e->code());
  return Status(StatusCode::kInvalidArgument,
                std::string("peer error ") + (*name ? name : "?") + ": " + str(e->message()));
}

namespace {

ResourceReport read_system_report() {
  ResourceReport r;
  double load = 0;
  if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &load) == 1) r.cpu_load = static_cast<float>(load / sysconf(_SC_NPROCESSORS_ONLN));
    std::fclose(f);
  }
  if (std::FILE* f = std::fopen("/proc/meminfo", "r")) {
    char line[256];
    unsigned long long kb = 0;
    while (std::fgets(line, sizeof(line), f)) {
      if (std::sscanf(line, "MemAvailable: %llu kB", &kb) == 1) r.available_memory_bytes = kb * 1024;
    }
    std::fclose(f);
  }
  if (std::FILE* f = std::fopen("/sys/class/thermal/thermal_zone0/temp", "r")) {
    long milli = 0;
    if (std::fscanf(f, "%ld", &milli) == 1) r.temperature_c = static_cast<float>(milli / 1000.0);
    std::fclose(f);
  }
  auto read_khz = [](const char* path) {
    long khz = 0;
    if (std::FILE* f = std::fopen(path, "r")) {
      if (std::fscanf(f, "%ld", &khz) != 1) khz = 0;
      std::fclose(f);
    }
    return khz;
  };
  const long now_khz = read_khz("/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq");
  const long max_khz = read_khz("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq");
  if (now_khz > 0 && max_khz > 0) r.clock_ratio = std::min(1.0f, static_cast<float>(now_khz) / static_cast<float>(max_khz));
  return r;
}

}  // namespace

// Read from /proc and /sys at most every 50 ms, however many peers ask (they change slowly).
ResourceReport read_resource_report(uint32_t queue_length) {
  static std::mutex mu;
  static ResourceReport cached;
  static std::chrono::steady_clock::time_point read_at;
  std::lock_guard<std::mutex> lock(mu);
  const auto now = std::chrono::steady_clock::now();
  if (read_at == std::chrono::steady_clock::time_point{} || now - read_at > std::chrono::milliseconds(50)) {
    cached = read_system_report();
    read_at = now;
  }
  ResourceReport r = cached;
  r.queue_length = queue_length;
  return r;
}

}  // namespace shoal::net
