// The datagram transport over real UDP sockets on loopback: a worker behind a UdpListener
// serves a master's handshake and requests; frames larger than a datagram are fragmented and
// reassembled; replays, garbage and strangers' datagrams are refused without hurting the
// session; a master over UDP notices a killed worker through its heartbeats.
#include <gtest/gtest.h>

#include <atomic>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "shoal/dataset.h"
#include "shoal/engine.h"
#include "shoal/net/calibrator.h"
#include "shoal/net/handshake.h"
#include "shoal/net/master.h"
#include "shoal/net/transport.h"
#include "shoal/net/udp.h"
#include "shoal/net/worker_server.h"
#include "net_test_util.h"
#include "sanitizers.h"
#include "test_models.h"

namespace shoal::net {
namespace {

class Udp : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& bytes = testing::synth_bytes("fluid-cnn");
    model_ = std::make_unique<Model>(std::move(Model::from_bytes(bytes.data(), bytes.size()).value()));
    WorkerOptions options;
    options.key = key_;
    auto server = WorkerServer::create(*model_, options);
    ASSERT_TRUE(server.is_ok());
    server_ = std::move(server.value());
    auto listener = UdpListener::listen("127.0.0.1:0");
    ASSERT_TRUE(listener.is_ok()) << listener.status().to_string();
    listener_ = std::move(listener.value());
    address_ = "127.0.0.1:" + std::to_string(listener_->port());
    serving_ = std::thread([this] { EXPECT_TRUE(server_->run(*listener_).is_ok()); });
  }
  void TearDown() override {
    server_->stop();
    if (serving_.joinable()) serving_.join();
  }
  std::unique_ptr<Connection> connect() {
    auto c = udp_connect(address_);
    EXPECT_TRUE(c.is_ok());
    c.value()->set_key(key_);
    const Result<WorkerInfo> info = dial_handshake(*c.value(), WorkerInfo{}, 2000);
    EXPECT_TRUE(info.is_ok()) << info.status().to_string();
    return std::move(c.value());
  }
  // A master of this worker over UDP, with its key, heartbeating at the tests' pace.
  MasterOptions master_options() const {
    MasterOptions options;
    options.addresses = {address_};
    options.dialer = &udp_dialer();
    options.key = key_;
    options.heartbeat_ms = kTestHeartbeatMs;
    return options;
  }
  static Frame read(Connection& c) {
    Frame f;
    const Status st = read_frame(c, Limits{}, &f, 2000);
    EXPECT_TRUE(st.is_ok()) << st.to_string();
    return f;
  }

  std::string key_ = "a key for the udp tests";
  const std::vector<uint8_t> image_ = std::vector<uint8_t>(28 * 28, 33);
  std::unique_ptr<Model> model_;
  std::unique_ptr<WorkerServer> server_;
  std::unique_ptr<UdpListener> listener_;
  std::string address_;
  std::thread serving_;
};

TEST_F(Udp, InferenceMatchesTheEngine) {
  auto c = connect();
  testing::expect_served_like_the_engine(*c, *model_, image_, {"lower25", "upper50", "w1.0"});
  ASSERT_TRUE(write_frame(*c, wire::MessageType::Heartbeat, 3, nullptr, 0).is_ok());
  EXPECT_EQ(read(*c).header.type, wire::MessageType::Heartbeat);
}

TEST_F(Udp, LargeFramesAreFragmentedAndReassembled) {
  auto [a, b] = datagram_pair();
  ASSERT_TRUE(a && b);
  std::vector<uint8_t> payload(224 * 224 * 3);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<uint8_t>(i * 31 + 7);
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(write_frame(*a, wire::MessageType::InferRequest, 100 + round, payload.data(), payload.size()).is_ok());
  }
  Limits limits;
  limits.max_payload_bytes = 1u << 20;
  for (int round = 0; round < 3; ++round) {
    Frame f;
    ASSERT_TRUE(read_frame(*b, limits, &f, 2000).is_ok());
    EXPECT_EQ(f.header.request_id, 100u + round);
    EXPECT_EQ(f.payload, payload);
  }
  // Over the transport's limit: refused at once with a clear error, nothing sent.
  std::vector<uint8_t> huge((1u << 20) + 1);
  const Status st = write_frame(*a, wire::MessageType::InferRequest, 1, huge.data(), huge.size());
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.to_string();
}

// A peer that leaves frames one fragment short pins nothing past the reassembly timeout, even
// if it never sends again (the reader drops them on their own timer, not at the next
// fragment), and a frame larger than the reader takes is never reassembled at all.
TEST(UdpReassembly, PartialFramesAreDroppedOnTimeAndBoundedByTheLargestFrameTaken) {
  UdpLimits limits;
  limits.reassembly_timeout_ms = 100;
  auto [a, b] = datagram_pair(limits);
  ASSERT_TRUE(a && b);
  // Three of four fragments of frame 7, each 1000 bytes.
  for (uint16_t i = 0; i < 3; ++i) {
    std::vector<uint8_t> d(12 + 1000, 0x5A);
    const uint8_t head[12] = {'S', 'H', 'O', 'F', 7, 0, 0, 0, static_cast<uint8_t>(i), 0, 4, 0};
    std::copy(head, head + 12, d.begin());
    ASSERT_TRUE(a->write_all(d.data(), d.size()).is_ok());
  }
  std::atomic<bool> reading{true};
  std::thread reader([&, conn = b.get()] {
    Frame f;
    EXPECT_EQ(read_frame(*conn, Limits{}, &f, 1500).code(), StatusCode::kTimeout);
    reading = false;
  });
  bool held = false;
  for (int i = 0; i < 40 && !held; ++i) {  // the reader takes the fragments in
    held = b->partial_bytes() == 3000;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(held) << b->partial_bytes();
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // four timeouts, and nothing more arrives
  EXPECT_TRUE(reading) << "the reader still waits for a frame";
  EXPECT_EQ(b->partial_bytes(), 0u) << "dropped on its own timeout";
  reader.join();

  // The reader takes frames of up to 8 KB: a 20 KB frame is never reassembled, an 8 KB one is.
  ConnectionLimits small;
  small.max_frame_bytes = 8 * 1024;
  b->set_limits(small);
  std::vector<uint8_t> big(20 * 1024, 1), fits(7 * 1024, 2);
  ASSERT_TRUE(write_frame(*a, wire::MessageType::InferRequest, 1, big.data(), big.size()).is_ok());
  ASSERT_TRUE(write_frame(*a, wire::MessageType::InferRequest, 2, fits.data(), fits.size()).is_ok());
  Frame f;
  ASSERT_TRUE(read_frame(*b, Limits{}, &f, 2000).is_ok());
  EXPECT_EQ(f.header.request_id, 2u) << "the frame over the limit never came together";
  EXPECT_EQ(b->partial_bytes(), 0u);
}

// With a key every fragment carries a MAC of its own: a forged fragment that claims a place in
// the next frame is dropped, and the real frame arrives whole. (Without per-fragment MACs the
// forgery took the place and the whole frame failed its MAC.)
TEST_F(Udp, AForgedFragmentCannotSpoilAReassembly) {
  auto [a, b] = datagram_pair();
  ASSERT_TRUE(a && b);
  a->set_key(key_);
  b->set_key(key_);
  std::vector<uint8_t> payload(224 * 224 * 3);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<uint8_t>(i * 13 + 1);
  // The forgery: fragment 0 of frame number 0 (a's first fragmented frame), with the count the
  // real frame has when every 1400-byte datagram gives 12 bytes of header and 32 of MAC.
  const size_t frame = kHeaderBytes + payload.size() + kMacBytes, chunk = 1400 - 12 - kMacBytes;
  const uint16_t count = static_cast<uint16_t>((frame + chunk - 1) / chunk);
  std::vector<uint8_t> forged(1400, 0xAB);
  const uint8_t head[12] = {'S', 'H', 'O', 'F', 0, 0, 0, 0, 0, 0, static_cast<uint8_t>(count & 0xFF), static_cast<uint8_t>(count >> 8)};
  std::copy(head, head + 12, forged.begin());
  ASSERT_TRUE(a->write_all(forged.data(), forged.size()).is_ok());  // one datagram, as it is
  ASSERT_TRUE(write_frame(*a, wire::MessageType::InferRequest, 9, payload.data(), payload.size()).is_ok());
  Limits limits;
  limits.max_payload_bytes = 1u << 20;
  Frame f;
  const Status st = read_frame(*b, limits, &f, 2000);
  ASSERT_TRUE(st.is_ok()) << st.to_string();
  EXPECT_EQ(f.header.request_id, 9u);
  EXPECT_EQ(f.payload, payload);
}

TEST_F(Udp, ReplayedAndForeignDatagramsAreDroppedAndTheSessionLives) {
  auto c = connect();
  // A stranger's datagrams: not a Hello, so no state is kept and nothing answers.
  const int stranger = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(listener_->port());
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const char garbage[] = "SHOLxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
  for (int i = 0; i < 100; ++i) {
    ::sendto(stranger, garbage, sizeof(garbage), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to));
  }
  ::close(stranger);
  // Our own request, recorded and played again on the session: the window refuses the copy.
  auto [tap_a, tap_b] = datagram_pair();
  tap_a->security() = c->security();
  ASSERT_TRUE(send_infer_request(*tap_a, 5, testing::subnet_number(*model_, "w1.0"), 1'000'000, image_.data(), image_.size()).is_ok());
  ASSERT_TRUE(tap_b->next_message(1000).is_ok());
  std::vector<uint8_t> datagram(4096);
  const size_t n = tap_b->read_some(datagram.data(), datagram.size(), 0).value();
  c->security().next_send = tap_a->security().next_send;
  ASSERT_TRUE(c->write_all(datagram.data(), n).is_ok());
  ASSERT_TRUE(c->write_all(datagram.data(), n).is_ok());
  EXPECT_EQ(read(*c).header.type, wire::MessageType::InferResult);
  Frame f;
  EXPECT_EQ(read_frame(*c, Limits{}, &f, 300).code(), StatusCode::kTimeout) << "the replayed copy was answered";
  // A corrupted datagram costs only itself.
  datagram[kHeaderBytes + 20] ^= 0x40;
  ASSERT_TRUE(c->write_all(datagram.data(), n).is_ok());
  ASSERT_TRUE(send_infer_request(*c, 6, testing::subnet_number(*model_, "w1.0"), 1'000'000, image_.data(), image_.size()).is_ok());
  const Frame after = read(*c);
  EXPECT_EQ(after.header.type, wire::MessageType::InferResult);
  EXPECT_EQ(after.header.request_id, 6u);
  EXPECT_EQ(server_->counters().served.load(), 2u);
  EXPECT_EQ(server_->counters().connections.load(), 1u) << "a stranger got a session";
  EXPECT_GE(server_->counters().malformed.load(), 2u);
}

TEST_F(Udp, AMasterOverUdpNoticesAStoppedWorkerByItsHeartbeats) {
  MasterOptions options = master_options();
  options.reply_top_k = 3;  // small replies: the master fills in the rest
  auto master = Master::connect(options);
  ASSERT_TRUE(master.is_ok()) << master.status().to_string();
  EXPECT_TRUE(master.value()->alive(0));
  Images images;
  images.count = 4, images.h = 28, images.w = 28, images.c = 1;
  images.pixels.assign(4 * 28 * 28, 60);
  const std::vector<uint8_t> labels(4, 0);
  ASSERT_TRUE(calibrate_latency(*master.value(), images, 0, 4).is_ok());
  auto profile = measure_accuracy(*master.value(), images, labels, 0, 4);
  ASSERT_TRUE(profile.is_ok()) << profile.status().to_string();
  master.value()->set_profile(std::make_shared<EnsembleProfile>(std::move(profile.value())));
  ASSERT_TRUE(master.value()->set_policy("adaensemble").is_ok());
  const Prediction p = master.value()->infer(images.image(0), 1000.0);
  ASSERT_GE(p.label, 0) << outcome_name(p.outcome);
  float sum = 0;
  for (float v : p.probabilities) sum += v;
  EXPECT_NEAR(sum, 1.0f, 1e-4);
  const auto t = std::chrono::steady_clock::now();
  server_->stop();  // no FIN over UDP: only silence
  while (master.value()->alive(0) && std::chrono::steady_clock::now() - t < std::chrono::seconds(5)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
  EXPECT_FALSE(master.value()->alive(0));
  EXPECT_LT(ms, kTestDetectionPeriods * kTestHeartbeatMs);
}

// A worker that stops and comes back on the same port is used again about as soon over UDP as
// over TCP (TCP refuses a connection at once; over UDP a Hello to a stopped worker is lost,
// and the master's retry gives up after half its 300 ms period, not after a second).
TEST_F(Udp, AMasterOverUdpUsesAWorkerThatComesBackWithinAPeriodOrTwo) {
  auto master = Master::connect(master_options());
  ASSERT_TRUE(master.is_ok()) << master.status().to_string();
  const uint16_t port = listener_->port();
  server_->stop();
  serving_.join();
  listener_.reset();
  // The port swallows datagrams without a word, as a host that is off or cut off does (a
  // closed port on a live host would answer "unreachable", which fails a retry at once).
  const int hole = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in at{};
  at.sin_family = AF_INET;
  at.sin_port = htons(port);
  at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // The worker's sockets for its peers share the port until their threads have ended.
  int bound = -1;
  for (int i = 0; i < 200 && bound != 0; ++i) {
    bound = bind(hole, reinterpret_cast<sockaddr*>(&at), sizeof(at));
    if (bound != 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(bound, 0) << std::strerror(errno);
  for (int i = 0; i < 2500 && master.value()->alive(0); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ASSERT_FALSE(master.value()->alive(0));
  std::this_thread::sleep_for(std::chrono::milliseconds(700));  // a retry or two sent into the void
  close(hole);
  WorkerOptions again;
  again.key = key_;
  server_ = std::move(WorkerServer::create(*model_, again).value());
  auto listener = UdpListener::listen("127.0.0.1:" + std::to_string(port));
  ASSERT_TRUE(listener.is_ok()) << listener.status().to_string();
  listener_ = std::move(listener.value());
  serving_ = std::thread([this] { EXPECT_TRUE(server_->run(*listener_).is_ok()); });
  const auto t = std::chrono::steady_clock::now();
  while (!master.value()->alive(0) && std::chrono::steady_clock::now() - t < std::chrono::seconds(5)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
  EXPECT_TRUE(master.value()->alive(0));
  std::printf("worker back in use %.0f ms after it listened again\n", ms);
  // Measured 50 ms here, 775 ms when a retry waited out the whole 1 s handshake timeout.
  EXPECT_LT(ms, SHOAL_UNDER_SANITIZERS ? 2000.0 : 400.0);
}

// The kernel stamps each datagram's arrival: a frame read late is still timed from when it
// came, which is what a worker counts a request's deadline from.
TEST_F(Udp, AFrameIsTimedFromItsArrivalNotFromWhenItIsRead) {
  auto c = connect();
  ASSERT_TRUE(write_frame(*c, wire::MessageType::Heartbeat, 5, nullptr, 0).is_ok());
  const auto sent = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  EXPECT_EQ(read(*c).header.type, wire::MessageType::Heartbeat);
  const auto read_at = std::chrono::steady_clock::now();
  const auto arrived = c->arrival().at;
  EXPECT_GE(arrived, sent - std::chrono::milliseconds(5));
  EXPECT_GE(read_at - arrived, std::chrono::milliseconds(50)) << "taken as arriving when read";
}

// A library user's WorkerServer, like `shoal worker`, serves beyond loopback only with a key:
// without one, run() refuses at once, over TCP and UDP alike.
TEST(UdpWorker, ServesBeyondLoopbackOnlyWithAKey) {
  const auto& bytes = testing::synth_bytes("fluid-cnn");
  const Model model = std::move(Model::from_bytes(bytes.data(), bytes.size()).value());
  for (const Transport t : {Transport::kTcp, Transport::kUdp}) {
    auto open = listen_on(t, "0.0.0.0:0");
    ASSERT_TRUE(open.is_ok()) << open.status().to_string();
    auto local = listen_on(t, "127.0.0.1:0");
    ASSERT_TRUE(local.is_ok()) << local.status().to_string();
    EXPECT_FALSE(open.value()->loopback());
    EXPECT_TRUE(local.value()->loopback());
    auto keyless = WorkerServer::create(model, WorkerOptions{});
    ASSERT_TRUE(keyless.is_ok());
    const Status refused = keyless.value()->run(*open.value());
    EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument) << transport_name(t);
    EXPECT_NE(refused.message().find("key"), std::string::npos) << refused.message();
    EXPECT_TRUE(keyless.value()->may_serve_on(*local.value()).is_ok());
    WorkerOptions keyed;
    keyed.key = "a pre-shared key of thirty-two bytes";
    auto server = WorkerServer::create(model, keyed);
    ASSERT_TRUE(server.is_ok());
    EXPECT_TRUE(server.value()->may_serve_on(*open.value()).is_ok());
  }
}

// Over UDP too, a request queued behind a slow one past its deadline is answered
// DeadlineExpired.
TEST(UdpWorker, QueuedRequestsExpireFromArrival) {
  testing::SlowWorker worker;
  auto listener = UdpListener::listen("127.0.0.1:0");
  ASSERT_TRUE(listener.is_ok());
  std::thread serving([&] { EXPECT_TRUE(worker.server->run(*listener.value()).is_ok()); });
  struct Stop {  // on every way out, a failed assertion's too
    WorkerServer& server;
    std::thread& serving;
    ~Stop() {
      server.stop();
      serving.join();
    }
  } stop{*worker.server, serving};
  auto client = udp_connect("127.0.0.1:" + std::to_string(listener.value()->port()));
  ASSERT_TRUE(client.is_ok());
  ASSERT_TRUE(dial_handshake(*client.value(), WorkerInfo{}, 2000).is_ok());
  testing::expect_queued_request_expires(*client.value(), worker, 60'000);
}

}  // namespace
}  // namespace shoal::net
