// The master over the in-process network: real WorkerServers in this process, socketpairs, no TCP.
// 64 workers serving 8 members (8 replicas each): calibration, every policy, and a worker
// that disappears mid-run, while every input is still answered.
#include <gtest/gtest.h>

#include "shoal/builder.h"
#include "shoal/net/calibrator.h"
#include "shoal/net/master.h"
#include "shoal/policy_registry.h"
#include "test_models.h"

namespace shoal::net {
namespace {

TEST(MasterOverMemory, SixtyFourWorkersEveryPolicyAndALostWorker) {
  constexpr uint32_t kWorkers = 64, kMembers = 8;
  std::vector<Model> models;
  for (uint32_t m = 0; m < kMembers; ++m) {
    const std::vector<uint8_t> bytes = synth_model_bytes("fluid-cnn", 300 + m).value();
    models.push_back(std::move(Model::from_bytes(bytes.data(), bytes.size()).value()));
  }
  MemoryNetwork network;
  std::vector<std::unique_ptr<WorkerServer>> servers;
  MasterOptions options;
  options.dialer = &network;
  options.heartbeat_ms = 1000;  // 64 workers on two cores (under TSan too): not a test of detection
  for (uint32_t w = 0; w < kWorkers; ++w) {
    WorkerOptions wo;
    wo.member = "member" + std::to_string(w % kMembers);
    wo.backend = find_backend("ref");
    auto server = WorkerServer::create(models[w % kMembers], wo);
    ASSERT_TRUE(server.is_ok()) << server.status().to_string();
    WorkerServer* s = server.value().get();
    const std::string address = "worker" + std::to_string(w);
    network.listen(address, [s](std::unique_ptr<Connection> c) { s->serve(std::move(c)); });
    options.addresses.push_back(address);
    servers.push_back(std::move(server.value()));
  }
  auto master = Master::connect(options);
  ASSERT_TRUE(master.is_ok()) << master.status().to_string();
  ASSERT_EQ(master.value()->members().size(), kMembers);

  Images images;
  images.count = 40, images.h = 28, images.w = 28, images.c = 1;
  std::vector<uint8_t> labels(images.count);
  images.pixels.resize(size_t{images.count} * 28 * 28);
  for (size_t i = 0; i < images.pixels.size(); ++i) images.pixels[i] = static_cast<uint8_t>(i * 7919 % 251);
  for (uint32_t i = 0; i < images.count; ++i) labels[i] = static_cast<uint8_t>(i % 10);
  ASSERT_TRUE(calibrate_latency(*master.value(), images, 0, 2).is_ok());
  auto profile = measure_accuracy(*master.value(), images, labels, 0, images.count);
  ASSERT_TRUE(profile.is_ok()) << profile.status().to_string();
  master.value()->set_profile(std::make_shared<EnsembleProfile>(std::move(profile.value())));

  for (const std::string& policy : policy_names()) {
    PolicyParams params;
    params.static_target_ms = 200;
    if (policy_needs_segments(policy)) {  // no master's model here: refused, with the reason
      EXPECT_FALSE(master.value()->set_policy(policy, params).is_ok()) << policy;
      continue;
    }
    ASSERT_TRUE(master.value()->set_policy(policy, params).is_ok());
    for (uint32_t i = 0; i < 10; ++i) {
      if (policy == "fluid-ht" && i == 5) network.close("worker3"), servers[3]->stop();  // lost mid-run
      const Prediction p = master.value()->infer(images.image(i), 500.0);
      EXPECT_GE(p.label, 0) << policy << " input " << i << ": " << outcome_name(p.outcome);
      std::vector<bool> member_used(kMembers);
      for (const Unit& u : p.used) {
        ASSERT_GE(u.member, 0);
        EXPECT_FALSE(member_used[static_cast<size_t>(u.member)]) << "a member fused twice";
        member_used[static_cast<size_t>(u.member)] = true;
      }
    }
  }
  EXPECT_FALSE(master.value()->alive(3));
  EXPECT_GE(master.value()->counters().disconnects, 1u);
}

}  // namespace
}  // namespace shoal::net
