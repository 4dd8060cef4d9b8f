// Stream connections (TCP and socketpairs) as the master and worker use them: a reader waits
// in one blocking recv while other threads write; output the peer is slow to take still goes
// out; shutdown wakes the reader; frames are timed from their arrival.
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "net_test_util.h"
#include "shoal/net/connection.h"
#include "shoal/net/frame.h"
#include "shoal/net/messages.h"
#include "test_models.h"

namespace shoal::net {
namespace {

using Clock = std::chrono::steady_clock;

// Two ends of a TCP connection on loopback.
std::pair<std::unique_ptr<Connection>, std::unique_ptr<Connection>> tcp_pair(ConnectionLimits limits = {}) {
  auto listener = TcpListener::listen("127.0.0.1:0");
  EXPECT_TRUE(listener.is_ok());
  std::unique_ptr<Connection> accepted;
  std::thread accepting([&] {
    auto c = listener.value()->accept();
    if (c.is_ok()) accepted = std::move(c.value());
  });
  auto dialled = tcp_connect("127.0.0.1:" + std::to_string(listener.value()->port()), 2000);
  accepting.join();
  EXPECT_TRUE(dialled.is_ok());
  EXPECT_NE(accepted, nullptr);
  if (!dialled.is_ok() || accepted == nullptr) return {};
  dialled.value()->set_limits(limits);
  return {std::move(dialled.value()), std::move(accepted)};
}

class Stream : public ::testing::TestWithParam<bool> {  // true: TCP; false: a socketpair
 protected:
  std::pair<std::unique_ptr<Connection>, std::unique_ptr<Connection>> pair(ConnectionLimits limits = {}) {
    if (GetParam()) return tcp_pair(limits);
    auto p = loopback_pair();
    p.first->set_limits(limits);
    return p;
  }
};

// Megabytes more than the socket buffers hold, written while this side's reader waits in
// recv for a reply: the peer, reading slowly, gets every byte in order, and nothing but the
// flusher can have sent what the socket did not take at once.
TEST_P(Stream, OutputQueuedWhileTheReaderWaitsStillGoesOut) {
  ConnectionLimits limits;
  limits.max_queued_bytes = 64u << 20;
  auto [a, b] = pair(limits);
  ASSERT_NE(a, nullptr);
  std::thread reader([&, a = a.get()] {
    uint8_t reply = 0;
    const Status st = a->read_exact(&reply, 1, 30'000);
    EXPECT_TRUE(st.is_ok()) << st.to_string();
    EXPECT_EQ(reply, 7);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the reader is in recv
  constexpr size_t kBytes = 24u << 20, kChunk = 1u << 20;
  std::vector<uint8_t> chunk(kChunk);
  for (size_t at = 0; at < kBytes; at += kChunk) {
    for (size_t i = 0; i < kChunk; ++i) chunk[i] = static_cast<uint8_t>((at + i) * 131 >> 7);
    ASSERT_TRUE(a->write_all(chunk.data(), chunk.size()).is_ok());
  }
  std::vector<uint8_t> got(64 << 10);
  size_t at = 0;
  while (at < kBytes) {
    auto n = b->read_some(got.data(), got.size(), 10'000);
    ASSERT_TRUE(n.is_ok()) << "after " << at << " of " << kBytes << " bytes: " << n.status().to_string();
    for (size_t i = 0; i < n.value(); ++i) {
      ASSERT_EQ(got[i], static_cast<uint8_t>((at + i) * 131 >> 7)) << "byte " << at + i;
    }
    at += n.value();
  }
  const uint8_t reply = 7;
  ASSERT_TRUE(b->write_all(&reply, 1).is_ok());
  reader.join();
}

// A process out of descriptors the first time a socket is full: the flusher cannot start, so
// the write that would have waited for it fails plainly, and the connection is dropped,
// rather than leaving its output stranded. (A death test: the child starts with no flusher.)
int write_with_no_descriptor_left() {
  auto pair = loopback_pair();
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = 64;
  ::setrlimit(RLIMIT_NOFILE, &limit);
  while (::dup(0) >= 0) {
  }
  std::vector<uint8_t> bytes(2u << 20);  // more than the socket takes, less than the queue's cap
  const Status st = pair.first->write_all(bytes.data(), bytes.size());
  const bool plain = st.code() == StatusCode::kIo && st.to_string().find("ulimit -n") != std::string::npos;
  const bool dropped = !pair.first->write_all(bytes.data(), 1).is_ok();
  std::fprintf(stderr, "%s\n", st.to_string().c_str());
  return plain && dropped ? 0 : 1;
}

TEST(StreamOutOfDescriptors, AWriteThatCannotBeQueuedFailsPlainly) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(std::exit(write_with_no_descriptor_left()), ::testing::ExitedWithCode(0), "no descriptor left");
}

// A reader waiting without a time limit returns "closed" when another thread shuts down.
TEST_P(Stream, ShutdownWakesAWaitingReader) {
  auto [a, b] = pair();
  ASSERT_NE(a, nullptr);
  Status st;
  std::thread reader([&, a = a.get()] {
    uint8_t byte;
    st = a->read_exact(&byte, 1);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const auto t = Clock::now();
  a->shutdown();
  reader.join();
  EXPECT_EQ(st.code(), StatusCode::kIo) << st.to_string();
  EXPECT_LT(Clock::now() - t, std::chrono::seconds(1));
}

// A read with a time limit ends with kTimeout when nothing comes, and no sooner.
TEST_P(Stream, AReadWithATimeLimitTimesOut) {
  auto [a, b] = pair();
  ASSERT_NE(a, nullptr);
  uint8_t byte;
  const auto t = Clock::now();
  EXPECT_EQ(a->read_exact(&byte, 1, 50).code(), StatusCode::kTimeout);
  EXPECT_GE(Clock::now() - t, std::chrono::milliseconds(45));
  EXPECT_EQ(a->read_exact(&byte, 1, 0).code(), StatusCode::kTimeout);  // and again, without waiting
  ASSERT_TRUE(b->write_all("x", 1).is_ok());
  EXPECT_TRUE(a->read_exact(&byte, 1, 1000).is_ok());
  EXPECT_EQ(byte, 'x');
}

INSTANTIATE_TEST_SUITE_P(TcpAndSocketpair, Stream, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "Tcp" : "Socketpair"; });

// TCP carries the kernel's arrival stamp: a frame read late is timed from when it came, and
// one read together with a later frame is not claimed as exact.
TEST(TcpStream, AFrameIsTimedFromItsArrivalNotFromWhenItIsRead) {
  auto [a, b] = tcp_pair();
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(write_frame(*a, wire::MessageType::Heartbeat, 5, nullptr, 0).is_ok());
  const auto sent = Clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  ASSERT_TRUE(write_frame(*a, wire::MessageType::Heartbeat, 6, nullptr, 0).is_ok());
  const auto second_sent = Clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  Frame f;
  ASSERT_TRUE(read_frame(*b, Limits{}, &f, 1000).is_ok());
  EXPECT_EQ(f.header.request_id, 5u);
  const Connection::Arrival first = b->arrival();
  EXPECT_FALSE(first.exact) << "read in one recv with the second frame";
  ASSERT_TRUE(read_frame(*b, Limits{}, &f, 1000).is_ok());
  EXPECT_EQ(f.header.request_id, 6u);
  const Connection::Arrival second = b->arrival();
  EXPECT_TRUE(second.exact);
  EXPECT_GE(second.at, sent + std::chrono::milliseconds(55));
  EXPECT_LE(second.at, second_sent + std::chrono::milliseconds(2));

  ASSERT_TRUE(write_frame(*a, wire::MessageType::Heartbeat, 7, nullptr, 0).is_ok());
  const auto third_sent = Clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  ASSERT_TRUE(read_frame(*b, Limits{}, &f, 1000).is_ok());
  const auto read_at = Clock::now();
  const Connection::Arrival third = b->arrival();
  EXPECT_TRUE(third.exact);
  EXPECT_GE(third.at, third_sent - std::chrono::milliseconds(5));
  EXPECT_GE(read_at - third.at, std::chrono::milliseconds(50)) << "taken as arriving when read";
}

// A frame read together with later bytes is not exact, and says the earliest it can have
// come: after the receive before it was called (it was not in that one), not long before.
TEST(TcpStream, AFrameReadWithLaterBytesSaysTheEarliestItCanHaveCome) {
  auto [a, b] = tcp_pair();
  ASSERT_NE(a, nullptr);
  Frame f;
  ASSERT_TRUE(write_frame(*a, wire::MessageType::Heartbeat, 1, nullptr, 0).is_ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const auto before_first_read = Clock::now();
  ASSERT_TRUE(read_frame(*b, Limits{}, &f, 1000).is_ok());
  EXPECT_TRUE(b->arrival().exact);
  EXPECT_EQ(b->arrival().earliest, b->arrival().at);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  const auto second_written = Clock::now();
  ASSERT_TRUE(write_frame(*a, wire::MessageType::Heartbeat, 2, nullptr, 0).is_ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  const auto third_written = Clock::now();
  ASSERT_TRUE(write_frame(*a, wire::MessageType::Heartbeat, 3, nullptr, 0).is_ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(read_frame(*b, Limits{}, &f, 1000).is_ok());
  ASSERT_EQ(f.header.request_id, 2u);
  const Connection::Arrival second = b->arrival();
  EXPECT_FALSE(second.exact);
  EXPECT_GE(second.at, third_written) << "the stamp of the bytes read with it";
  EXPECT_GE(second.earliest, before_first_read) << "no earlier than the receive before it";
  EXPECT_LE(second.earliest, second_written + std::chrono::milliseconds(1)) << "never later than it came";
}

// Over TCP, where the worker times requests by the kernel's stamps instead of a read that
// looks for waiting frames after each run, a request queued behind a slow one past its
// deadline is still answered DeadlineExpired.
TEST(TcpStream, QueuedRequestsExpireFromArrival) {
  testing::SlowWorker worker;
  auto [client, served] = tcp_pair();
  ASSERT_NE(client, nullptr);
  worker.server->serve(std::move(served));
  ASSERT_TRUE(dial_handshake(*client, WorkerInfo{}, 2000).is_ok());
  testing::expect_queued_request_expires(*client, worker, 60'000);
}

}  // namespace
}  // namespace shoal::net
