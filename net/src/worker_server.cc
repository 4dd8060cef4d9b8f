#include "shoal/net/worker_server.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "shoal/dataset.h"
#include "shoal/engine.h"
#include "shoal/net/messages.h"

namespace shoal::net {
namespace {

using Clock = std::chrono::steady_clock;

uint32_t micros(Clock::duration d) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  return static_cast<uint32_t>(std::max<long long>(0, std::min<long long>(us, UINT32_MAX)));
}

struct Peer {
  std::unique_ptr<Connection> connection;
  std::mutex write_mu;
  template <typename Send>
  void reply(Send send) {
    std::lock_guard<std::mutex> lock(write_mu);
    (void)send(*connection);  // a peer that has gone is noticed by its reader
  }
};

struct Job {
  std::shared_ptr<Peer> peer;
  uint64_t id = 0;
  uint32_t subnet = 0;
  Clock::time_point received, deadline;
  std::vector<uint8_t> image;
};

}  // namespace

struct WorkerServer::Impl {
  const Model* model = nullptr;
  WorkerOptions options;
  std::unique_ptr<Engine> engine;
  WorkerInfo info;
  WorkerCounters counters;

  std::mutex mu;
  std::condition_variable cv;
  std::deque<Job> queue;
  bool stopping = false;
  // Peers being served, to shut down on stop(); a long-lived worker sees many come and go,
  // so their threads are detached and counted rather than kept until shutdown.
  std::vector<std::weak_ptr<Peer>> peers;
  uint32_t peer_threads = 0;
  std::condition_variable peers_done;
  std::thread compute;
  TcpListener* listener = nullptr;

  void compute_loop();
  void peer_loop(std::shared_ptr<Peer> peer);
  void handle_request(const std::shared_ptr<Peer>& peer, const Frame& frame, Clock::time_point received);
};

Result<std::unique_ptr<WorkerServer>> WorkerServer::create(const Model& model, const WorkerOptions& options) {
  if (!(options.slowdown >= 1.0)) {
    return Status(StatusCode::kInvalidArgument, "--slowdown must be 1 or more (it stretches compute time)");
  }
  auto impl = std::make_unique<Impl>();
  impl->model = &model;
  impl->options = options;
  auto engine = Engine::create(model, options.kernels ? *options.kernels : best_kernels(), options.threads);
  if (!engine.is_ok()) return engine.status();
  impl->engine = std::move(engine.value());
  const fb::Model& m = model.fb();
  WorkerInfo& info = impl->info;
  info.software = "shoal 0.1.0";
  info.member = options.member.empty() ? (m.name() ? m.name()->str() : "member") : options.member;
  info.model_name = m.name() ? m.name()->str() : "";
  info.architecture = m.metadata() && m.metadata()->architecture() ? m.metadata()->architecture()->str() : "";
  for (uint32_t s = 0; s < m.subnets()->size(); ++s) {
    const fb::Subnet* sub = m.subnets()->Get(s);
    info.subnets.push_back({sub->name()->str(), sub->width(), model.cost(s).macs, sub->val_accuracy()});
  }
  const TensorShape in = model.shape(m.input());
  info.input_h = in.h, info.input_w = in.w, info.input_c = in.c;
  info.classes = model.shape(m.output()).c;
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
  auto peer = std::make_shared<Peer>();
  peer->connection = std::move(connection);
  peer->connection->set_key(impl_->options.key);
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->stopping) return;
  ++impl_->counters.connections;
  auto& peers = impl_->peers;
  peers.erase(std::remove_if(peers.begin(), peers.end(), [](const auto& w) { return w.expired(); }), peers.end());
  peers.push_back(peer);
  ++impl_->peer_threads;
  std::thread([impl = impl_.get(), peer] {
    impl->peer_loop(peer);
    std::lock_guard<std::mutex> lock(impl->mu);  // the destructor waits for this before impl goes
    if (--impl->peer_threads == 0) impl->peers_done.notify_all();
  }).detach();
}

void WorkerServer::run(TcpListener& listener) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->stopping) return;
    impl_->listener = &listener;
  }
  for (;;) {
    auto connection = listener.accept();
    if (!connection.is_ok()) break;
    serve(std::move(connection.value()));
  }
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->listener = nullptr;
}

void WorkerServer::Impl::peer_loop(std::shared_ptr<Peer> peer) {
  Frame frame;
  for (;;) {
    const Status st = read_frame(*peer->connection, options.limits, &frame);
    const auto received = Clock::now();
    if (!st.is_ok()) {
      if (st.code() != StatusCode::kIo) {  // a bad header: the stream is lost, say why and drop
        ++counters.malformed;
        const auto code = st.code() == StatusCode::kUnsupported ? wire::ErrorCode::Unsupported
                                                                : wire::ErrorCode::Malformed;
        peer->reply([&](Connection& c) { return send_error(c, 0, code, st.message()); });
      }
      break;
    }
    const uint64_t id = frame.header.request_id;
    switch (frame.header.type) {
      case wire::MessageType::Hello: {
        auto hello = parse_hello(frame);
        if (!hello.is_ok()) {
          ++counters.malformed;
          peer->reply([&](Connection& c) { return send_error(c, id, wire::ErrorCode::Malformed, hello.status().message()); });
        } else {
          peer->reply([&](Connection& c) { return send_hello(c, info); });
        }
        break;
      }
      case wire::MessageType::InferRequest:
        handle_request(peer, frame, received);
        break;
      case wire::MessageType::Heartbeat: {
        size_t queued;
        {
          std::lock_guard<std::mutex> lock(mu);
          queued = queue.size();
        }
        const ResourceReport report = read_resource_report(static_cast<uint32_t>(queued));
        peer->reply([&](Connection& c) { return send_heartbeat(c, id, report); });
        break;
      }
      default:
        ++counters.rejected;
        peer->reply([&](Connection& c) {
          return send_error(c, id, wire::ErrorCode::Unsupported,
                            std::string("a worker does not take ") + wire::EnumNameMessageType(frame.header.type) + " messages");
        });
    }
  }
  peer->connection->shutdown();
}

void WorkerServer::Impl::handle_request(const std::shared_ptr<Peer>& peer, const Frame& frame,
                                        Clock::time_point received) {
  const uint64_t id = frame.header.request_id;
  auto refuse = [&](wire::ErrorCode code, const std::string& message) {
    ++(code == wire::ErrorCode::Malformed ? counters.malformed : counters.rejected);
    peer->reply([&](Connection& c) { return send_error(c, id, code, message); });
  };
  const wire::InferRequest* req = verified_payload<wire::InferRequest>(frame);
  if (!req) return refuse(wire::ErrorCode::Malformed, "InferRequest does not verify against schema/wire.fbs");
  auto subnet = model->find_subnet(req->subnet()->string_view());
  if (!subnet.is_ok()) return refuse(wire::ErrorCode::UnknownSubnet, subnet.status().message());
  const size_t want = size_t{info.input_h} * info.input_w * info.input_c;
  if (req->image()->size() != want) {
    return refuse(wire::ErrorCode::BadInput, "image has " + std::to_string(req->image()->size()) + " bytes; this model takes " +
                                                 std::to_string(info.input_h) + "x" + std::to_string(info.input_w) + "x" +
                                                 std::to_string(info.input_c) + " = " + std::to_string(want));
  }
  Job job;
  job.peer = peer;
  job.id = id;
  job.subnet = subnet.value();
  job.received = received;
  job.deadline = received + std::chrono::microseconds(req->budget_us());
  job.image.assign(req->image()->begin(), req->image()->end());
  std::lock_guard<std::mutex> lock(mu);
  queue.push_back(std::move(job));
  cv.notify_one();
}

void WorkerServer::Impl::compute_loop() {
  Images image;  // one image at a time, reused
  image.count = 1;
  image.h = info.input_h, image.w = info.input_w, image.c = info.input_c;
  std::vector<float> input, output;
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return stopping || !queue.empty(); });
      if (stopping) return;
      job = std::move(queue.front());
      queue.pop_front();
    }
    const auto start = Clock::now();
    if (start >= job.deadline) {
      ++counters.expired;
      job.peer->reply([&](Connection& c) {
        return send_error(c, job.id, wire::ErrorCode::DeadlineExpired, "the deadline passed while the request waited");
      });
      continue;
    }
    image.pixels.swap(job.image);
    Status st = image_to_input(image, 0, *model, Fit::kExact, &input);
    output.resize(engine->packed_size(job.subnet, model->fb().output()));
    if (st.is_ok()) st = engine->run(job.subnet, input.data(), input.size(), output.data(), output.size());
    const auto computed = Clock::now();
    if (options.slowdown > 1.0) {
      std::this_thread::sleep_for((computed - start) * (options.slowdown - 1.0));
    }
    const auto done = Clock::now();
    if (!st.is_ok()) {
      job.peer->reply([&](Connection& c) { return send_error(c, job.id, wire::ErrorCode::Internal, st.message()); });
      continue;
    }
    ++counters.served;
    job.peer->reply([&](Connection& c) {
      return send_infer_result(c, job.id, output.data(), output.size(), micros(done - start), micros(start - job.received));
    });
  }
}

}  // namespace shoal::net
