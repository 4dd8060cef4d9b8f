// The wire protocol over the in-process transport: the handshake, replays, round trips and
// every class of malformed frame, against a real WorkerServer.
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "shoal/dataset.h"
#include "shoal/engine.h"
#include "shoal/net/messages.h"
#include "shoal/net/worker_server.h"
#include "net_test_util.h"
#include "test_models.h"

namespace shoal::net {
namespace {

class Protocol : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& bytes = testing::synth_bytes("fluid-cnn");
    model_ = std::make_unique<Model>(std::move(Model::from_bytes(bytes.data(), bytes.size()).value()));
    WorkerOptions options;
    options.member = "m0";
    options.limits.max_payload_bytes = 1u << 16;
    options.key = key_;
    auto server = WorkerServer::create(*model_, options);
    ASSERT_TRUE(server.is_ok());
    server_ = std::move(server.value());
  }

  std::unique_ptr<Connection> connect() { return testing::shake_hands(*server_, key_); }

  static Frame read(Connection& c) {
    Frame f;
    const Status st = read_frame(c, Limits{}, &f);
    EXPECT_TRUE(st.is_ok()) << st.to_string();
    return f;
  }

  static wire::ErrorCode expect_error(Connection& c, uint64_t id) {
    const Frame f = read(c);
    EXPECT_EQ(f.header.type, wire::MessageType::Error);
    EXPECT_EQ(f.header.request_id, id);
    wire::ErrorCode code = wire::ErrorCode::None;
    (void)parse_error(f, &code);
    return code;
  }

  std::vector<uint8_t> image(uint8_t v = 100) const { return std::vector<uint8_t>(28 * 28, v); }
  uint32_t subnet(const std::string& name) const { return testing::subnet_number(*model_, name); }

  std::string key_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<WorkerServer> server_;
};

class KeyedProtocol : public Protocol {
 protected:
  void SetUp() override {
    key_ = "correct horse battery staple";
    Protocol::SetUp();
  }
};

TEST_F(KeyedProtocol, OnlyPeersWithTheKeyAreServed) {
  const std::vector<uint8_t> img = image();
  auto good = connect();
  ASSERT_TRUE(send_infer_request(*good, 1, subnet("w1.0"), 1'000'000, img.data(), img.size()).is_ok());
  EXPECT_EQ(read(*good).header.type, wire::MessageType::InferResult);

  for (const std::string& key : {std::string(), std::string("correct horse battery stapler")}) {
    auto bad = testing::raw_connection(*server_, key);
    EXPECT_FALSE(dial_handshake(*bad, WorkerInfo{}, 2000).is_ok()) << "handshake with key '" << key << "'";
  }
  EXPECT_EQ(server_->counters().served.load(), 1u);

  // A flipped payload byte breaks the MAC: refused, and only that peer dropped.
  auto tampered = connect();
  std::vector<uint8_t> bytes = testing::request_bytes(*tampered, 3, subnet("w1.0"), img);
  bytes[kHeaderBytes + 40] ^= 1;
  ASSERT_TRUE(tampered->write_all(bytes.data(), bytes.size()).is_ok());
  Frame f;
  EXPECT_FALSE(read_frame(*tampered, Limits{}, &f).is_ok() && f.header.type == wire::MessageType::InferResult);
  ASSERT_TRUE(send_infer_request(*good, 4, subnet("w1.0"), 1'000'000, img.data(), img.size()).is_ok());
  EXPECT_EQ(read(*good).header.type, wire::MessageType::InferResult);
}

// Bytes as they crossed the wire, to play again.
std::vector<uint8_t> record_frame(Connection& tap) {
  std::vector<uint8_t> bytes(kHeaderBytes);
  EXPECT_TRUE(tap.read_exact(bytes.data(), kHeaderBytes, 1000).is_ok());
  const FrameHeader h = decode_header(bytes.data(), Limits{}).value();
  bytes.resize(kHeaderBytes + h.payload_bytes + ((h.flags & kFlagMac) ? kMacBytes : 0));
  EXPECT_TRUE(tap.read_exact(bytes.data() + kHeaderBytes, bytes.size() - kHeaderBytes, 1000).is_ok());
  return bytes;
}

TEST_F(KeyedProtocol, ARecordedExchangeCannotBeReplayed) {
  const std::vector<uint8_t> img = image();
  // A master's side of a whole keyed exchange, recorded on the way to the worker: Hello, a
  // request. The recording's own session answered it once.
  auto [master, tap] = loopback_pair();
  master->set_key(key_);
  auto worker_end = testing::raw_connection(*server_, key_);
  std::thread relay_answers;
  std::vector<uint8_t> hello, request;
  {
    std::thread handshake([&] { EXPECT_TRUE(dial_handshake(*master, WorkerInfo{}, 2000).is_ok()); });
    hello = record_frame(*tap);
    ASSERT_TRUE(worker_end->write_all(hello.data(), hello.size()).is_ok());
    const std::vector<uint8_t> answer = record_frame(*worker_end);
    ASSERT_TRUE(tap->write_all(answer.data(), answer.size()).is_ok());
    handshake.join();
  }
  ASSERT_TRUE(send_infer_request(*master, 5, subnet("w1.0"), 1'000'000, img.data(), img.size()).is_ok());
  request = record_frame(*tap);
  ASSERT_TRUE(worker_end->write_all(request.data(), request.size()).is_ok());
  const std::vector<uint8_t> result = record_frame(*worker_end);
  EXPECT_EQ(decode_header(result.data(), Limits{}).value().type, wire::MessageType::InferResult);
  EXPECT_EQ(server_->counters().served.load(), 1u);

  // Played again to the worker without the key: the Hello is answered (a new session), the
  // request fails that session's MAC and the peer is dropped. Nothing more is served.
  auto replay = testing::raw_connection(*server_, key_);
  ASSERT_TRUE(replay->write_all(hello.data(), hello.size()).is_ok());
  const std::vector<uint8_t> answer = record_frame(*replay);
  EXPECT_EQ(decode_header(answer.data(), Limits{}).value().type, wire::MessageType::Hello);
  ASSERT_TRUE(replay->write_all(request.data(), request.size()).is_ok());
  Frame f;
  replay->set_key("");  // we cannot read under the session key: only see that nothing is served
  while (read_frame(*replay, Limits{}, &f, 1000).is_ok()) {
  }
  EXPECT_EQ(server_->counters().served.load(), 1u);

  // Within one session, a frame sent twice is refused by its sequence, and the peer dropped.
  auto c = connect();
  std::vector<uint8_t> once = testing::request_bytes(*c, 6, subnet("w1.0"), img);
  ASSERT_TRUE(c->write_all(once.data(), once.size()).is_ok());
  EXPECT_EQ(read(*c).header.type, wire::MessageType::InferResult);
  ASSERT_TRUE(c->write_all(once.data(), once.size()).is_ok());
  EXPECT_EQ(expect_error(*c, 0), wire::ErrorCode::Malformed);
  EXPECT_EQ(read_frame(*c, Limits{}, &f).code(), StatusCode::kIo) << "the connection should be closed";
  EXPECT_EQ(server_->counters().served.load(), 2u);
}

TEST_F(KeyedProtocol, AMasterRefusesARecordedWorkerHello) {
  // A worker's Hello recorded from one handshake...
  auto first = testing::raw_connection(*server_, key_);
  auto [master_a, tap_a] = loopback_pair();
  master_a->set_key(key_);
  std::thread handshake([&] { (void)dial_handshake(*master_a, WorkerInfo{}, 2000); });
  const std::vector<uint8_t> hello = record_frame(*tap_a);
  ASSERT_TRUE(first->write_all(hello.data(), hello.size()).is_ok());
  const std::vector<uint8_t> worker_hello = record_frame(*first);
  ASSERT_TRUE(tap_a->write_all(worker_hello.data(), worker_hello.size()).is_ok());
  handshake.join();
  // ...played to a master dialling anew: the MAC holds, the echoed nonce does not.
  auto [master_b, tap_b] = loopback_pair();
  master_b->set_key(key_);
  std::thread fake_worker([&, tap = tap_b.get()] {
    (void)record_frame(*tap);
    (void)tap->write_all(worker_hello.data(), worker_hello.size());
  });
  const Result<WorkerInfo> info = dial_handshake(*master_b, WorkerInfo{}, 2000);
  fake_worker.join();
  ASSERT_FALSE(info.is_ok());
  EXPECT_NE(info.status().message().find("replayed"), std::string::npos) << info.status().to_string();
}

TEST_F(Protocol, NothingButHelloBeforeTheHandshake) {
  const std::vector<uint8_t> img = image();
  auto c = testing::raw_connection(*server_);
  ASSERT_TRUE(send_infer_request(*c, 1, subnet("w1.0"), 1'000'000, img.data(), img.size()).is_ok());
  EXPECT_EQ(expect_error(*c, 0), wire::ErrorCode::Malformed);
  Frame f;
  EXPECT_EQ(read_frame(*c, Limits{}, &f).code(), StatusCode::kIo) << "the connection should be closed";
  EXPECT_EQ(server_->counters().served.load(), 0u);
}

TEST_F(Protocol, HelloDescribesTheModel) {
  auto c = testing::raw_connection(*server_);
  auto info = dial_handshake(*c, WorkerInfo{}, 2000);
  ASSERT_TRUE(info.is_ok()) << info.status().to_string();
  EXPECT_EQ(info->member, "m0");
  EXPECT_EQ(info->input_h, 28u);
  EXPECT_EQ(info->classes, 10u);
  ASSERT_EQ(info->subnets.size(), 6u);
  EXPECT_EQ(info->subnets[3].name, "upper50");
  EXPECT_EQ(info->subnets[5].macs, 678816u);
}

TEST(FluidDevice, AWorkerServesOnlyTheSubnetsItIsGiven) {
  const auto& bytes = testing::synth_bytes("fluid-cnn");
  auto model = Model::from_bytes(bytes.data(), bytes.size());
  ASSERT_TRUE(model.is_ok());
  WorkerOptions options;
  options.subnets = {"upper50"};
  auto server = WorkerServer::create(model.value(), options);
  ASSERT_TRUE(server.is_ok()) << server.status().to_string();
  auto raw = testing::raw_connection(*server.value());
  auto info = dial_handshake(*raw, WorkerInfo{}, 2000);
  ASSERT_TRUE(info.is_ok()) << info.status().to_string();
  ASSERT_EQ(info->subnets.size(), 1u) << "Hello lists only what it serves";
  EXPECT_EQ(info->subnets[0].name, "upper50");
  raw.reset();
  auto c = testing::shake_hands(*server.value(), "");
  testing::expect_served_like_the_engine(*c, model.value(), std::vector<uint8_t>(28 * 28, 90), {"upper50"}, {"upper50"});
  const std::vector<uint8_t> img(28 * 28, 90);
  ASSERT_TRUE(send_infer_request(*c, 9, 1, 1'000'000, img.data(), img.size()).is_ok());  // its Hello lists one
  Frame f;
  ASSERT_TRUE(read_frame(*c, Limits{}, &f).is_ok());
  ASSERT_EQ(f.header.type, wire::MessageType::Error);
  wire::ErrorCode code = wire::ErrorCode::None;
  (void)parse_error(f, &code);
  EXPECT_EQ(code, wire::ErrorCode::UnknownSubnet);
  // A subnet the model lacks is a clear error at start.
  options.subnets = {"middle50"};
  auto bad = WorkerServer::create(model.value(), options);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("middle50"), std::string::npos) << bad.status().message();
}

TEST_F(Protocol, InferenceMatchesTheEngine) {
  auto c = connect();
  testing::expect_served_like_the_engine(*c, *model_, image(77), {"upper50", "w1.0", "lower25"});
  ASSERT_TRUE(write_frame(*c, wire::MessageType::Heartbeat, 7, nullptr, 0).is_ok());
  const Frame hb = read(*c);
  ASSERT_EQ(hb.header.type, wire::MessageType::Heartbeat);
  auto report = parse_heartbeat(hb);
  ASSERT_TRUE(report.is_ok());
  EXPECT_GT(report->available_memory_bytes, 0u);
}

TEST_F(Protocol, TopKRepliesCarryTheMostProbableClasses) {
  auto c = connect();
  const std::vector<uint8_t> img = image(91);
  ASSERT_TRUE(send_infer_request(*c, 1, subnet("w1.0"), 1'000'000, img.data(), img.size()).is_ok());
  const Frame all = read(*c);
  ASSERT_TRUE(send_infer_request(*c, 2, subnet("w1.0"), 1'000'000, img.data(), img.size(), /*top_k=*/3).is_ok());
  const Frame top = read(*c);
  const wire::InferResult* a = verified_payload<wire::InferResult>(all);
  const wire::InferResult* t = verified_payload<wire::InferResult>(top);
  ASSERT_TRUE(a && t);
  ASSERT_EQ(t->probabilities()->size(), 3u);
  ASSERT_NE(t->classes(), nullptr);
  EXPECT_LT(top.payload.size(), all.payload.size());
  std::vector<float> full, filled;
  ASSERT_TRUE(result_probabilities(*a, 10, &full).is_ok());
  ASSERT_TRUE(result_probabilities(*t, 10, &filled).is_ok());
  std::vector<uint32_t> order(10);
  for (uint32_t k = 0; k < 10; ++k) order[k] = k;
  std::sort(order.begin(), order.end(), [&](uint32_t x, uint32_t y) { return full[x] > full[y]; });
  float rest = 1.0f, sum = 0;
  for (uint32_t i = 0; i < 3; ++i) {
    EXPECT_EQ(t->classes()->Get(i), order[i]);
    EXPECT_EQ(filled[order[i]], full[order[i]]);
    rest -= full[order[i]];
  }
  for (uint32_t i = 3; i < 10; ++i) EXPECT_NEAR(filled[order[i]], rest / 7, 1e-6);
  for (float v : filled) sum += v;
  EXPECT_NEAR(sum, 1.0f, 1e-5);

  // A peer's top-k reply that names a class twice, or one the model lacks, is refused.
  flatbuffers::FlatBufferBuilder fbb;
  const std::vector<float> p = {0.5f, 0.3f};
  for (const std::vector<uint16_t>& classes : {std::vector<uint16_t>{4, 4}, std::vector<uint16_t>{4, 10}}) {
    fbb.Clear();
    fbb.Finish(wire::CreateInferResultDirect(fbb, &p, 0, 0, &classes));
    const auto* bad = flatbuffers::GetRoot<wire::InferResult>(fbb.GetBufferPointer());
    EXPECT_EQ(result_probabilities(*bad, 10, &filled).code(), StatusCode::kCorrupt);
  }
}

TEST_F(Protocol, RequestErrorsGetAnErrorAndTheConnectionLives) {
  auto c = connect();
  const std::vector<uint8_t> img = image();
  ASSERT_TRUE(send_infer_request(*c, 1, 6, 1'000'000, img.data(), img.size()).is_ok());
  EXPECT_EQ(expect_error(*c, 1), wire::ErrorCode::UnknownSubnet);
  ASSERT_TRUE(send_infer_request(*c, 2, subnet("w1.0"), 1'000'000, img.data(), 100).is_ok());
  EXPECT_EQ(expect_error(*c, 2), wire::ErrorCode::BadInput);
  ASSERT_TRUE(send_infer_request(*c, 3, subnet("w1.0"), 0, img.data(), img.size()).is_ok());
  EXPECT_EQ(expect_error(*c, 3), wire::ErrorCode::DeadlineExpired);
  const uint8_t garbage[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  ASSERT_TRUE(write_frame(*c, wire::MessageType::InferRequest, 4, garbage, sizeof(garbage)).is_ok());
  EXPECT_EQ(expect_error(*c, 4), wire::ErrorCode::Malformed);
  ASSERT_TRUE(write_frame(*c, wire::MessageType::InferRequest, 5, nullptr, 0).is_ok());
  EXPECT_EQ(expect_error(*c, 5), wire::ErrorCode::Malformed);
  ASSERT_TRUE(send_infer_result(*c, 6, nullptr, 0, 0, 0).is_ok());
  EXPECT_EQ(expect_error(*c, 6), wire::ErrorCode::Unsupported);
  ASSERT_TRUE(send_hello(*c, WorkerInfo{}).is_ok());  // a second handshake
  EXPECT_EQ(expect_error(*c, 0), wire::ErrorCode::Unsupported);
  // Still served after all of that.
  ASSERT_TRUE(send_infer_request(*c, 7, subnet("w1.0"), 1'000'000, img.data(), img.size()).is_ok());
  EXPECT_EQ(read(*c).header.type, wire::MessageType::InferResult);
  EXPECT_GE(server_->counters().malformed.load(), 2u);
}

// A frame whose header cannot be trusted: an error, the peer dropped, everyone else served.
void expect_dropped_after(Connection& c, const uint8_t* bytes, size_t n, wire::ErrorCode want) {
  ASSERT_TRUE(c.write_all(bytes, n).is_ok());
  Frame f;
  ASSERT_TRUE(read_frame(c, Limits{}, &f).is_ok());
  ASSERT_EQ(f.header.type, wire::MessageType::Error);
  wire::ErrorCode code = wire::ErrorCode::None;
  (void)parse_error(f, &code);
  EXPECT_EQ(code, want);
  EXPECT_EQ(read_frame(c, Limits{}, &f).code(), StatusCode::kIo) << "the connection should be closed";
}

TEST_F(Protocol, BadHeadersDropOnlyThatPeer) {
  auto bystander = connect();
  uint8_t h[kHeaderBytes];
  FrameHeader header;
  header.type = wire::MessageType::InferRequest;

  auto c1 = connect();
  encode_header(header, h);
  h[0] = 'X';
  expect_dropped_after(*c1, h, sizeof(h), wire::ErrorCode::Malformed);

  auto c2 = connect();
  header.version = 1;
  encode_header(header, h);
  expect_dropped_after(*c2, h, sizeof(h), wire::ErrorCode::Unsupported);

  auto c3 = connect();
  header.version = kProtocolVersion;
  header.payload_bytes = 1u << 20;  // over what this model's requests need: refused before any allocation
  encode_header(header, h);
  expect_dropped_after(*c3, h, sizeof(h), wire::ErrorCode::Malformed);

  auto c4 = connect();
  header.payload_bytes = 0;
  encode_header(header, h);
  h[6] = 99;  // unknown message type
  expect_dropped_after(*c4, h, sizeof(h), wire::ErrorCode::Malformed);

  auto c5 = connect();  // a truncated frame, then the peer vanishes
  header.payload_bytes = 500;
  encode_header(header, h);
  ASSERT_TRUE(c5->write_all(h, sizeof(h)).is_ok());
  ASSERT_TRUE(c5->write_all(h, 10).is_ok());
  c5->shutdown();

  const std::vector<uint8_t> img = image();
  ASSERT_TRUE(send_infer_request(*bystander, 9, subnet("upper25"), 1'000'000, img.data(), img.size()).is_ok());
  EXPECT_EQ(read(*bystander).header.type, wire::MessageType::InferResult);
}

TEST(Frame, HeaderRoundTripsLittleEndian) {
  FrameHeader h;
  h.type = wire::MessageType::InferResult;
  h.request_id = 0x0102030405060708ull;
  h.payload_bytes = 0x0A0B0C0D;
  h.sequence = 0x1122334455667788ull;
  uint8_t bytes[kHeaderBytes];
  encode_header(h, bytes);
  EXPECT_EQ(bytes[12], 0x08);  // request id, least significant byte first
  EXPECT_EQ(bytes[20], 0x0D);
  EXPECT_EQ(bytes[24], 0x88);
  auto back = decode_header(bytes, Limits{0x0A0B0C0D});
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ(back->request_id, h.request_id);
  EXPECT_EQ(back->payload_bytes, h.payload_bytes);
  EXPECT_EQ(back->sequence, h.sequence);
  EXPECT_EQ(decode_header(bytes, Limits{0x0A0B0C0C}).status().code(), StatusCode::kCorrupt);
}

}  // namespace
}  // namespace shoal::net

namespace shoal::net {
namespace {

// A request that waits behind a slow one past its deadline must be answered DeadlineExpired,
// with its clock counted from arrival, not from when the worker got round to reading it.
TEST(SlowWorker, QueuedRequestsExpireFromArrival) {
  testing::SlowWorker worker;
  auto client = testing::shake_hands(*worker.server);
  testing::expect_queued_request_expires(*client, worker);
}

}  // namespace
}  // namespace shoal::net
