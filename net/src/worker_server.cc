#include "shoal/net/worker_server.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include "shoal/clock.h"
#include "shoal/dataset.h"
#include "shoal/engine.h"
#include "shoal/net/handshake.h"
#include "shoal/net/messages.h"
#include "shoal/net/tensor_encoding.h"
#include "shoal/version.h"

namespace shoal::net {
namespace {

using Clock = std::chrono::steady_clock;

uint32_t micros(Clock::duration d) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  return static_cast<uint32_t>(std::max<long long>(0, std::min<long long>(us, UINT32_MAX)));
}

// When a request came: `earliest` starts its deadline (erring early, never late); `likely`,
// the middle of what the stamps allow, times the wait it reports (an early guess there would
// make the master learn its round trips short, and hedge in vain).
struct Received {
  Clock::time_point earliest, likely;
};

// The request kinds, each decoded and checked into its own type.
// The whole network, or a graph segment of it between two cuts.
struct SegmentWork {
  Segment segment;
  bool from_cut = false, to_cut = false;
  std::vector<uint8_t> input;  // the image, or the encoded tensor at the cut it starts from
  wire::TensorEncoding input_encoding = wire::TensorEncoding::F32, output_encoding = wire::TensorEncoding::F32;
  float input_scale = 1;
};
// One device's share of a channel-partition stage: its nodes, ranges and tensors.
struct ShareWork {
  uint32_t first_node = 0, end_node = 0;
  std::vector<fb::GroupRange> ranges;
  std::vector<uint32_t> in_tensors, out_tensors;
  std::vector<EncodedTensor> inputs;
  wire::TensorEncoding output_encoding = wire::TensorEncoding::F32;
};

struct Job {
  uint64_t id = 0;
  uint32_t subnet = 0;  // the model's
  uint32_t top_k = 0;   // reply with only this many classes (0: all)
  Received received;
  Clock::time_point deadline;
  std::variant<SegmentWork, ShareWork> work;
  bool share() const { return std::holds_alternative<ShareWork>(work); }
};

// One connected master. Its jobs wait in its own queue (under the server's lock); the
// engine takes from the peers in turn.
struct Peer {
  std::unique_ptr<Connection> connection;
  std::deque<Job> jobs;
  std::string source;   // its address without the port
  bool proven = false;  // a frame of its under the session key has verified (under the lock)
};

// Until a peer proves it holds the key (a frame under its session key verifies), it holds no
// slot: connections in their handshake have a pool of their own, and a new one takes the
// place of the oldest of its source (kProvingPerSource of them), or of all (kProving), so
// silent connections or a recorded Hello replayed many times cannot keep anyone else out.
constexpr size_t kProving = 16, kProvingPerSource = 4;

std::string source_of(const std::string& peer) {
  const size_t colon = peer.rfind(':');
  return colon == std::string::npos ? peer : peer.substr(0, colon);
}

}  // namespace

struct WorkerServer::Impl {
  const Model* model = nullptr;
  WorkerOptions options;
  Limits request_limits;
  std::unique_ptr<Engine> engine;
  WorkerInfo info;
  WorkerCounters counters;
  const std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::shared_ptr<Peer>> turn;  // peers with jobs waiting, the next to serve first
  uint32_t queued = 0;                     // jobs waiting, all peers
  bool stopping = false;
  // Peers being served, to shut down on stop(); their threads are detached and counted.
  std::vector<std::weak_ptr<Peer>> peers;
  uint32_t peer_threads = 0;
  uint32_t proven = 0;                       // peers that proved the key: what max_peers counts
  std::deque<std::weak_ptr<Peer>> proving;  // the others, oldest first
  std::condition_variable peers_done;
  std::thread compute;
  Listener* listener = nullptr;

  // The engine and its buffers: used by one thread at a time, the one that set engine_busy.
  bool engine_busy = false;  // under mu
  std::vector<uint32_t> hello_subnets;  // the model's index of each subnet the Hello lists
  // Every segment between cuts numbered as the Hello lists them (0: the image, or the
  // probabilities), resolved and checked once: [from * (cuts + 1) + to], and why where not.
  std::vector<Segment> segments;
  std::vector<std::string> segment_errors;
  std::vector<double> took_ms;  // per subnet, smoothed, slowdown included (-1: not run yet); under mu
  std::vector<double> share_ms;  // the same for the longest share of a partition, per subnet
  static constexpr double kInlineMs = 2.0;  // run on the reading thread only what takes less
  Images image;
  std::vector<float> input, output;
  EncodedTensor encoded;  // a segment's output, as it goes out
  // A share's tensors, decoded and encoded (reused).
  std::vector<std::vector<float>> share_in, share_out;
  std::vector<EncodedTensor> share_encoded;
  std::vector<const EncodedTensor*> share_replies;
  std::vector<TensorIn> share_in_views;
  std::vector<TensorOut> share_out_views;

  void compute_loop();
  void run_job(Connection& c, Job& job);
  // Runs a share on the engine: the outputs into share_encoded.
  Status run_share(uint32_t subnet, ShareWork& work);
  // Runs a whole network or a graph segment: the result into `output`.
  Status run_segment(uint32_t subnet, SegmentWork& work);
  // Check a request of each kind and take it; the error says what is wrong.
  Status take_segment(const wire::InferRequest& req, uint32_t subnet, SegmentWork& work) const;
  Status take_share(const wire::InferRequest& req, uint32_t subnet, ShareWork& work) const;
  void peer_loop(const std::shared_ptr<Peer>& peer);
  // True when the request ran on this thread (the engine was idle).
  bool handle_request(const std::shared_ptr<Peer>& peer, const Frame& frame, Received received);
  // A checked request: run here when the engine is idle and it is short (true), else queued.
  bool run_or_queue(const std::shared_ptr<Peer>& peer, Job job);
  bool admit(const std::shared_ptr<Peer>& peer, Job job);
  void forget(const std::shared_ptr<Peer>& peer);
  // The first frame under the session key verified: the peer takes a slot, or is told Busy
  // when every slot is taken (false).
  bool prove(const std::shared_ptr<Peer>& peer);
  void tell(PeerEvent::Kind kind, const Connection& c, std::string why) const {
    if (options.on_event) options.on_event(PeerEvent{kind, c.peer(), std::move(why)});
  }
  // Makes room for one more connection in its handshake (under the lock).
  void make_room_to_prove(const std::string& source);
};

Result<std::unique_ptr<WorkerServer>> WorkerServer::create(const Model& model, const WorkerOptions& options) {
  if (!(options.slowdown >= 1.0)) {
    return Status(StatusCode::kInvalidArgument, "--slowdown must be 1 or more (it stretches compute time)");
  }
  if (options.max_peers < 1 || options.max_queued < 1) {
    return Status(StatusCode::kInvalidArgument, "max_peers and max_queued must be at least 1");
  }
  auto impl = std::make_unique<Impl>();
  impl->model = &model;
  impl->options = options;
  auto engine = Engine::create(model, options.backend ? *options.backend : best_backend(), options.threads);
  if (!engine.is_ok()) return engine.status();
  impl->engine = std::move(engine.value());
  const fb::Model& m = model.fb();
  WorkerInfo& info = impl->info;
  info.software = "shoal " SHOAL_VERSION;
  info.member = options.member.empty() ? (m.name() ? m.name()->str() : "member") : options.member;
  info.model_name = m.name() ? m.name()->str() : "";
  info.architecture = m.metadata() && m.metadata()->architecture() ? m.metadata()->architecture()->str() : "";
  std::vector<bool> served(m.subnets()->size(), options.subnets.empty());
  for (const std::string& name : options.subnets) {
    auto s = model.find_subnet(name);
    if (!s.is_ok()) return s.status();
    served[s.value()] = true;
  }
  for (uint32_t s = 0; s < m.subnets()->size(); ++s) {
    if (!served[s]) continue;
    const fb::Subnet* sub = m.subnets()->Get(s);
    info.subnets.push_back({sub->name()->str(), sub->width(), model.cost(s).macs, sub->val_accuracy()});
    impl->hello_subnets.push_back(s);
  }
  // The cuts, numbered from 1 as the Hello lists them, and every segment between them.
  const std::vector<uint32_t> cuts = model.cut_tensors();
  std::vector<std::string_view> ends = {m.tensors()->Get(m.input())->name()->string_view()};
  for (uint32_t t : cuts) {
    info.cuts.push_back(m.tensors()->Get(t)->name()->str());
    ends.push_back(m.tensors()->Get(t)->name()->string_view());
  }
  const std::string_view probabilities = m.tensors()->Get(m.output())->name()->string_view();
  for (size_t from = 0; from < ends.size(); ++from) {
    for (size_t to = 0; to < ends.size(); ++to) {
      auto seg = impl->engine->segment(ends[from], to == 0 ? probabilities : ends[to]);
      impl->segments.push_back(seg.is_ok() ? seg.value() : Segment{});
      impl->segment_errors.push_back(seg.is_ok() ? "" : "no such segment: " + seg.status().message());
    }
  }
  const TensorShape in = model.shape(m.input());
  info.input_h = in.h, info.input_w = in.w, info.input_c = in.c;
  info.classes = model.shape(m.output()).c;
  info.model_digest = model_digest(model);
  // The largest honest request: the image or the largest tensor a segment can start from (at
  // full width, f32), and the tables around it.
  size_t largest_input = size_t{in.h} * in.w * in.c;
  for (uint32_t t : cuts) {
    for (uint32_t s = 0; s < m.subnets()->size(); ++s) largest_input = std::max(largest_input, 4 * model.packed_size(s, t));
  }
  impl->request_limits = options.limits;
  impl->took_ms.assign(m.subnets()->size(), -1.0);
  impl->share_ms.assign(m.subnets()->size(), -1.0);
  impl->image.count = 1;
  impl->image.h = in.h, impl->image.w = in.w, impl->image.c = in.c;
  // A share carries tensors that are all live at one point of the graph: at most the arena,
  // at f32, with a table, a range per group and an index per tensor around each.
  const size_t tables = 64 * (size_t{m.tensors()->size()} + m.groups()->size());
  largest_input = std::max(largest_input, impl->engine->arena_bytes() + tables);
  const size_t request = largest_input + 512;
  impl->request_limits.max_payload_bytes =
      static_cast<uint32_t>(std::min<size_t>(options.limits.max_payload_bytes, request));
  std::unique_ptr<WorkerServer> server(new WorkerServer(std::move(impl)));
  server->impl_->compute = std::thread([s = server->impl_.get()] { s->compute_loop(); });
  return server;
}

WorkerServer::WorkerServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

WorkerServer::~WorkerServer() {
  stop();
  impl_->compute.join();
  std::unique_lock<std::mutex> lock(impl_->mu);
  impl_->peers_done.wait(lock, [&] { return impl_->peer_threads == 0; });
}

const WorkerCounters& WorkerServer::counters() const { return impl_->counters; }

WorkerStatus WorkerServer::status() const {
  WorkerStatus s;
  s.info = impl_->info;
  s.uptime_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - impl_->started).count();
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    s.peers = impl_->proven;
    s.proving = static_cast<uint32_t>(std::count_if(impl_->proving.begin(), impl_->proving.end(),
                                                    [](const auto& p) { return !p.expired(); }));
    s.queued = impl_->queued;
    for (uint32_t model_subnet : impl_->hello_subnets) s.took_ms.push_back(impl_->took_ms[model_subnet]);
  }
  s.report = read_resource_report(s.queued);
  const WorkerCounters& c = impl_->counters;
  s.served = c.served, s.expired = c.expired, s.malformed = c.malformed, s.rejected = c.rejected, s.busy = c.busy;
  s.connections = c.connections, s.peers_refused = c.peers_refused, s.peers_dropped = c.peers_dropped;
  s.peers_displaced = c.peers_displaced;
  return s;
}

const char* peer_event_name(PeerEvent::Kind kind) {
  switch (kind) {
    case PeerEvent::Kind::kServing: return "serving";
    case PeerEvent::Kind::kLeft: return "left";
    case PeerEvent::Kind::kRefused: return "refused";
  }
  return "?";
}

void WorkerServer::stop() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->stopping = true;
  impl_->cv.notify_all();
  if (impl_->listener) impl_->listener->close();
  for (auto& weak : impl_->peers) {
    if (auto peer = weak.lock()) peer->connection->shutdown();
  }
}

void WorkerServer::serve(std::unique_ptr<Connection> connection) {
  if (!connection) return;
  auto peer = std::make_shared<Peer>();
  peer->connection = std::move(connection);
  peer->connection->set_key(impl_->options.key);
  ConnectionLimits limits = impl_->options.connection;  // nothing larger than a request it takes is reassembled
  limits.max_frame_bytes = kHeaderBytes + impl_->request_limits.max_payload_bytes + kMacBytes;
  peer->connection->set_limits(limits);
  peer->source = source_of(peer->connection->peer());
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->stopping) return;
  auto& peers = impl_->peers;
  peers.erase(std::remove_if(peers.begin(), peers.end(), [](const auto& w) { return w.expired(); }), peers.end());
  if (impl_->proven >= impl_->options.max_peers) {
    // Answered as the reply to its Hello would be (sequence 0, under the pre-shared key).
    ++impl_->counters.peers_refused;
    (void)send_error(*peer->connection, 0, wire::ErrorCode::Busy,
                     "this worker serves " + std::to_string(impl_->options.max_peers) + " peers at most; try later");
    return;
  }
  impl_->make_room_to_prove(peer->source);
  ++impl_->counters.connections;
  peers.push_back(peer);
  impl_->proving.push_back(peer);
  ++impl_->peer_threads;
  std::thread([impl = impl_.get(), peer] {
    impl->peer_loop(peer);
    impl->forget(peer);
    std::lock_guard<std::mutex> lock(impl->mu);  // the destructor waits for this before impl goes
    if (--impl->peer_threads == 0) impl->peers_done.notify_all();
  }).detach();
}

Status WorkerServer::may_serve_on(const Listener& listener) const {
  if (listener.loopback() || !impl_->options.key.empty()) return Status::ok();
  return Status(StatusCode::kInvalidArgument,
                "listening beyond this machine (port " + std::to_string(listener.port()) +
                    ") needs a pre-shared key (--key-file; WorkerOptions::key), so that only masters holding "
                    "the same key are served (make one with: head -c 32 /dev/urandom | base64 > shoal.key)");
}

Status WorkerServer::run(Listener& listener) {
  SHOAL_RETURN_IF_ERROR(may_serve_on(listener));
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->stopping) return Status::ok();
    impl_->listener = &listener;
  }
  for (;;) {
    auto connection = listener.accept();
    if (!connection.is_ok()) break;
    serve(std::move(connection.value()));
  }
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->listener = nullptr;
  return Status::ok();
}

void WorkerServer::Impl::make_room_to_prove(const std::string& source) {
  proving.erase(std::remove_if(proving.begin(), proving.end(), [](const auto& w) { return w.expired(); }), proving.end());
  size_t same = 0;
  for (const auto& w : proving) {
    const auto p = w.lock();  // a peer's thread may let go of it at any time
    same += p && p->source == source;
  }
  if (same < kProvingPerSource && proving.size() < kProving) return;
  for (auto it = proving.begin(); it != proving.end(); ++it) {
    const auto oldest = it->lock();
    if (!oldest || (same >= kProvingPerSource && oldest->source != source)) continue;
    oldest->connection->shutdown();  // its thread ends
    ++counters.peers_displaced;
    proving.erase(it);
    return;
  }
}

bool WorkerServer::Impl::prove(const std::shared_ptr<Peer>& peer) {
  std::lock_guard<std::mutex> lock(mu);
  proving.erase(std::remove_if(proving.begin(), proving.end(),
                               [&](const auto& w) { return w.expired() || w.lock() == peer; }),
                proving.end());
  if (proven >= options.max_peers) {
    ++counters.peers_refused;
    (void)send_error(*peer->connection, 0, wire::ErrorCode::Busy,
                     "this worker serves " + std::to_string(options.max_peers) + " peers at most; try later");
    return false;
  }
  peer->proven = true;
  ++proven;
  return true;
}

void WorkerServer::Impl::peer_loop(const std::shared_ptr<Peer>& peer) {
  Connection& c = *peer->connection;
  const auto shaken = accept_handshake(c, info, options.handshake_timeout_ms);
  if (!shaken.is_ok()) {
    ++counters.peers_dropped;
    tell(PeerEvent::Kind::kRefused, c, "handshake failed: " + shaken.status().message());
    return c.shutdown();
  }
  Frame frame;
  // A request's deadline counts from its arrival, which the kernel stamps (Connection::arrival):
  // exactly, unless the frame came in one receive with later bytes; such a frame is taken as
  // arriving at the earliest it can have (erring early, never late, by at most the time
  // between two receives). Where the transport has no stamps (AF_UNIX), frames waiting after
  // a request ran on this thread are found by a read that does not wait, and taken as having
  // arrived when that run started, or when the frame before them did if earlier.
  Clock::time_point ran_since{};  // unstamped: the last request that ran on this thread
  bool probe = false;
  std::string left_because = "the server stopped";
  for (;;) {
    // Until its first frame verifies, a peer gets the handshake's time, not the idle timeout.
    const int wait = probe ? 0 : peer->proven ? options.idle_timeout_ms : options.handshake_timeout_ms;
    const Status st = read_frame(c, request_limits, &frame, wait);
    if (probe && st.code() == StatusCode::kTimeout) {
      probe = false;  // nothing was waiting
      ran_since = {};
      continue;
    }
    const Connection::Arrival arrival = c.arrival();
    Received received{arrival.earliest, arrival.earliest + (arrival.at - arrival.earliest) / 2};
    if (arrival.at == Clock::time_point{}) received.earliest = received.likely = probe ? ran_since : Clock::now();
    probe = false;
    ran_since = {};
    if (!st.is_ok() && c.datagrams() && st.code() == StatusCode::kCorrupt) {
      ++counters.malformed;  // over UDP a bad frame costs its datagram, not the session
      continue;
    }
    if (!st.is_ok()) {
      if (st.code() != StatusCode::kIo) ++counters.peers_dropped;
      if (st.code() == StatusCode::kCorrupt || st.code() == StatusCode::kUnsupported) {
        // The stream is lost: say why, then drop.
        ++counters.malformed;
        const auto code = st.code() == StatusCode::kUnsupported ? wire::ErrorCode::Unsupported : wire::ErrorCode::Malformed;
        (void)send_error(c, 0, code, st.message());
        (void)c.flush(100);
      }
      if (c.overflowed()) ++counters.peers_dropped;  // it did not read its replies
      left_because = c.overflowed()                       ? "it did not read its replies"
                     : st.code() == StatusCode::kTimeout ? "silent for " + std::to_string(wait / 1000) + " s"
                     : st.code() == StatusCode::kIo      ? "it closed the connection"
                                                          : st.message();
      if (!peer->proven) tell(PeerEvent::Kind::kRefused, c, "never proved the key: " + left_because);
      break;
    }
    if (!peer->proven) {
      if (!prove(peer)) {
        tell(PeerEvent::Kind::kRefused, c, "every one of its " + std::to_string(options.max_peers) + " slots is taken");
        break;
      }
      tell(PeerEvent::Kind::kServing, c, "");
    }
    const uint64_t id = frame.header.request_id;
    switch (frame.header.type) {
      case wire::MessageType::InferRequest: {
        const auto started = Clock::now();
        if (handle_request(peer, frame, received) && arrival.at == Clock::time_point{}) {
          // What is found waiting now came after this frame did (a stream keeps order).
          ran_since = std::min(started, received.earliest);
          probe = true;
        }
        break;
      }
      case wire::MessageType::Heartbeat: {
        uint32_t waiting;
        {
          std::lock_guard<std::mutex> lock(mu);
          waiting = queued;
        }
        ResourceReport report = read_resource_report(waiting);
        report.service_us = micros(Clock::now() - received.likely);
        (void)send_heartbeat(c, id, report);
        break;
      }
      default:
        ++counters.rejected;
        (void)send_error(c, id, wire::ErrorCode::Unsupported,
                         std::string("a worker does not take ") + wire::EnumNameMessageType(frame.header.type) +
                             " messages after the handshake");
    }
  }
  if (peer->proven) tell(PeerEvent::Kind::kLeft, c, left_because);
  c.shutdown();
}

bool WorkerServer::Impl::handle_request(const std::shared_ptr<Peer>& peer, const Frame& frame, Received received) {
  const uint64_t id = frame.header.request_id;
  auto refuse = [&](wire::ErrorCode code, const std::string& message) {
    ++(code == wire::ErrorCode::Malformed ? counters.malformed : counters.rejected);
    (void)send_error(*peer->connection, id, code, message);
    return false;
  };
  const wire::InferRequest* req = verified_payload<wire::InferRequest>(frame);
  if (!req) return refuse(wire::ErrorCode::Malformed, "InferRequest does not verify against schema/wire.fbs");
  if (req->subnet() >= hello_subnets.size()) {
    return refuse(wire::ErrorCode::UnknownSubnet, "no subnet " + std::to_string(req->subnet()) + ": this worker's Hello lists " +
                                                      std::to_string(hello_subnets.size()));
  }
  Job job;
  job.id = id;
  job.subnet = hello_subnets[req->subnet()];
  job.top_k = req->top_k();
  job.received = received;
  job.deadline = received.earliest + std::chrono::microseconds(req->budget_us());
  Status taken;
  if (req->end_node() > 0) {
    taken = take_share(*req, job.subnet, job.work.emplace<ShareWork>());
  } else {
    taken = take_segment(*req, job.subnet, job.work.emplace<SegmentWork>());
  }
  if (!taken.is_ok()) return refuse(wire::ErrorCode::BadInput, taken.message());
  return run_or_queue(peer, std::move(job));
}

Status WorkerServer::Impl::take_segment(const wire::InferRequest& req, uint32_t subnet, SegmentWork& work) const {
  const size_t ends = info.cuts.size() + 1;
  if (req.from() >= ends || req.to() >= ends) {
    return Status(StatusCode::kInvalidArgument, "no cut " + std::to_string(std::max(req.from(), req.to())) +
                                                    ": this worker's Hello lists " + std::to_string(info.cuts.size()));
  }
  const size_t at = size_t{req.from()} * ends + req.to();
  if (!segment_errors[at].empty()) return Status(StatusCode::kInvalidArgument, segment_errors[at]);
  work.segment = segments[at];
  work.from_cut = req.from() != 0;
  work.to_cut = req.to() != 0;
  work.output_encoding = req.output_encoding();
  if (work.output_encoding > wire::TensorEncoding::MAX) {
    return Status(StatusCode::kInvalidArgument, "unknown output encoding " + std::to_string(static_cast<int>(work.output_encoding)));
  }
  if (work.from_cut) {
    const wire::Tensor* t = req.input();
    const size_t values = model->packed_size(subnet, work.segment.from);
    if (!t || req.image()->size() != 0) {
      return Status(StatusCode::kInvalidArgument, "a request that starts at a cut carries its tensor in `input` and no image");
    }
    if (t->encoding() > wire::TensorEncoding::MAX || t->data()->size() != encoded_bytes(t->encoding(), values)) {
      return Status(StatusCode::kInvalidArgument,
                    "tensor '" + info.cuts[req.from() - 1u] + "' at subnet '" + model->fb().subnets()->Get(subnet)->name()->str() +
                        "' holds " + std::to_string(values) + " values, " + std::to_string(encoded_bytes(t->encoding(), values)) +
                        " bytes in " + tensor_encoding_name(t->encoding()) + "; the request has " + std::to_string(t->data()->size()));
    }
    work.input_encoding = t->encoding();
    work.input_scale = t->scale();
    work.input.assign(t->data()->begin(), t->data()->end());
    return Status::ok();
  }
  const size_t want = size_t{info.input_h} * info.input_w * info.input_c;
  if (req.image()->size() != want) {
    return Status(StatusCode::kInvalidArgument, "image has " + std::to_string(req.image()->size()) +
                                                    " bytes; this model takes " + std::to_string(info.input_h) + "x" +
                                                    std::to_string(info.input_w) + "x" + std::to_string(info.input_c) +
                                                    " = " + std::to_string(want));
  }
  work.input.assign(req.image()->begin(), req.image()->end());
  return Status::ok();
}

Status WorkerServer::Impl::take_share(const wire::InferRequest& req, uint32_t subnet, ShareWork& work) const {
  const fb::Model& m = model->fb();
  const uint32_t tensors = m.tensors()->size();
  if (req.image()->size() != 0) return Status(StatusCode::kInvalidArgument, "a share carries tensors, not an image");
  if (!req.ranges() || req.ranges()->size() != m.groups()->size()) {
    return Status(StatusCode::kInvalidArgument, "a share gives one channel range per group (" +
                                                    std::to_string(m.groups()->size()) + ")");
  }
  const auto* in_ids = req.input_tensors();
  const auto* ins = req.inputs();
  const auto* out_ids = req.output_tensors();
  if (!in_ids || !ins || in_ids->size() != ins->size() || in_ids->size() > tensors || !out_ids ||
      out_ids->size() == 0 || out_ids->size() > tensors) {
    return Status(StatusCode::kInvalidArgument, "a share names its input tensors (one per input) and its outputs");
  }
  for (uint32_t t : *in_ids) {
    if (t >= tensors) return Status(StatusCode::kInvalidArgument, "no tensor " + std::to_string(t) + " in this model");
  }
  for (uint32_t t : *out_ids) {
    if (t >= tensors) return Status(StatusCode::kInvalidArgument, "no tensor " + std::to_string(t) + " in this model");
  }
  if (req.output_encoding() > wire::TensorEncoding::MAX) {
    return Status(StatusCode::kInvalidArgument, "unknown output encoding " + std::to_string(static_cast<int>(req.output_encoding())));
  }
  work.first_node = req.first_node(), work.end_node = req.end_node();
  work.output_encoding = req.output_encoding();
  for (const wire::ChannelRange* r : *req.ranges()) work.ranges.emplace_back(r->lo(), r->hi());
  work.in_tensors.assign(in_ids->begin(), in_ids->end());
  work.out_tensors.assign(out_ids->begin(), out_ids->end());
  std::vector<TensorIn> in_views;
  std::vector<TensorOut> out_views;
  for (uint32_t t : work.in_tensors) in_views.push_back({t, nullptr, model->packed_size(subnet, t)});
  for (uint32_t t : work.out_tensors) out_views.push_back({t, nullptr, model->packed_size(work.ranges.data(), t)});
  SHOAL_RETURN_IF_ERROR(engine->check_nodes(subnet, work.first_node, work.end_node, work.ranges.data(), in_views.data(),
                                            in_views.size(), out_views.data(), out_views.size()));
  work.inputs.resize(ins->size());
  for (uint32_t i = 0; i < ins->size(); ++i) {
    const wire::Tensor* t = ins->Get(i);
    const size_t values = in_views[i].count;
    if (t->encoding() > wire::TensorEncoding::MAX || t->data()->size() != encoded_bytes(t->encoding(), values)) {
      return Status(StatusCode::kInvalidArgument, "tensor '" + m.tensors()->Get(in_views[i].tensor)->name()->str() +
                                                      "' holds " + std::to_string(values) + " values at this subnet; the share's input " +
                                                      std::to_string(i) + " has " + std::to_string(t->data()->size()) + " bytes");
    }
    work.inputs[i].encoding = t->encoding();
    work.inputs[i].scale = t->scale();
    work.inputs[i].data.assign(t->data()->begin(), t->data()->end());
  }
  return Status::ok();
}

bool WorkerServer::Impl::run_or_queue(const std::shared_ptr<Peer>& peer, Job job) {
  const uint64_t id = job.id;
  // An idle engine runs the request here at once: no hand-over to the engine thread (which
  // costs about as much as a loopback round trip).
  // Only a short one: while it runs, this peer's frames (heartbeats too) wait unread.
  bool here = false;
  {
    std::lock_guard<std::mutex> lock(mu);
    const double usual_ms = (job.share() ? share_ms : took_ms)[job.subnet];
    if (!engine_busy && turn.empty() && !stopping && usual_ms >= 0 && usual_ms <= kInlineMs) engine_busy = here = true;
  }
  if (here) {
    run_job(*peer->connection, job);
    std::lock_guard<std::mutex> lock(mu);
    engine_busy = false;
    if (!turn.empty()) cv.notify_one();
    return true;
  }
  if (!admit(peer, std::move(job))) {
    ++counters.busy;
    (void)send_error(*peer->connection, id, wire::ErrorCode::Busy,
                     "the worker's queue is full (" + std::to_string(options.max_queued) + " requests); send elsewhere");
  }
  return false;
}

// Fair admission: when the queue is full, the peer with the most waiting gives up its newest
// job if it has more than this peer would after admitting; otherwise this job is refused.
bool WorkerServer::Impl::admit(const std::shared_ptr<Peer>& peer, Job job) {
  std::shared_ptr<Peer> evicted_from;
  Job evicted;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (stopping) return false;
    if (queued >= options.max_queued) {
      std::shared_ptr<Peer> largest;
      for (const auto& p : turn) {
        if (!largest || p->jobs.size() > largest->jobs.size()) largest = p;
      }
      if (!largest || largest == peer || largest->jobs.size() <= peer->jobs.size() + 1) return false;
      evicted = std::move(largest->jobs.back());
      largest->jobs.pop_back();
      --queued;
      if (largest->jobs.empty()) turn.erase(std::find(turn.begin(), turn.end(), largest));
      evicted_from = largest;
    }
    if (peer->jobs.empty()) turn.push_back(peer);
    peer->jobs.push_back(std::move(job));
    ++queued;
    cv.notify_one();
  }
  if (evicted_from) {
    ++counters.busy;
    (void)send_error(*evicted_from->connection, evicted.id, wire::ErrorCode::Busy,
                     "the worker's queue is full and this peer has the most waiting; send elsewhere");
  }
  return true;
}

void WorkerServer::Impl::forget(const std::shared_ptr<Peer>& peer) {
  std::lock_guard<std::mutex> lock(mu);  // its reader has ended: drop what it queued
  if (peer->proven) --proven;
  queued -= static_cast<uint32_t>(peer->jobs.size());
  peer->jobs.clear();
  const auto it = std::find(turn.begin(), turn.end(), peer);
  if (it != turn.end()) turn.erase(it);
}

void WorkerServer::Impl::compute_loop() {
  for (;;) {
    Job job;
    std::shared_ptr<Peer> peer;
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return stopping || (!turn.empty() && !engine_busy); });
      if (stopping) return;
      peer = turn.front();
      turn.pop_front();
      job = std::move(peer->jobs.front());
      peer->jobs.pop_front();
      --queued;
      if (!peer->jobs.empty()) turn.push_back(peer);  // its next job waits for the others' turns
      engine_busy = true;
    }
    run_job(*peer->connection, job);
    std::lock_guard<std::mutex> lock(mu);
    engine_busy = false;
  }
}

// The engine is this thread's alone (engine_busy) until it returns.
void WorkerServer::Impl::run_job(Connection& c, Job& job) {
  const auto start = Clock::now();
  if (start >= job.deadline) {
    ++counters.expired;
    (void)send_error(c, job.id, wire::ErrorCode::DeadlineExpired, "the deadline passed while the request waited");
    return;
  }
  ShareWork* share = std::get_if<ShareWork>(&job.work);
  SegmentWork* segment = std::get_if<SegmentWork>(&job.work);
  const Status st = share ? run_share(job.subnet, *share) : run_segment(job.subnet, *segment);
  stretch_since(start, options.slowdown);
  const auto done = Clock::now();
  if (!st.is_ok()) {
    const bool bad_input = st.code() == StatusCode::kCorrupt;  // an int8 tensor's scale
    (void)send_error(c, job.id, bad_input ? wire::ErrorCode::BadInput : wire::ErrorCode::Internal, st.message());
    return;
  }
  ++counters.served;
  const uint32_t compute_us = micros(done - start), queue_us = micros(start - job.received.likely);
  if (share) {
    (void)send_share_result(c, job.id, share_replies.data(), share_replies.size(), compute_us, queue_us);
  } else if (segment->to_cut) {
    encode_tensor(output.data(), output.size(), segment->output_encoding, &encoded);
    (void)send_segment_result(c, job.id, encoded, compute_us, queue_us);
  } else {
    (void)send_infer_result(c, job.id, output.data(), output.size(), compute_us, queue_us, job.top_k);
  }
  if (segment && (segment->from_cut || segment->to_cut)) return;  // took_ms times whole runs (a segment takes less)
  const double ms = std::chrono::duration<double, std::milli>(done - start).count();
  std::lock_guard<std::mutex> lock(mu);
  if (share) {
    double& longest = share_ms[job.subnet];
    longest = std::max(ms, longest < 0 ? ms : 0.95 * longest);  // the longest share, slowly forgotten
  } else {
    double& usual = took_ms[job.subnet];
    usual = usual < 0 ? ms : 0.8 * usual + 0.2 * ms;
  }
}

Status WorkerServer::Impl::run_segment(uint32_t subnet, SegmentWork& work) {
  Status st;
  if (work.from_cut) {
    input.resize(engine->packed_size(subnet, work.segment.from));
    st = decode_tensor(work.input_encoding, work.input_scale, work.input.data(), work.input.size(), input.data(), input.size());
  } else {
    image.pixels.swap(work.input);
    st = image_to_input(image, 0, *model, Fit::kExact, &input);
  }
  output.resize(engine->packed_size(subnet, work.segment.to));
  if (st.is_ok()) st = engine->run(subnet, work.segment, input.data(), input.size(), output.data(), output.size());
  return st;
}

Status WorkerServer::Impl::run_share(uint32_t subnet, ShareWork& work) {
  const size_t n_in = work.in_tensors.size(), n_out = work.out_tensors.size();
  share_in.resize(std::max(share_in.size(), n_in));
  share_out.resize(std::max(share_out.size(), n_out));
  share_encoded.resize(std::max(share_encoded.size(), n_out));
  share_in_views.clear();
  share_out_views.clear();
  share_replies.clear();
  for (size_t i = 0; i < n_in; ++i) {
    const EncodedTensor& e = work.inputs[i];
    share_in[i].resize(model->packed_size(subnet, work.in_tensors[i]));
    SHOAL_RETURN_IF_ERROR(decode_tensor(e.encoding, e.scale, e.data.data(), e.data.size(), share_in[i].data(), share_in[i].size()));
    share_in_views.push_back({work.in_tensors[i], share_in[i].data(), share_in[i].size()});
  }
  for (size_t i = 0; i < n_out; ++i) {
    share_out[i].resize(model->packed_size(work.ranges.data(), work.out_tensors[i]));
    share_out_views.push_back({work.out_tensors[i], share_out[i].data(), share_out[i].size()});
  }
  SHOAL_RETURN_IF_ERROR(engine->run_nodes(subnet, work.first_node, work.end_node, work.ranges.data(),
                                          share_in_views.data(), n_in, share_out_views.data(), n_out));
  for (size_t i = 0; i < n_out; ++i) {
    encode_tensor(share_out[i].data(), share_out[i].size(), work.output_encoding, &share_encoded[i]);
    share_replies.push_back(&share_encoded[i]);
  }
  return Status::ok();
}

}  // namespace shoal::net
