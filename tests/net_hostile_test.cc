// What peers without the key cost an honest master, measured over a real keyed worker
// process on TCP and on UDP: the time from Master::connect to its first answer, alone and
// while (a) 32 peers hold a handshake answered and then say nothing (a recorded Hello
// replayed: nothing tells a replay from a slow master until its next frame fails), from 32
// connections or 32 UDP source ports; (b) new connections that never send a byte arrive at 15
// and at 100 a second (TCP). The README's figures come from this test's output.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>
#include <vector>

#include "shoal/net/handshake.h"
#include "shoal/net/key_file.h"
#include "shoal/net/master.h"
#include "shoal/net/transport.h"
#include "shoal/net/worker_process.h"
#include "sanitizers.h"
#include "test_models.h"

namespace shoal::net {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kTries = 5;

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

class Hostile : public ::testing::TestWithParam<Transport> {
 protected:
  void SetUp() override {
    SKIP_UNDER_SANITIZERS();
    const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    const std::string stem = ::testing::TempDir() + "hostile-" + std::to_string(getpid()) + "-" + std::to_string(GetParam() == Transport::kUdp);
    key_path_ = stem + ".key";
    model_path_ = stem + ".shoal";
    std::ofstream(key_path_) << "an honest cluster's key, 32 bytes\n";
    const std::vector<uint8_t> bytes = synth_model_bytes("fluid-cnn", 3).value();
    std::ofstream(model_path_, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    key_ = load_key_file(key_path_).value();
    auto w = WorkerProcess::start(SHOAL_BINARY, {"--model", model_path_, "--key-file", key_path_, "--transport",
                                                 GetParam() == Transport::kUdp ? "udp" : "tcp"});
    ASSERT_TRUE(w.is_ok()) << w.status().to_string();
    worker_ = std::make_unique<WorkerProcess>(std::move(w.value()));
  }
  void TearDown() override {
    worker_.reset();
    std::remove(key_path_.c_str());
    std::remove(model_path_.c_str());
  }

  // Median and worst, over kTries, of an honest master's connect-to-first-answer time.
  std::pair<double, double> honest_ms() {
    std::vector<double> took;
    for (int i = 0; i < kTries; ++i) {
      MasterOptions options;
      options.addresses = {worker_->address()};
      options.key = key_;
      options.dialer = &dialer_for(GetParam());
      options.heartbeat_ms = 0;
      const auto t = Clock::now();
      auto master = Master::connect(options);
      EXPECT_TRUE(master.is_ok()) << master.status().to_string();
      if (!master.is_ok()) return {1e9, 1e9};
      Submission s;
      s.image.assign(master.value()->image_bytes(), 90);
      s.budget_ms = 5000;
      s.fixed = {{0, 0, kFirstStage}};
      const Prediction p = master.value()->run(std::move(s));
      EXPECT_EQ(p.outcome, Outcome::kAnswered);
      took.push_back(ms_since(t));
    }
    std::sort(took.begin(), took.end());
    return {took[took.size() / 2], took.back()};
  }

  void report(const char* what, std::pair<double, double> ms) {
    std::printf("hostile %s, %s: an honest master's first answer in %.1f ms (median of %d), %.1f ms at worst\n",
                GetParam() == Transport::kUdp ? "udp" : "tcp", what, ms.first, kTries, ms.second);
  }

  std::string key_path_, model_path_, key_;
  std::unique_ptr<WorkerProcess> worker_;
};

TEST_P(Hostile, ReplayedHellosAndSilentConnectionsCostAnHonestMasterLittle) {
  const auto alone = honest_ms();
  report("alone", alone);
  // (a) 32 handshakes answered, then silence, each from its own connection or source port.
  std::vector<std::unique_ptr<Connection>> held;
  for (int i = 0; i < 32; ++i) {
    auto c = dialer_for(GetParam()).dial(worker_->address(), 2000);
    ASSERT_TRUE(c.is_ok());
    c.value()->set_key(key_);
    (void)dial_handshake(*c.value(), WorkerInfo{}, 2000);  // answered (or pushed out by a newer one)
    held.push_back(std::move(c.value()));
  }
  const auto replayed = honest_ms();
  report("32 peers past the Hello and silent", replayed);
  EXPECT_LT(replayed.second, 2000.0) << "no more than the handshake timeout";
  held.clear();
  if (GetParam() == Transport::kUdp) return;  // nothing connects over UDP without a Hello
  // (b) connections that never send a byte, arriving at a steady rate while masters connect.
  for (int rate : {15, 100}) {
    std::atomic<bool> stop{false};
    std::thread flood([&] {
      std::vector<std::unique_ptr<Connection>> silent;
      auto next = Clock::now();
      while (!stop) {
        auto c = dialer_for(Transport::kTcp).dial(worker_->address(), 2000);
        if (c.is_ok()) silent.push_back(std::move(c.value()));
        next += std::chrono::microseconds(1000000 / rate);
        std::this_thread::sleep_until(next);
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the pool full of them
    const auto flooded = honest_ms();
    stop = true;
    flood.join();
    char what[64];
    std::snprintf(what, sizeof(what), "%d silent connections a second", rate);
    report(what, flooded);
    EXPECT_LT(flooded.second, 2000.0) << what;
  }
}

INSTANTIATE_TEST_SUITE_P(Transports, Hostile, ::testing::Values(Transport::kTcp, Transport::kUdp),
                         [](const auto& info) { return info.param == Transport::kUdp ? "Udp" : "Tcp"; });

}  // namespace
}  // namespace shoal::net
