// The cluster C API's thread contract, in one process (so that ThreadSanitizer sees both
// sides): two workers on loopback TCP, inputs submitted from several threads by callback and
// by blocking infer while another thread reads the workers' state and the status JSON, then
// the cluster closed with inputs still in flight: every callback is called exactly once,
// before close returns. (c_cluster_test.sh drives the same API from C, through libshoal.)
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "shoal/net/transport.h"
#include "shoal/net/worker_server.h"
#include "shoal_cluster.h"
#include "test_models.h"

namespace shoal::net {
namespace {

struct Served {
  std::unique_ptr<Model> model;
  std::unique_ptr<WorkerServer> server;
  std::unique_ptr<Listener> listener;
  std::thread thread;
  std::string address;
};

void count_done(void* user, const shoal_prediction* p, const float* probabilities, size_t classes) {
  auto* done = static_cast<std::atomic<int>*>(user);
  if (p->outcome == SHOAL_ANSWERED && probabilities && classes == 10) done->fetch_add(1);
  else done->fetch_add(1000);  // not answered: shows in the count
}

TEST(ClusterCApi, ManyThreadsAndACloseWithInputsInFlight) {
  std::vector<Served> workers(2);
  for (size_t w = 0; w < workers.size(); ++w) {
    Served& s = workers[w];
    const std::vector<uint8_t> bytes = synth_model_bytes("fluid-cnn", 40 + w).value();
    s.model = std::make_unique<Model>(std::move(Model::from_bytes(bytes.data(), bytes.size()).value()));
    WorkerOptions wo;
    wo.member = "member" + std::to_string(w);
    wo.backend = find_backend("ref");
    auto server = WorkerServer::create(*s.model, wo);
    ASSERT_TRUE(server.is_ok()) << server.status().to_string();
    s.server = std::move(server.value());
    auto listener = listen_on(Transport::kTcp, "127.0.0.1:0");
    ASSERT_TRUE(listener.is_ok()) << listener.status().to_string();
    s.listener = std::move(listener.value());
    s.address = "127.0.0.1:" + std::to_string(s.listener->port());
    s.thread = std::thread([&s] { (void)s.server->run(*s.listener); });
  }
  const char* addresses[] = {workers[0].address.c_str(), workers[1].address.c_str()};
  shoal_cluster_config config = {};
  config.workers = addresses;
  config.worker_count = 2;
  shoal_cluster* cluster = nullptr;
  shoal_error err;
  ASSERT_EQ(shoal_cluster_connect(&config, &cluster, &err), SHOAL_OK) << err.message;
  const size_t bytes = shoal_cluster_image_bytes(cluster);
  constexpr uint32_t kImages = 60;
  std::vector<uint8_t> images(kImages * bytes), labels(kImages);
  for (size_t i = 0; i < images.size(); ++i) images[i] = static_cast<uint8_t>(i * 7919 % 251);
  for (uint32_t i = 0; i < kImages; ++i) labels[i] = static_cast<uint8_t>(i % 10);
  ASSERT_EQ(shoal_cluster_calibrate(cluster, images.data(), labels.data(), kImages, 4, &err), SHOAL_OK) << err.message;

  constexpr int kThreads = 3, kEach = 20;
  std::atomic<int> done{0}, answered_blocking{0};
  std::atomic<bool> reading{true};
  std::thread reader([&] {
    std::vector<char> json(1 << 16);
    while (reading) {
      shoal_worker_state state;
      shoal_error e;
      EXPECT_EQ(shoal_cluster_worker(cluster, 1, &state, &e), SHOAL_OK) << e.message;
      size_t needed = 0;
      EXPECT_EQ(shoal_cluster_status_json(cluster, json.data(), json.size(), &needed, &e), SHOAL_OK) << e.message;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  std::vector<std::thread> submitters;
  for (int t = 0; t < kThreads; ++t) {
    submitters.emplace_back([&, t] {
      shoal_error e;
      for (int i = 0; i < kEach; ++i) {
        const uint8_t* image = images.data() + size_t((t * kEach + i) % kImages) * bytes;
        EXPECT_EQ(shoal_cluster_submit(cluster, image, bytes, 200, 0, count_done, &done, nullptr, &e), SHOAL_OK);
        shoal_prediction p;
        float probabilities[10];
        EXPECT_EQ(shoal_cluster_infer(cluster, image, bytes, 200, 0, probabilities, 10, &p, &e), SHOAL_OK);
        if (p.outcome == SHOAL_ANSWERED) answered_blocking.fetch_add(1);
      }
    });
  }
  for (std::thread& t : submitters) t.join();
  reading = false;
  reader.join();
  // More in flight at close: close waits for them.
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(shoal_cluster_submit(cluster, images.data(), bytes, 200, 0, count_done, &done, nullptr, &err), SHOAL_OK);
  }
  shoal_cluster_close(cluster);
  EXPECT_EQ(done.load(), kThreads * kEach + 10) << "every callback once, each answered";
  EXPECT_EQ(answered_blocking.load(), kThreads * kEach);
  for (Served& s : workers) {
    s.server->stop();
    s.thread.join();
  }
}

}  // namespace
}  // namespace shoal::net
