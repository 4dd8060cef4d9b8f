// Fault scenarios: four trained members in real worker processes over real TCP, and again
// over UDP, the master running a fifth as insurance, its links through a FaultNetwork (this
// machine has no netem): kill -9, SIGSTOP/SIGCONT, 5 % loss with 2 ms jitter (and over TCP
// the same loss with every segment waiting a full retransmission timeout), a partition that
// heals. Each scenario pushes SHOAL_FAULT_INPUTS inputs (10^4 by default) with 8 in
// flight. None may be lost (every input is answered, or explicitly failed, by its deadline)
// or late, and nothing may crash; loss costs at most a point of accuracy. Prints a
// line of figures per scenario. (Skipped in the sanitizer builds: their workers are too slow
// for the deadlines; the transports' unit tests run there.)
#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <string>
#include <mutex>
#include <thread>

#include "shoal/dataset.h"
#include "shoal/net/calibrator.h"
#include "shoal/net/fault_network.h"
#include "shoal/net/master.h"
#include "shoal/net/transport.h"
#include "sanitizers.h"
#include "shipped_members.h"
#include "shoal/net/worker_process.h"

namespace shoal::net {
namespace {

using net::WorkerProcess;
using Clock = std::chrono::steady_clock;

constexpr double kDeadlineMs = 40.0;
// Thread wake-ups on a loaded 2-core machine (eight relay threads, four workers). 25 ms was
// exceeded once in CI (5 of 10^4 inputs, TcpFaults.B, nothing else running); a master that
// waited on a lost segment would be late by the 200 ms retransmission, far past this.
constexpr double kSlackMs = 40.0;

uint32_t inputs_per_scenario() {
  const char* v = std::getenv("SHOAL_FAULT_INPUTS");
  return v ? static_cast<uint32_t>(std::max(100L, std::atol(v))) : 10000u;
}

struct Figures {
  uint32_t inputs = 0, answered = 0, insured = 0, failed = 0, lost = 0, late = 0, correct = 0;
  std::map<std::string, uint32_t> failures;  // by outcome
  double p50_ms = 0, p99_ms = 0, worst_ms = 0;
  double accuracy() const { return inputs ? 100.0 * correct / inputs : 0; }
};

template <Transport kTransport>
class FaultsOver : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (SHOAL_UNDER_SANITIZERS) return;
    const std::string dir = std::string(SHOAL_SOURCE_DIR) + "/models/";
    auto images = read_idx_images(std::string(kFashionMnistDir) + "/t10k-images-idx3-ubyte.gz", 2000);
    auto labels = read_idx_labels(std::string(kFashionMnistDir) + "/t10k-labels-idx1-ubyte.gz", 2000);
    ASSERT_TRUE(images.is_ok() && labels.is_ok());
    images_ = new Images(std::move(images.value()));
    labels_ = new std::vector<uint8_t>(std::move(labels.value()));
    const std::vector<std::string> members = testing::shipped_members();
    ASSERT_EQ(members.size(), 4u);
    for (const std::string& member : members) {
      auto w = WorkerProcess::start(SHOAL_BINARY, {"--model", member, "--slowdown", "2",
                                                   "--transport", transport_name(kTransport)});
      ASSERT_TRUE(w.is_ok()) << w.status().to_string();
      workers_->push_back(std::move(w.value()));
    }
    auto local = Model::from_file(dir + "resnet8-slim-s1.shoal");
    ASSERT_TRUE(local.is_ok());
    local_ = new Model(std::move(local.value()));
    network_ = new FaultNetwork(dialer_for(kTransport), 7);
    MasterOptions options;
    for (const auto& w : *workers_) options.addresses.push_back(w.address());
    options.dialer = network_;
    options.local_model = local_;
    options.local.slowdown = 2;
    auto master = Master::connect(options);
    ASSERT_TRUE(master.is_ok()) << master.status().to_string();
    master_ = master.value().release();
    auto profile = read_profile(dir + "resnet8-slim.shoalprof");
    ASSERT_TRUE(profile.is_ok()) << profile.status().to_string();
    ASSERT_TRUE(master_->use_profile(profile.value()).is_ok());
    ASSERT_TRUE(calibrate_latency(*master_, *images_, 1900, 10).is_ok());
    ASSERT_TRUE(master_->set_policy("adaensemble").is_ok());
  }
  void SetUp() override { SKIP_UNDER_SANITIZERS(); }
  static void TearDownTestSuite() {
    delete master_;
    delete network_;
    workers_->clear();
    delete local_;
    delete images_;
    delete labels_;
  }

  // Runs the scenario's inputs with 8 in flight; `event(i)` is called before input i is
  // submitted (to inject faults at given points).
  static Figures run(const char* name, const std::function<void(uint32_t)>& event) {
    const uint32_t n = inputs_per_scenario();
    const OrchestratorCounters before = master_->counters().orchestrator;
    std::mutex mu;
    std::condition_variable cv;
    uint32_t in_flight = 0;
    Figures f;
    f.inputs = n;
    std::vector<double> latency;
    std::vector<Clock::time_point> submitted(n);
    std::vector<char> done(n, 0);
    for (uint32_t i = 0; i < n; ++i) {
      event(i);
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return in_flight < 8; });
        ++in_flight;
      }
      const uint32_t image = i % 1900;
      submitted[i] = Clock::now();
      master_->submit(images_->image(image), kDeadlineMs, 0, [&, i, image](Prediction&& p) {
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - submitted[i]).count();
        std::lock_guard<std::mutex> lock(mu);
        done[i] = 1;
        latency.push_back(ms);
        if (ms > kDeadlineMs + kSlackMs) ++f.late;
        if (p.label >= 0) {
          ++(p.outcome == Outcome::kInsured ? f.insured : f.answered);
          if (p.label == (*labels_)[image]) ++f.correct;
        } else {
          ++f.failed;
          ++f.failures[outcome_name(p.outcome)];
        }
        --in_flight;
        cv.notify_all();
      });
    }
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, std::chrono::milliseconds(static_cast<int>(kDeadlineMs + 1000)), [&] { return in_flight == 0; });
    for (char d : done) f.lost += d ? 0 : 1;
    std::sort(latency.begin(), latency.end());
    if (!latency.empty()) {
      f.p50_ms = latency[latency.size() / 2];
      f.p99_ms = latency[latency.size() * 99 / 100];
      f.worst_ms = latency.back();
    }
    std::printf("%s %-22s %6u inputs: %6u answered %5u insured %4u failed %2u lost %3u late; accuracy %.2f%%, "
                "p50 %.1f ms, p99 %.1f ms, worst %.1f ms\n",
                transport_name(kTransport), name, f.inputs, f.answered, f.insured, f.failed, f.lost, f.late, f.accuracy(), f.p50_ms, f.p99_ms, f.worst_ms);
    for (const auto& [outcome, count] : f.failures) std::printf("  failed as %s: %u\n", outcome.c_str(), count);
    const OrchestratorCounters after = master_->counters().orchestrator;
    std::printf("  %llu hedges, %llu insurance runs, %llu units failed, %llu overtaken, %llu presumed lost, "
                "%llu replies too late\n",
                static_cast<unsigned long long>(after.hedges - before.hedges),
                static_cast<unsigned long long>(after.insurance_runs - before.insurance_runs),
                static_cast<unsigned long long>(after.failures - before.failures),
                static_cast<unsigned long long>(after.overtaken - before.overtaken),
                static_cast<unsigned long long>(after.presumed_lost - before.presumed_lost),
                static_cast<unsigned long long>(after.late_replies - before.late_replies));
    std::fflush(stdout);
    return f;
  }

  static void expect_nothing_lost(const Figures& f) {
    EXPECT_EQ(f.lost, 0u) << "inputs neither answered nor failed";
    EXPECT_EQ(f.late, 0u) << "answers after the deadline";
    EXPECT_GT(f.answered + f.insured, f.inputs * 9 / 10);
  }

  static void healthy() {
    const Figures f = run("healthy", [](uint32_t) {});
    expect_nothing_lost(f);
    healthy_accuracy_ = f.accuracy();
  }

  // Over UDP a lost datagram costs one unit, which the others and the hedges cover. Over TCP a
  // lost segment holds back everything after it on that link until Linux's loss recovery
  // resends it (fault_wire.h): about a round trip after the next segment arrives, as requests
  // keep coming. Either way: within a point of the healthy run.
  static void loss_and_jitter() {
    FaultPlan plan;
    plan.delay_ms = 0.5, plan.jitter_ms = 2, plan.loss = 0.05;
    network_->set_all(plan);
    const Figures f = run("5% loss, 2 ms jitter", [](uint32_t) {});
    network_->set_all(FaultPlan{});
    expect_nothing_lost(f);
    if (healthy_accuracy_ < 0) return;
    std::printf("%s: accuracy %+.2f points from the healthy run's\n", transport_name(kTransport),
                f.accuracy() - healthy_accuracy_);
    if (f.inputs >= 5000) {  // fewer: within the noise
      EXPECT_GE(f.accuracy(), healthy_accuracy_ - 1.0);
    }
  }

  // The worst case for TCP: every lost segment waits the minimum retransmission timeout
  // (200 ms), as on a link that carries one request at a time. Most links are blocked most
  // of the time, so most inputs fall back to the insurance; none may be lost or late.
  static void loss_without_fast_recovery() {
    FaultPlan plan;
    plan.delay_ms = 0.5, plan.jitter_ms = 2, plan.loss = 0.05, plan.fast_recovery = false;
    network_->set_all(plan);
    const Figures f = run("5% loss, RTO only", [](uint32_t) {});
    network_->set_all(FaultPlan{});
    expect_nothing_lost(f);
  }

  // How long after `fault_at` worker w was marked down, polling; -1 if not within `limit_ms`.
  static double time_to_down(uint32_t w, Clock::time_point fault_at, double limit_ms) {
    while (master_->alive(w)) {
      if (Clock::now() - fault_at > std::chrono::duration<double, std::milli>(limit_ms)) return -1;
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    return std::chrono::duration<double, std::milli>(Clock::now() - fault_at).count();
  }

  // A fault at input n/4 lasting 1 s; prints when the master marked the worker down (TCP
  // never closes: only the heartbeats, every 100 ms, can tell).
  static Figures fault_for_a_second(const char* name, uint32_t w, const std::function<void()>& start,
                                    const std::function<void()>& end) {
    const uint32_t n = inputs_per_scenario();
    std::thread healer;
    double down_ms = -1;
    const Figures f = run(name, [&](uint32_t i) {
      if (i != n / 4) return;
      start();
      healer = std::thread([&, w] {
        const auto at = Clock::now();
        down_ms = time_to_down(w, at, 1000);
        std::this_thread::sleep_until(at + std::chrono::seconds(1));
        end();
      });
    });
    healer.join();
    std::printf("  marked down %.0f ms after the fault began\n", down_ms);
    EXPECT_GE(down_ms, 0) << "never marked down while the fault lasted";
    return f;
  }

  static void stopped_and_continued() {
    const pid_t pid = (*workers_)[1].pid();
    const Figures f = fault_for_a_second("SIGSTOP 1 s, SIGCONT", 1, [&] { ::kill(pid, SIGSTOP); },
                                         [&] { ::kill(pid, SIGCONT); });
    expect_nothing_lost(f);
  }

  static void partitioned_and_healed() {
    const std::string address = (*workers_)[2].address();
    FaultPlan cut;
    cut.partitioned = true;
    const Figures f = fault_for_a_second("partition 1 s, healed", 2, [&] { network_->set(address, cut); },
                                         [&] { network_->set(address, FaultPlan{}); });
    expect_nothing_lost(f);
  }

  static void killed() {
    const uint32_t n = inputs_per_scenario();
    const Figures f = run("kill -9", [&](uint32_t i) {
      if (i == n / 4) (*workers_)[3].kill_now();
    });
    expect_nothing_lost(f);
    EXPECT_FALSE(master_->alive(3));
  }

  static inline Images* images_ = nullptr;
  static inline std::vector<uint8_t>* labels_ = nullptr;
  static inline std::vector<WorkerProcess>* workers_ = new std::vector<WorkerProcess>();
  static inline Model* local_ = nullptr;
  static inline FaultNetwork* network_ = nullptr;
  static inline Master* master_ = nullptr;
  static inline double healthy_accuracy_ = -1;
};

using TcpFaults = FaultsOver<Transport::kTcp>;
using UdpFaults = FaultsOver<Transport::kUdp>;

// In this order: healthy first (the others compare with it), the kill last.
TEST_F(TcpFaults, A_Healthy) { healthy(); }
TEST_F(TcpFaults, B_LossAndJitter) { loss_and_jitter(); }
TEST_F(TcpFaults, B_LossWithoutFastRecovery) { loss_without_fast_recovery(); }
TEST_F(TcpFaults, C_StoppedAndContinued) { stopped_and_continued(); }
TEST_F(TcpFaults, D_PartitionedAndHealed) { partitioned_and_healed(); }
TEST_F(TcpFaults, E_Killed) { killed(); }
TEST_F(UdpFaults, A_Healthy) { healthy(); }
TEST_F(UdpFaults, B_LossAndJitter) { loss_and_jitter(); }
TEST_F(UdpFaults, C_StoppedAndContinued) { stopped_and_continued(); }
TEST_F(UdpFaults, D_PartitionedAndHealed) { partitioned_and_healed(); }
TEST_F(UdpFaults, E_Killed) { killed(); }

}  // namespace
}  // namespace shoal::net
