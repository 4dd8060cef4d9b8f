// Real worker processes on loopback: a master keeps answering every input in time while a
// worker is killed, and uses a restarted worker again. Plus the cluster file.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "shoal/net/cluster.h"
#include "shoal/builder.h"
#include "shoal/dataset.h"
#include "shoal/net/calibrator.h"
#include "shoal/net/fault_network.h"
#include "shoal/net/handshake.h"
#include "shoal/net/http_server.h"
#include "shoal/net/monitor.h"
#include "shoal/net/master.h"
#include "shoal/net/partition_runner.h"
#include "shoal/net/split_runner.h"
#include "shoal/net/transport.h"
#include "shoal/policy_registry.h"
#include "free_port.h"
#include "http_get.h"
#include "sanitizers.h"
#include "test_models.h"
#include "shoal/net/worker_process.h"

namespace shoal::net {
namespace {

using net::WorkerProcess;

constexpr double kDeadlineMs = 60.0;

class Cluster : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 3; ++i) {
      ModelSpec spec = testing::synth_spec("fluid-cnn", 50 + i);
      const std::vector<uint8_t> bytes = serialize_model(spec);
      // ctest runs tests in parallel: every test writes files of its own.
      const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
      paths_.push_back(::testing::TempDir() + test + "-" + std::to_string(getpid()) + "-member" +
                       std::to_string(i) + ".shoal");
      std::ofstream(paths_.back(), std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
      // Three different members (workers serving the same member name would be replicas);
      // the second is the worker-only binary a device would run.
      auto w = WorkerProcess::start(i == 1 ? SHOAL_WORKER_BINARY : SHOAL_BINARY, {"--model", paths_.back(), "--slowdown", i == 2 ? "3" : "1",
                                                   "--member", "member" + std::to_string(i)});
      ASSERT_TRUE(w.is_ok()) << w.status().to_string();
      options_.addresses.push_back(w->address());
      workers_.push_back(std::move(w.value()));
    }
    auto images = read_idx_images(std::string(kFashionMnistDir) + "/t10k-images-idx3-ubyte.gz", 200);
    auto labels = read_idx_labels(std::string(kFashionMnistDir) + "/t10k-labels-idx1-ubyte.gz", 200);
    ASSERT_TRUE(images.is_ok() && labels.is_ok());
    images_ = std::move(images.value());
    labels_ = std::move(labels.value());
    options_.on_event = [this](const WorkerEvent& e) {
      std::lock_guard<std::mutex> lock(events_mu_);
      events_.push_back(e);
    };
    auto master = Master::connect(options_);
    ASSERT_TRUE(master.is_ok()) << master.status().to_string();
    master_ = std::move(master.value());
    ASSERT_TRUE(calibrate_latency(*master_, images_, 150, 5).is_ok());
    auto profile = measure_accuracy(*master_, images_, labels_, 150, 20);
    ASSERT_TRUE(profile.is_ok()) << profile.status().to_string();
    master_->set_profile(std::make_shared<EnsembleProfile>(std::move(profile.value())));
  }

  void TearDown() override {
    master_.reset();
    workers_.clear();
    for (const std::string& p : paths_) std::remove(p.c_str());  // no model files left behind in /tmp
  }

  // Whether worker w's result is used in an answer within 5 s of inputs.
  bool used_again_within_5s(uint32_t w) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (uint32_t i = 0; std::chrono::steady_clock::now() < give_up; ++i) {
      const Prediction p = master_->infer(images_.image(i % 100), kDeadlineMs);
      for (const Unit& c : p.used) {
        if (c.worker == w) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  std::vector<WorkerEvent> events() {
    std::lock_guard<std::mutex> lock(events_mu_);
    return events_;
  }

  MasterOptions options_;
  std::vector<std::string> paths_;
  std::vector<WorkerProcess> workers_;
  Images images_;
  std::vector<uint8_t> labels_;
  std::unique_ptr<Master> master_;
  std::mutex events_mu_;
  std::vector<WorkerEvent> events_;  // as the master told them
};

PolicyParams fixed_for(double ms) {
  PolicyParams p;
  p.static_target_ms = ms;
  return p;
}
constexpr double kSlackMs = 10.0;  // thread wake-up delays on a loaded 2-core machine (or under TSan)

TEST_F(Cluster, EveryInputAnsweredInTimeWhileAWorkerIsKilled) {
  // Kill a worker while the master is busy, so requests are in flight when it dies.
  ASSERT_TRUE(master_->set_policy("static", fixed_for(kDeadlineMs)).is_ok());
  std::thread killer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    workers_[0].kill_now();
  });
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(150);
  for (uint32_t i = 0; std::chrono::steady_clock::now() < until; ++i) {
    const Prediction p = master_->infer(images_.image(i % 150), kDeadlineMs);
    ASSERT_GE(p.label, 0) << "input " << i;
    EXPECT_LE(p.latency_ms, kDeadlineMs + kSlackMs);
  }
  killer.join();
  for (const std::string& policy : policy_names()) {  // every policy of the registry
    if (policy_needs_segments(policy)) continue;  // no master's model here (Split's tests run them)
    ASSERT_TRUE(master_->set_policy(policy, fixed_for(kDeadlineMs)).is_ok());
    for (uint32_t i = 30; i < 90; ++i) {
      const Prediction p = master_->infer(images_.image(i), kDeadlineMs);
      ASSERT_GE(p.label, 0) << policy << " input " << i << " got no answer after the kill";
      EXPECT_LE(p.latency_ms, kDeadlineMs + kSlackMs) << policy << " input " << i;
      for (const Unit& c : p.used) EXPECT_NE(c.worker, 0u) << "a dead worker's result was used";
    }
  }
  EXPECT_FALSE(master_->alive(0));
  EXPECT_EQ(master_->counters().disconnects, 1u);
}

// SIGSTOP: the process is there and TCP stays open, but nothing answers. Heartbeats notice
// within three periods (100 ms each); inputs are answered in time meanwhile; after SIGCONT
// the worker shakes hands again and is used.
TEST_F(Cluster, AStoppedWorkerIsMarkedDownByHeartbeatsAndUsedAfterItContinues) {
  ASSERT_TRUE(master_->set_policy("static", fixed_for(kDeadlineMs)).is_ok());
  ASSERT_EQ(::kill(workers_[0].pid(), SIGSTOP), 0);
  const auto stopped = std::chrono::steady_clock::now();
  double detected_ms = -1;
  for (uint32_t i = 0; std::chrono::steady_clock::now() < stopped + std::chrono::milliseconds(600); ++i) {
    const Prediction p = master_->infer(images_.image(i % 150), kDeadlineMs);
    ASSERT_GE(p.label, 0) << "input " << i;
    EXPECT_LE(p.latency_ms, kDeadlineMs + kSlackMs);
    if (detected_ms < 0 && !master_->alive(0)) {
      detected_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - stopped).count();
    }
  }
  ASSERT_GE(detected_ms, 0) << "the stopped worker was never marked down";
  EXPECT_LE(detected_ms, 3 * 100 + kDeadlineMs) << "three heartbeat periods, and the input in hand";
  std::printf("stopped worker marked down after %.0f ms\n", detected_ms);
  EXPECT_GE(master_->counters().silent_drops, 1u);
  ASSERT_EQ(::kill(workers_[0].pid(), SIGCONT), 0);
  EXPECT_TRUE(used_again_within_5s(0)) << "the continued worker was never used again";
  const std::vector<WorkerEvent> told = events();
  ASSERT_GE(told.size(), 2u);
  EXPECT_EQ(told[0].kind, WorkerEvent::Kind::kDown);
  EXPECT_EQ(told[0].why, "no reply to 3 heartbeats");
  EXPECT_EQ(told.back().kind, WorkerEvent::Kind::kBack);
}

TEST_F(Cluster, RestartedWorkerIsUsedAgain) {
  ASSERT_TRUE(master_->set_policy("static", fixed_for(kDeadlineMs)).is_ok());
  const uint16_t port = workers_[1].port();
  workers_[1].kill_now();
  for (uint32_t i = 0; i < 5; ++i) ASSERT_GE(master_->infer(images_.image(i), kDeadlineMs).label, 0);
  EXPECT_FALSE(master_->alive(1));

  auto again = WorkerProcess::start(SHOAL_WORKER_BINARY, {"--model", paths_[1], "--member", "member1"}, port);
  ASSERT_TRUE(again.is_ok()) << again.status().to_string();
  workers_[1] = std::move(again.value());
  EXPECT_TRUE(used_again_within_5s(1)) << "the restarted worker was never used again";
  EXPECT_TRUE(master_->alive(1));
  EXPECT_EQ(master_->counters().reconnects, 1u);
  // Told as it happened: down (its connection closed), then back.
  const std::vector<WorkerEvent> told = events();
  ASSERT_EQ(told.size(), 2u);
  EXPECT_EQ(told[0].kind, WorkerEvent::Kind::kDown);
  EXPECT_EQ(told[0].worker, 1u);
  EXPECT_EQ(told[0].address, options_.addresses[1]);
  EXPECT_EQ(told[0].why, "its connection closed");
  EXPECT_EQ(told[1].kind, WorkerEvent::Kind::kBack);
  EXPECT_EQ(told[1].worker, 1u);
}

TEST(ClusterFile, ParsesAndExplainsMistakes) {
  auto ok = parse_cluster(R"({workers: [{name: "pi5", address: "127.0.0.1:7001"}, {address: "127.0.0.1:7002"}],
                              policy: "static", deadline_ms: 40})", "test");
  ASSERT_TRUE(ok.is_ok()) << ok.status().to_string();
  EXPECT_EQ(ok->names, (std::vector<std::string>{"pi5", "127.0.0.1:7002"}));
  EXPECT_EQ(ok->policy, "static");
  EXPECT_DOUBLE_EQ(ok->deadline_ms, 40);
  EXPECT_NEAR(ok->margin_fraction, 0.1, 1e-6);

  auto unknown = parse_cluster(R"({workers: [], colour: "red"})", "test");
  EXPECT_FALSE(unknown.is_ok());
  EXPECT_NE(unknown.status().message().find("colour"), std::string::npos) << unknown.status().message();
  auto address = parse_cluster(R"({workers: [{address: "pi5"}]})", "test");
  EXPECT_NE(address.status().message().find("127.0.0.1:7000"), std::string::npos) << address.status().message();
  EXPECT_FALSE(parse_cluster(R"({workers: []})", "test").is_ok());
  EXPECT_EQ(load_cluster("/nonexistent.json").status().code(), StatusCode::kNotFound);

  // Power models: per worker and the master's; none where the file gives none.
  auto powered = parse_cluster(R"({workers: [{address: "127.0.0.1:7001",
                                              power: {idle_watts: 2.7, active_watts: 6.5, nanojoules_per_byte: 30}},
                                             {address: "127.0.0.1:7002"}],
                                   master_power: {idle_watts: 1.5, active_watts: 4}})", "test");
  ASSERT_TRUE(powered.is_ok()) << powered.status().to_string();
  ASSERT_EQ(powered->power.size(), 2u);
  EXPECT_TRUE(powered->has_power());
  EXPECT_NEAR(powered->power[0].active_watts, 6.5, 1e-6);
  EXPECT_NEAR(powered->power[0].nanojoules_per_byte, 30, 1e-6);
  EXPECT_FALSE(powered->power[1].given());
  EXPECT_NEAR(powered->master_power.idle_watts, 1.5, 1e-6);
  EXPECT_FALSE(ok->has_power());
  auto example = load_cluster(SHOAL_SOURCE_DIR "/examples/cluster.json");
  ASSERT_TRUE(example.is_ok()) << example.status().to_string();
  EXPECT_TRUE(example->has_power());
  EXPECT_EQ(example->power.size(), 3u);
  auto backwards = parse_cluster(R"({workers: [{address: "127.0.0.1:7001", power: {idle_watts: 5, active_watts: 2}}]})", "test");
  ASSERT_FALSE(backwards.is_ok());
  EXPECT_NE(backwards.status().message().find("active_watts at least idle_watts"), std::string::npos)
      << backwards.status().message();
}

}  // namespace
}  // namespace shoal::net

namespace shoal::net {
namespace {

TEST(KeyedCluster, WorkerServesOnlyMastersWithItsKey) {
  const std::string key_path = ::testing::TempDir() + "shoal.key";
  std::ofstream(key_path) << "0123456789abcdef0123456789abcdef\n";
  const std::string model = ::testing::TempDir() + "keyed.shoal";
  const std::vector<uint8_t> bytes = synth_model_bytes("fluid-cnn", 7).value();
  std::ofstream(model, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());

  auto open = WorkerProcess::start(SHOAL_BINARY, {"--model", model}, 0);
  ASSERT_TRUE(open.is_ok());
  // Beyond loopback only with a key.
  const int refused = std::system((std::string(SHOAL_BINARY) + " worker --model " + model +
                                   " --listen 0.0.0.0:0 > /dev/null 2>&1").c_str());
  EXPECT_EQ(WEXITSTATUS(refused), 1);
  auto keyed = net::WorkerProcess::start(SHOAL_BINARY, {"--model", model, "--key-file", key_path});
  ASSERT_TRUE(keyed.is_ok()) << keyed.status().to_string();

  MasterOptions options;
  options.addresses = {keyed->address()};
  EXPECT_FALSE(Master::connect(options).is_ok()) << "a master without the key was served";
  options.key = "0123456789abcdef0123456789abcdeX";
  auto wrong = Master::connect(options);
  ASSERT_FALSE(wrong.is_ok());
  EXPECT_NE(wrong.status().message().find("different keys"), std::string::npos) << wrong.status().message();
  options.key = load_key_file(key_path).value();
  EXPECT_TRUE(Master::connect(options).is_ok());
  options.addresses = {open->address()};  // a keyed master refuses an unkeyed worker too
  EXPECT_FALSE(Master::connect(options).is_ok());
}

// A network split between this process and a real worker process, at every cut of every
// subnet: f32 keeps the whole network's probabilities bit for bit, int8 nearly every answer;
// a worker serving another model file is refused before anything runs. Then `shoal split`.
// A trained member, this process's engine for it, and a real worker process serving it.
class Split : public ::testing::Test {
 protected:
  void SetUp() override {
    auto model = Model::from_file(path_);
    ASSERT_TRUE(model.is_ok());
    model_ = std::make_unique<Model>(std::move(model.value()));
    auto engine = Engine::create(*model_);
    ASSERT_TRUE(engine.is_ok());
    engine_ = std::move(engine.value());
    auto worker = WorkerProcess::start(SHOAL_WORKER_BINARY, {"--model", path_});
    ASSERT_TRUE(worker.is_ok()) << worker.status().to_string();
    worker_ = std::make_unique<WorkerProcess>(std::move(worker.value()));
    auto images = read_idx_images(std::string(kFashionMnistDir) + "/t10k-images-idx3-ubyte.gz", 120);
    ASSERT_TRUE(images.is_ok());
    images_ = std::move(images.value());
  }
  Result<std::unique_ptr<SplitRunner>> open_runner(Dialer& dialer, const std::string& address) {
    auto c = dialer.dial(address, 2000);
    if (!c.is_ok()) return c.status();
    auto hello = dial_handshake(*c.value(), WorkerInfo{}, 2000);
    if (!hello.is_ok()) return hello.status();
    return SplitRunner::create(*model_, *engine_, std::move(c.value()), hello.value());
  }
  const std::string path_ = SHOAL_SOURCE_DIR "/models/resnet8-slim-s1.shoal";
  std::unique_ptr<Model> model_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<WorkerProcess> worker_;
  Images images_;
};

TEST_F(Split, EveryCutWithARealWorkerKeepsTheWholeNetworksAnswers) {
  auto runner = open_runner(dialer_for(Transport::kTcp), worker_->address());
  ASSERT_TRUE(runner.is_ok()) << runner.status().to_string();
  const fb::Model& m = model_->fb();
  std::vector<uint32_t> cuts = model_->cut_tensors();
  cuts.insert(cuts.begin(), m.input());
  constexpr uint32_t kImages = 40;
  std::vector<float> in, want(10), got;
  for (uint32_t s = 0; s < m.subnets()->size(); ++s) {
    for (uint32_t cut : cuts) {
      uint32_t int8_agrees = 0;
      for (uint32_t i = 0; i < kImages; ++i) {
        ASSERT_TRUE(image_to_input(images_, i, *model_, Fit::kExact, &in).is_ok());
        ASSERT_TRUE(engine_->run(s, in.data(), in.size(), want.data(), want.size()).is_ok());
        SplitTiming t;
        Status st = runner.value()->run(s, cut, images_, i, wire::TensorEncoding::F32, &got, &t);
        ASSERT_TRUE(st.is_ok()) << st.to_string();
        ASSERT_EQ(got, want) << "subnet " << s << " cut " << m.tensors()->Get(cut)->name()->str() << " image " << i;
        EXPECT_GT(t.bytes_sent, 0u);
        st = runner.value()->run(s, cut, images_, i, wire::TensorEncoding::Int8, &got, &t);
        ASSERT_TRUE(st.is_ok()) << st.to_string();
        int8_agrees += std::max_element(got.begin(), got.end()) - got.begin() ==
                       std::max_element(want.begin(), want.end()) - want.begin();
      }
      EXPECT_GE(int8_agrees, kImages * 9 / 10) << "int8, subnet " << s << " cut " << cut;
    }
  }

  const std::string other = ::testing::TempDir() + "split-other-" + std::to_string(getpid()) + ".shoal";
  const std::vector<uint8_t> bytes = synth_model_bytes("resnet8", 7).value();
  std::ofstream(other, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  auto stranger = WorkerProcess::start(SHOAL_BINARY, {"--model", other});
  ASSERT_TRUE(stranger.is_ok());
  auto refused = open_runner(dialer_for(Transport::kTcp), stranger->address());
  ASSERT_FALSE(refused.is_ok());
  EXPECT_NE(refused.status().message().find("different model file"), std::string::npos) << refused.status().message();
  std::remove(other.c_str());

  // The command: every cut, both encodings, one JSON row each, the local run, and the cut
  // chosen per image (auto, f32).
  FILE* p = popen((std::string(SHOAL_BINARY) + " split " + path_ + " --worker " + worker_->address() +
                   " --encoding f32,int8 --limit 30 --json 2>&1").c_str(), "r");
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof(buf), p)) > 0;) out.append(buf, n);
  ASSERT_EQ(pclose(p), 0) << out;
  auto count = [&](const std::string& text) {
    size_t k = 0;
    for (size_t at = out.find(text); at != std::string::npos; at = out.find(text, at + 1)) ++k;
    return k;
  };
  const size_t cut_count = cuts.size() - 1;
  EXPECT_EQ(count("\"encoding\":\"f32\""), cut_count + 1) << out;
  EXPECT_EQ(count("\"cut\":\"(auto)\""), 1u) << out;
  EXPECT_EQ(count("\"chosen\":{"), 1u) << out;
  EXPECT_EQ(count("\"encoding\":\"int8\""), cut_count) << out;
  EXPECT_EQ(count("\"cut\":\"(all on worker)\""), 1u) << out;
  EXPECT_GE(count("\"agreement\":1,"), cut_count + 3) << out;  // every f32 row, auto, the worker's whole run, the local one
}

// A master of the worker at `address` holding `model` itself (workers serving the same file
// run parts of it), calibrated from image `first` of `images` on: its latency on
// `latency_images`, its accuracy on `accuracy_images`.
void connect_calibrated(const std::string& address, const Model* model, const Images& images, uint32_t first,
                        uint32_t latency_images, uint32_t accuracy_images, std::unique_ptr<Master>* master) {
  MasterOptions options;
  options.addresses = {address};
  options.local_model = model;
  auto connected = Master::connect(options);
  ASSERT_TRUE(connected.is_ok()) << connected.status().to_string();
  *master = std::move(connected.value());
  ASSERT_NE((*master)->segments(), nullptr) << "the worker serves the master's model file";
  auto labels = read_idx_labels(std::string(kFashionMnistDir) + "/t10k-labels-idx1-ubyte.gz", first + accuracy_images);
  ASSERT_TRUE(labels.is_ok());
  ASSERT_TRUE(calibrate_latency(**master, images, first, latency_images).is_ok());
  auto profile = measure_accuracy(**master, images, labels.value(), first, accuracy_images);
  ASSERT_TRUE(profile.is_ok()) << profile.status().to_string();
  (*master)->set_profile(std::make_shared<EnsembleProfile>(std::move(profile.value())));
}

// DISNET and split as master policies over a real worker process that serves the master's
// own model: every answer is the whole network's at the subnet used, as this process's
// engine gives it (cut tensors travel as f32: to the bit), and DISNET chains a block here
// and a block on the worker.
TEST_F(Split, DisnetAndSplitPoliciesAnswerAsTheWholeNetwork) {
  std::unique_ptr<Master> master;
  ASSERT_NO_FATAL_FAILURE(connect_calibrated(worker_->address(), model_.get(), images_, 100, 5, 20, &master));
  std::vector<float> in, want(10);
  for (const char* policy : {"disnet", "split"}) {
    ASSERT_TRUE(master->set_policy(policy).is_ok()) << policy;
    for (uint32_t i = 0; i < 30; ++i) {
      const Prediction p = master->infer(images_.image(i), 500.0);
      ASSERT_EQ(p.outcome, Outcome::kAnswered) << policy << " image " << i;
      ASSERT_FALSE(p.used.empty());
      const uint32_t subnet = p.used.back().subnet;
      if (std::string(policy) == "disnet") {
        ASSERT_EQ(p.used.size(), 2u) << "a block on each device";
        EXPECT_NE(p.used[0].worker, p.used[1].worker);
        EXPECT_EQ(p.used[1].from, p.used[0].to);
      }
      ASSERT_TRUE(image_to_input(images_, i, *model_, Fit::kExact, &in).is_ok());
      ASSERT_TRUE(engine_->run(subnet, in.data(), in.size(), want.data(), want.size()).is_ok());
      ASSERT_EQ(p.probabilities, want) << policy << " image " << i;
    }
  }
}

// The cut chosen per input over a real worker process and a link whose bandwidth drops to
// 100 kbit/s and recovers, on a device emulated 8x slower than the worker: the worker runs
// everything, then this device does (an image would take 63 ms to send), then the worker again.
TEST_F(Split, TheChosenCutFollowsTheLinksBandwidth) {
  SKIP_UNDER_SANITIZERS();
  FaultNetwork link(dialer_for(Transport::kTcp));
  auto runner = open_runner(link, worker_->address());
  ASSERT_TRUE(runner.is_ok()) << runner.status().to_string();
  runner.value()->set_local_slowdown(8);
  const uint32_t subnet = model_->fb().subnets()->size() - 1;
  // Estimates not renewed age (LatencyModel::age) with a 50 ms half-life: a phase here lasts
  // about 0.3 s, where the master's default of one second would leave the slow link's
  // estimate of sending the image three phases to fade.
  LatencyOptions options;
  options.half_life_ms = 50;
  SplitPlanner planner(*model_, subnet, 4.0, options);
  std::vector<float> probabilities;
  constexpr size_t kLast = 1000;
  auto phase = [&](double kbps) {
    FaultPlan plan;
    plan.bandwidth_kbps = kbps;
    link.set_all(plan);
    std::map<size_t, int> taken;  // and, under kLast, the last 40 images'
    for (uint32_t i = 0; i < images_.count; ++i) {
      auto ran = runner.value()->run_planned(planner, images_, i, wire::TensorEncoding::F32, 20.0,
                                             &probabilities, nullptr);
      EXPECT_TRUE(ran.is_ok()) << ran.status().to_string();
      if (ran.is_ok()) ++taken[ran.value()];
      if (ran.is_ok() && i + 40 >= images_.count) ++taken[kLast + ran.value()];
    }
    return taken;
  };
  auto fast = phase(0);
  EXPECT_GE(fast[planner.all_remote()], 90) << "of 120: the 8x faster worker runs everything";
  auto slow = phase(100);
  EXPECT_GE(slow[planner.all_local()], 100) << "of 120: at 100 kbit/s this device runs everything";
  EXPECT_LE(slow[planner.all_remote()], 8) << "a remote try predicted to miss 20 ms is a probe instead";
  auto again = phase(0);
  EXPECT_GE(again[kLast + planner.all_remote()], 30) << "of the last 40: back to the worker once the link shows it recovered";
}

// Channel-parallel partitions over real worker processes: Fluid's high-accuracy mode (w1.0
// as lower50 on one worker and upper50 on another, this process gathering) equals w1.0 on
// one device, and so does a ResNet-8 member across this process and two workers; when a
// worker is killed mid-run its channels are computed here and the answers stay the same.
class Partition : public ::testing::Test {
 protected:
  struct Cluster {
    std::unique_ptr<Model> model;
    std::unique_ptr<Engine> engine;
    std::vector<WorkerProcess> workers;
  };
  static Cluster start(const std::string& path, size_t workers, const std::vector<std::string>& extra = {}) {
    Cluster c;
    c.model = std::make_unique<Model>(std::move(Model::from_file(path).value()));
    c.engine = std::move(Engine::create(*c.model).value());
    for (size_t i = 0; i < workers; ++i) {
      std::vector<std::string> args{"--model", path};
      args.insert(args.end(), extra.begin(), extra.end());
      auto w = WorkerProcess::start(SHOAL_WORKER_BINARY, args);
      EXPECT_TRUE(w.is_ok()) << w.status().to_string();
      if (w.is_ok()) c.workers.push_back(std::move(w.value()));
    }
    return c;
  }
  static Result<std::unique_ptr<PartitionRunner>> runner(Cluster& c, const std::string& subnet,
                                                          const std::vector<double>& shares, int timeout_ms = 5000) {
    auto plan = plan_channel_partition(*c.model, c.model->find_subnet(subnet).value(), shares);
    if (!plan.is_ok()) return plan.status();
    std::vector<std::unique_ptr<Connection>> connections;
    std::vector<WorkerInfo> infos;
    for (WorkerProcess& w : c.workers) {
      auto d = dial_worker(dialer_for(Transport::kTcp), w.address(), "", "partition test");
      if (!d.is_ok()) return d.status();
      connections.push_back(std::move(d->connection));
      infos.push_back(d->info);
    }
    return PartitionRunner::create(*c.model, *c.engine, plan.value(), std::move(connections), infos, timeout_ms);
  }
  // The largest difference in logits and probabilities from the whole subnet on one engine.
  static std::pair<float, float> difference(Cluster& c, uint32_t subnet, const PartitionRunner& r,
                                            const Images& images, uint32_t i) {
    const fb::Model& m = c.model->fb();
    std::vector<float> x;
    EXPECT_TRUE(image_to_input(images, i, *c.model, Fit::kExact, &x).is_ok());
    const uint32_t logits = m.nodes()->Get(m.nodes()->size() - 1)->inputs()->Get(0);
    std::vector<float> want_logits(c.model->packed_size(subnet, logits)), want(c.model->packed_size(subnet, m.output()));
    const TensorIn in{m.input(), x.data(), x.size()};
    const TensorOut out[] = {{logits, want_logits.data(), want_logits.size()}, {m.output(), want.data(), want.size()}};
    EXPECT_TRUE(c.engine->run_nodes(subnet, 0, m.nodes()->size(), c.model->ranges(subnet), &in, 1, out, 2).is_ok());
    auto worst = [](const std::vector<float>& a, const std::vector<float>& b) {
      EXPECT_EQ(a.size(), b.size());
      float d = 0;
      for (size_t k = 0; k < a.size() && k < b.size(); ++k) d = std::max(d, std::fabs(a[k] - b[k]));
      return d;
    };
    return {worst(r.executor().logits(), want_logits), worst(r.executor().output(), want)};
  }
  Images images_ = read_idx_images(std::string(kFashionMnistDir) + "/t10k-images-idx3-ubyte.gz", 200).value();
};

TEST_F(Partition, FluidHighAccuracyModeOverTwoWorkerProcessesEqualsW10OnOneDevice) {
  const std::string path = SHOAL_SOURCE_DIR "/models/fluid/fluid-cnn-fluid-s2.shoal";
  Cluster c = start(path, 2);
  ASSERT_EQ(c.workers.size(), 2u);
  auto r = runner(c, "w1.0", {1, 1});  // two workers, two parts: this process only gathers
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  const uint32_t w10 = c.model->find_subnet("w1.0").value();
  float worst_logit = 0, worst_prob = 0;
  for (uint32_t i = 0; i < images_.count; ++i) {
    PartitionTiming t;
    const Status st = r.value()->run(images_, i, wire::TensorEncoding::F32, &t);
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    EXPECT_EQ(t.recomputed, 0u);
    EXPECT_GT(t.bytes_sent, 0u);
    const auto [logit, prob] = difference(c, w10, *r.value(), images_, i);
    worst_logit = std::max(worst_logit, logit), worst_prob = std::max(worst_prob, prob);
  }
  EXPECT_LE(worst_logit, 1e-5f);
  EXPECT_LE(worst_prob, 1e-5f);
  EXPECT_EQ(r.value()->workers_down(), 0u);

  // The command, with this process computing lower50 and one worker upper50.
  FILE* p = popen((std::string(SHOAL_BINARY) + " partition " + path + " --workers " + c.workers[0].address() +
                   " --limit 50 --json 2>&1").c_str(), "r");
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof(buf), p)) > 0;) out.append(buf, n);
  ASSERT_EQ(pclose(p), 0) << out;
  EXPECT_NE(out.find("\"agreement\":1"), std::string::npos) << out;
  EXPECT_NE(out.find("\"max_logit_difference\":0"), std::string::npos) << out;
  EXPECT_NE(out.find("\"stages\":3"), std::string::npos) << out;
}

// Fluid's high-accuracy mode as a master policy (fluid-ha): the master's own engine and a
// worker process serving the same Fluid model each compute half of every layer's channels,
// the master gathering; every answer is w1.0's on one device. `adaptive` picks the same mode
// for an input alone in the cluster. With the worker killed, inputs still get answers (the
// master's insurance) and no share goes to the dead worker.
TEST_F(Partition, FluidHighAccuracyAsAMasterPolicyEqualsW10OnOneDevice) {
  const std::string path = SHOAL_SOURCE_DIR "/models/fluid/fluid-cnn-fluid-s2.shoal";
  Cluster c = start(path, 1);
  ASSERT_EQ(c.workers.size(), 1u);
  std::unique_ptr<Master> master;
  ASSERT_NO_FATAL_FAILURE(connect_calibrated(c.workers[0].address(), c.model.get(), images_, 60, 3, 10, &master));
  ASSERT_NE(master->segments()->partition, nullptr) << "the Fluid model splits into halves";
  const uint32_t w10 = c.model->find_subnet("w1.0").value();
  std::vector<float> in, want(10);
  for (const char* policy : {"fluid-ha", "adaptive"}) {
    ASSERT_TRUE(master->set_policy(policy).is_ok()) << policy;
    for (uint32_t i = 0; i < 20; ++i) {
      const Prediction p = master->infer(images_.image(i), 1000.0);
      ASSERT_EQ(p.outcome, Outcome::kAnswered) << policy << " image " << i;
      EXPECT_STREQ(p.mode, "high accuracy") << policy;
      ASSERT_FALSE(p.used.empty());
      EXPECT_TRUE(p.used.back().share_last) << policy;
      ASSERT_TRUE(image_to_input(images_, i, *c.model, Fit::kExact, &in).is_ok());
      ASSERT_TRUE(c.engine->run(w10, in.data(), in.size(), want.data(), want.size()).is_ok());
      ASSERT_EQ(p.probabilities.size(), want.size());
      for (size_t k = 0; k < want.size(); ++k) EXPECT_NEAR(p.probabilities[k], want[k], 1e-5f) << policy << " image " << i;
    }
  }
  ASSERT_TRUE(master->set_policy("fluid-ha").is_ok());
  c.workers[0].kill_now();
  uint32_t answered = 0;
  for (uint32_t i = 20; i < 30; ++i) {
    const Prediction p = master->infer(images_.image(i), 300.0);
    answered += p.outcome == Outcome::kAnswered || p.outcome == Outcome::kInsured;
  }
  EXPECT_GE(answered, 8u) << "the master's own engine insures what the partition cannot finish";
}

TEST_F(Partition, AWorkerKilledMidRunIsComputedHereAndTheAnswersStayTheSame) {
  Cluster c = start(SHOAL_SOURCE_DIR "/models/resnet8-slim-s1.shoal", 2);
  ASSERT_EQ(c.workers.size(), 2u);
  const uint32_t w = c.model->fb().subnets()->size() - 1;
  auto r = runner(c, c.model->fb().subnets()->Get(w)->name()->str(), {1, 1, 1});
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  uint32_t recomputed = 0;
  float worst = 0;
  for (uint32_t i = 0; i < 60; ++i) {
    if (i == 30) c.workers[1].kill_now();
    PartitionTiming t;
    const Status st = r.value()->run(images_, i, wire::TensorEncoding::F32, &t);
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    if (i < 30) {
      EXPECT_EQ(t.recomputed, 0u) << "image " << i;
    }
    recomputed += t.recomputed;
    worst = std::max(worst, difference(c, w, *r.value(), images_, i).first);
  }
  EXPECT_LE(worst, 1e-5f);
  EXPECT_EQ(r.value()->workers_down(), 1u);
  EXPECT_GE(recomputed, 30u * 7);  // every split stage of every image after the kill
  EXPECT_NE(r.value()->first_failure().find("worker 2"), std::string::npos) << r.value()->first_failure();
}

// Adapting (paper 002): a ResNet-8 member gathered here from two worker processes, one of them
// throttled 6x, moves channels to the other; with this device and a worker too slow to pay
// for its link, this device computes alone. Every answer stays the single device's.
TEST_F(Partition, AdaptiveSharesMoveChannelsOffAThrottledWorker) {
  const std::string path = SHOAL_SOURCE_DIR "/models/resnet8-slim-s1.shoal";
  Cluster c = start(path, 1);
  auto slow = WorkerProcess::start(SHOAL_WORKER_BINARY, {"--model", path, "--slowdown", "6"});
  ASSERT_TRUE(slow.is_ok()) << slow.status().to_string();
  c.workers.push_back(std::move(slow.value()));
  ASSERT_EQ(c.workers.size(), 2u);
  const uint32_t w = c.model->fb().subnets()->size() - 1;
  auto r = runner(c, c.model->fb().subnets()->Get(w)->name()->str(), {1, 1});  // this process only gathers
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  ASSERT_TRUE(r.value()->adapt({1, 1}).is_ok());
  EXPECT_FALSE(r.value()->adapt({1, 1, 1}).is_ok()) << "one share per part";
  float worst = 0;
  for (uint32_t i = 0; i < 80; ++i) {
    PartitionTiming t;
    const Status st = r.value()->run(images_, i, wire::TensorEncoding::F32, &t);
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    EXPECT_FALSE(t.alone) << "this process computes no part: it cannot go alone";
    worst = std::max(worst, difference(c, w, *r.value(), images_, i).first);
  }
  EXPECT_LE(worst, 1e-5f) << "the answers stay the whole subnet's at every share";
  EXPECT_GE(r.value()->reshares(), 1u);
  ASSERT_EQ(r.value()->shares().size(), 2u);
  EXPECT_LT(r.value()->shares()[1], 0.35) << "the throttled worker keeps a small share";
}

TEST_F(Partition, AdaptingThisDeviceComputesAloneWhileAWorkerCostsMoreThanItSaves) {
  const std::string path = SHOAL_SOURCE_DIR "/models/resnet8-slim-s1.shoal";
  Cluster c = start(path, 1, {"--slowdown", "30"});
  ASSERT_EQ(c.workers.size(), 1u);
  const uint32_t w = c.model->fb().subnets()->size() - 1;
  auto r = runner(c, c.model->fb().subnets()->Get(w)->name()->str(), {1, 1});  // this process and the worker
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  ASSERT_TRUE(r.value()->adapt({1, 1}).is_ok());
  uint32_t alone = 0;
  float worst = 0;
  for (uint32_t i = 0; i < 60; ++i) {
    PartitionTiming t;
    const Status st = r.value()->run(images_, i, wire::TensorEncoding::F32, &t);
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    alone += t.alone;
    if (t.alone) {
      EXPECT_EQ(t.bytes_sent, 0u);
    }
    worst = std::max(worst, difference(c, w, *r.value(), images_, i).first);
  }
  EXPECT_LE(worst, 1e-5f);
  EXPECT_TRUE(r.value()->alone());
  EXPECT_GE(alone, 45u) << "of 60: alone from the first inputs, the partition retried now and then";
  EXPECT_LT(alone, 60u) << "the partition is retried";
}

// A sample's value in Prometheus text (`name{labels}` exactly; -1 when absent).
double metric(const std::string& text, const std::string& sample) {
  const size_t at = text.find("\n" + sample + " ");
  return at == std::string::npos ? -1 : std::atof(text.c_str() + at + sample.size() + 2);
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// What `shoal master --http` serves, read by a scraper while inputs flow, and what a worker
// shows when it goes down; and a worker process's own (`shoal worker --http`).
TEST_F(Cluster, HealthAndMetricsAreServedWhileInputsFlow) {
  ASSERT_TRUE(master_->set_policy("adaensemble").is_ok());
  const std::vector<std::string> names = {"pi5", "xavier", "nano"};
  auto http = HttpServer::start("127.0.0.1:0", "", master_monitor(*master_, names));
  ASSERT_TRUE(http.is_ok()) << http.status().to_string();
  const uint16_t port = http.value()->port();
  constexpr uint32_t kInputs = 400;
  std::atomic<bool> done{false};
  uint32_t right = 0;  // as the predictions say: what the status must count
  std::thread inputs([&] {
    for (uint32_t i = 0; i < kInputs; ++i) {
      Submission s;
      s.image.assign(images_.image(i % 200), images_.image(i % 200) + master_->image_bytes());
      s.budget_ms = kDeadlineMs;
      s.truth = labels_[i % 200];
      right += master_->run(std::move(s)).label == labels_[i % 200];
      std::this_thread::sleep_for(std::chrono::milliseconds(1));  // long enough for several scrapes
    }
    done = true;
  });
  std::vector<double> answered;
  while (!done) {
    const std::string r = testing::http_get(port, "/metrics");
    EXPECT_EQ(testing::http_status(r), 200);
    answered.push_back(metric(testing::http_body(r), "shoal_master_answered_total{policy=\"adaensemble\"}"));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  inputs.join();
  ASSERT_GE(answered.size(), 3u);
  for (size_t k = 1; k < answered.size(); ++k) EXPECT_GE(answered[k], answered[k - 1]) << "a counter never goes back";
  EXPECT_GT(answered.back(), answered.front()) << "the scrapes saw inputs flow";

  const std::string text = testing::http_body(testing::http_get(port, "/metrics"));
  const std::string policy = "{policy=\"adaensemble\"}";
  EXPECT_EQ(metric(text, "shoal_master_inputs_total" + policy), kInputs);
  EXPECT_EQ(metric(text, "shoal_master_answered_total" + policy), kInputs);
  EXPECT_EQ(metric(text, "shoal_master_labelled_total" + policy), kInputs);
  EXPECT_EQ(metric(text, "shoal_master_correct_total" + policy), right);
  EXPECT_EQ(metric(text, "shoal_master_latency_seconds_count" + policy), kInputs);
  EXPECT_EQ(metric(text, "shoal_master_latency_seconds_bucket{policy=\"adaensemble\",le=\"+Inf\"}"), kInputs);
  for (const std::string& name : names) {
    EXPECT_EQ(metric(text, "shoal_master_worker_up{worker=\"" + name + "\"}"), 1) << name;
    EXPECT_GT(metric(text, "shoal_master_worker_link_rtt_seconds{worker=\"" + name + "\"}"), 0) << name;
  }
  std::string status = testing::http_body(testing::http_get(port, "/status"));
  EXPECT_EQ(count_of(status, "\"state\":\"up\""), 3u) << status;
  for (const std::string& name : names) EXPECT_NE(status.find("\"name\":\"" + name + "\""), std::string::npos) << name;
  EXPECT_NE(status.find("\"name\":\"adaensemble\",\"inputs\":400"), std::string::npos) << status;

  workers_[2].kill_now();
  const auto killed = std::chrono::steady_clock::now();
  while (status.find("\"name\":\"nano\",\"state\":\"down\"") == std::string::npos &&
         std::chrono::steady_clock::now() - killed < std::chrono::seconds(5)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    status = testing::http_body(testing::http_get(port, "/status"));
  }
  EXPECT_NE(status.find("\"name\":\"nano\",\"state\":\"down\""), std::string::npos) << status;
  EXPECT_EQ(metric(testing::http_body(testing::http_get(port, "/metrics")), "shoal_master_worker_up{worker=\"nano\"}"), 0);

  const uint16_t worker_port = testing::free_port();
  auto worker = WorkerProcess::start(SHOAL_BINARY, {"--model", paths_[0], "--http", "127.0.0.1:" + std::to_string(worker_port)});
  ASSERT_TRUE(worker.is_ok()) << worker.status().to_string();
  const std::string own = testing::http_body(testing::http_get(worker_port, "/metrics"));
  EXPECT_EQ(metric(own, "shoal_worker_requests_total{result=\"served\"}"), 0) << own;
  EXPECT_EQ(metric(own, "shoal_worker_peers"), 0) << own;
  EXPECT_NE(testing::http_body(testing::http_get(worker_port, "/status")).find("\"role\":\"worker\""), std::string::npos);
}

// A device that is off when the master starts: the master starts with the one that is up,
// answers every input with it, and plans the other within a second of it coming up (its new
// member measured in the background by a ProfileKeeper, as `shoal master` does).
TEST(ClusterJoin, AMasterStartsWithWhoeverIsUpAndPlansALateWorkerWithinASecond) {
  const double bound_ms = SHOAL_UNDER_SANITIZERS ? 10000 : 1000;
  const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  std::vector<std::string> paths;
  for (int i = 0; i < 2; ++i) {
    const std::vector<uint8_t> bytes = serialize_model(testing::synth_spec("fluid-cnn", 60 + i));
    paths.push_back(::testing::TempDir() + test + "-" + std::to_string(getpid()) + "-member" + std::to_string(i) + ".shoal");
    std::ofstream(paths.back(), std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  struct Cleanup {
    std::vector<std::string>& paths;
    ~Cleanup() {
      for (const std::string& p : paths) std::remove(p.c_str());
    }
  } cleanup{paths};
  auto up = WorkerProcess::start(SHOAL_BINARY, {"--model", paths[0], "--member", "member0"});
  ASSERT_TRUE(up.is_ok()) << up.status().to_string();
  const uint16_t later_port = testing::free_port();
  auto images = read_idx_images(std::string(kFashionMnistDir) + "/t10k-images-idx3-ubyte.gz", 200);
  auto labels = read_idx_labels(std::string(kFashionMnistDir) + "/t10k-labels-idx1-ubyte.gz", 200);
  ASSERT_TRUE(images.is_ok() && labels.is_ok());

  std::mutex mu;
  std::vector<WorkerEvent> events;
  MasterOptions options;
  options.addresses = {up->address(), "127.0.0.1:" + std::to_string(later_port)};
  options.on_event = [&](const WorkerEvent& e) {
    std::lock_guard<std::mutex> lock(mu);
    events.push_back(e);
  };
  auto master = Master::connect(options);
  ASSERT_TRUE(master.is_ok()) << master.status().to_string();
  Master& m = *master.value();
  {
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].kind, WorkerEvent::Kind::kWaiting);
    EXPECT_EQ(events[0].worker, 1u);
  }
  EXPECT_FALSE(m.joined(1));
  EXPECT_EQ(m.member_of(1), -1);
  ASSERT_TRUE(calibrate_latency(m, images.value(), 150, 5).is_ok());
  auto profile = measure_accuracy(m, images.value(), labels.value(), 150, 20);
  ASSERT_TRUE(profile.is_ok()) << profile.status().to_string();
  m.set_profile(std::make_shared<EnsembleProfile>(std::move(profile.value())));
  ASSERT_TRUE(m.set_policy("adaensemble").is_ok());
  std::vector<std::string> profiled;
  ProfileKeeper keeper(m, images.value(), labels.value(), 150, 20, [&](const Status& st, const std::vector<std::string>& added) {
    std::lock_guard<std::mutex> lock(mu);
    if (st.is_ok()) profiled.insert(profiled.end(), added.begin(), added.end());
  });

  uint32_t answered = 0, inputs = 0;
  for (; inputs < 20; ++inputs) {
    const Prediction p = m.infer(images->image(inputs), kDeadlineMs);
    answered += p.outcome == Outcome::kAnswered;
    for (const Unit& u : p.used) EXPECT_EQ(u.worker, 0u);
  }
  auto later = WorkerProcess::start(SHOAL_BINARY, {"--model", paths[1], "--member", "member1"}, later_port);
  ASSERT_TRUE(later.is_ok()) << later.status().to_string();
  const auto came_up = std::chrono::steady_clock::now();
  auto ms_since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
  };
  double used_after_ms = -1;
  while (used_after_ms < 0 && ms_since(came_up) < bound_ms + 4000) {
    const Prediction p = m.infer(images->image(inputs % 100), kDeadlineMs);
    ++inputs;
    answered += p.outcome == Outcome::kAnswered;
    for (const Unit& u : p.used) {
      if (u.worker == 1) used_after_ms = ms_since(came_up);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::printf("the late worker was used %.0f ms after it came up\n", used_after_ms);
  EXPECT_GE(used_after_ms, 0) << "the late worker was never used";
  EXPECT_LT(used_after_ms, bound_ms);
  EXPECT_EQ(answered, inputs) << "every input answered by its deadline, before and after the join";
  EXPECT_TRUE(m.joined(1));
  EXPECT_EQ(m.counters().joins, 1u);
  EXPECT_TRUE(m.unprofiled_members().empty()) << "used only once profiled (no hedge or fallback before)";
  for (int i = 0; i < 200; ++i) {  // the keeper tells just after it sets the profile
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!profiled.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(profiled, std::vector<std::string>{"member1"});
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].kind, WorkerEvent::Kind::kJoined);
  EXPECT_NE(events[1].why.find("member1"), std::string::npos) << events[1].why;
}

}  // namespace
}  // namespace shoal::net
