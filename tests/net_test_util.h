// Helpers for tests that talk to a WorkerServer over the in-process transport.
#ifndef SHOAL_TESTS_NET_TEST_UTIL_H_
#define SHOAL_TESTS_NET_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "shoal/dataset.h"
#include "shoal/engine.h"
#include "shoal/net/handshake.h"
#include "shoal/net/worker_server.h"
#include "test_models.h"

namespace shoal::testing {
using namespace shoal::net;

// One end of a new connection served by `server`, not yet past the handshake.
inline std::unique_ptr<Connection> raw_connection(WorkerServer& server, const std::string& key = "") {
  auto [client, worker] = loopback_pair();
  server.serve(std::move(worker));
  client->set_key(key);
  return std::move(client);
}

// As a master would connect: past the handshake, frames under the session key.
inline std::unique_ptr<Connection> shake_hands(WorkerServer& server, const std::string& key = "") {
  auto c = raw_connection(server, key);
  const Result<WorkerInfo> info = dial_handshake(*c, WorkerInfo{}, 2000);
  EXPECT_TRUE(info.is_ok()) << info.status().to_string();
  return c;
}

// A subnet's number in requests to a worker serving `model`: its index among `served` (the
// subnets the worker was started with, which its Hello lists in the model's order), or in
// the model when it serves them all.
inline uint32_t subnet_number(const Model& model, const std::string& name, const std::vector<std::string>& served = {}) {
  if (served.empty()) return model.find_subnet(name).value();
  uint32_t n = 0;
  for (uint32_t s = 0; s < model.fb().subnets()->size(); ++s) {
    const std::string here = model.fb().subnets()->Get(s)->name()->str();
    if (here == name) return n;
    n += std::find(served.begin(), served.end(), here) != served.end();
  }
  ADD_FAILURE() << "no subnet " << name;
  return n;
}

// The bytes `like` would send next for this request (its key and sequence), without sending.
inline std::vector<uint8_t> request_bytes(Connection& like, uint64_t id, uint32_t subnet,
                                          const std::vector<uint8_t>& image) {
  auto [a, b] = loopback_pair();
  a->security() = like.security();
  EXPECT_TRUE(send_infer_request(*a, id, subnet, 1'000'000, image.data(), image.size()).is_ok());
  std::vector<uint8_t> bytes(kHeaderBytes);
  EXPECT_TRUE(b->read_exact(bytes.data(), kHeaderBytes, 1000).is_ok());
  const uint32_t payload = decode_header(bytes.data(), Limits{}).value().payload_bytes;
  bytes.resize(kHeaderBytes + payload + (like.key().empty() ? 0 : kMacBytes));
  EXPECT_TRUE(b->read_exact(bytes.data() + kHeaderBytes, bytes.size() - kHeaderBytes, 1000).is_ok());
  return bytes;
}

// Sends `image` at each subnet over `c` and checks every reply against this process's engine,
// bit for bit (the worker runs the same kernels). `served` as in subnet_number.
inline void expect_served_like_the_engine(Connection& c, const Model& model, const std::vector<uint8_t>& image,
                                          const std::vector<std::string>& subnets,
                                          const std::vector<std::string>& served = {}) {
  auto engine = Engine::create(model);
  ASSERT_TRUE(engine.is_ok());
  const TensorShape shape = model.shape(model.fb().input());
  Images one;
  one.count = 1, one.h = shape.h, one.w = shape.w, one.c = shape.c;
  one.pixels = image;
  const uint32_t classes = model.shape(model.fb().output()).c;
  std::vector<float> in, want(classes);
  ASSERT_TRUE(image_to_input(one, 0, model, Fit::kExact, &in).is_ok());
  for (const std::string& subnet : subnets) {
    const uint32_t s = model.find_subnet(subnet).value();
    ASSERT_TRUE(engine.value()->run(s, in.data(), in.size(), want.data(), want.size()).is_ok());
    ASSERT_TRUE(send_infer_request(c, 42, subnet_number(model, subnet, served), 1'000'000, image.data(), image.size()).is_ok());
    Frame f;
    ASSERT_TRUE(read_frame(c, Limits{}, &f, 2000).is_ok());
    ASSERT_EQ(f.header.type, wire::MessageType::InferResult);
    EXPECT_EQ(f.header.request_id, 42u);
    const wire::InferResult* r = verified_payload<wire::InferResult>(f);
    ASSERT_NE(r, nullptr);
    ASSERT_EQ(r->probabilities()->size(), classes);
    for (uint32_t k = 0; k < classes; ++k) EXPECT_EQ(r->probabilities()->Get(k), want[k]) << subnet;
    EXPECT_GT(r->compute_us(), 0u);
  }
}

// Queued requests expire from their arrival, over any transport: `c` (past its handshake)
// sends a w1.0 request to `server` (a SlowWorker's, so it takes tens of milliseconds), then a w0.25 one with 2 ms to live, which waits behind it past its deadline.
// The first comes back answered, the second DeadlineExpired. `wait_ms` bounds each reply
// (seconds in the sanitizer builds).
struct SlowWorker {  // a worker whose w1.0 takes tens of milliseconds
  SlowWorker() {
    const auto& bytes = synth_bytes("resnet8");
    model = std::make_unique<Model>(std::move(Model::from_bytes(bytes.data(), bytes.size()).value()));
    WorkerOptions options;
    options.slowdown = 200;
    server = std::move(WorkerServer::create(*model, options).value());
  }
  std::unique_ptr<Model> model;  // outlives the server
  std::unique_ptr<WorkerServer> server;
};
inline void expect_queued_request_expires(Connection& c, SlowWorker& worker, int wait_ms = -1) {
  const std::vector<uint8_t> img(28 * 28, 50);
  const Model& model = *worker.model;
  WorkerServer& server = *worker.server;
  ASSERT_TRUE(send_infer_request(c, 1, subnet_number(model, "w1.0"), 10'000'000, img.data(), img.size()).is_ok());
  ASSERT_TRUE(send_infer_request(c, 2, subnet_number(model, "w0.25"), 2'000, img.data(), img.size()).is_ok());
  Frame f;
  ASSERT_TRUE(read_frame(c, Limits{}, &f, wait_ms).is_ok());
  EXPECT_EQ(f.header.request_id, 1u);
  EXPECT_EQ(f.header.type, wire::MessageType::InferResult);
  ASSERT_TRUE(read_frame(c, Limits{}, &f, wait_ms).is_ok());
  EXPECT_EQ(f.header.request_id, 2u);
  ASSERT_EQ(f.header.type, wire::MessageType::Error);
  wire::ErrorCode code = wire::ErrorCode::None;
  (void)parse_error(f, &code);
  EXPECT_EQ(code, wire::ErrorCode::DeadlineExpired);
  EXPECT_EQ(server.counters().expired.load(), 1u);
}

}  // namespace shoal::testing

#endif  // SHOAL_TESTS_NET_TEST_UTIL_H_
