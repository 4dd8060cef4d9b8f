// No single point of failure: three devices, each a `shoal master --serve` process that masters
// its own inputs and serves its member to the other two. One is killed (SIGKILL) mid-run;
// the other two still answer every one of their inputs by its deadline.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "free_port.h"
#include "sanitizers.h"
#include "shipped_members.h"

namespace {

using shoal::testing::free_port;

pid_t spawn(const std::vector<std::string>& args, const std::string& out_path) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, 1);
    const int null = open("/dev/null", O_WRONLY);
    dup2(null, 2);
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

// "misses": N and "images": N of the one result row.
long field(const std::string& json, const std::string& name) {
  const size_t at = json.find("\"" + name + "\":");
  return at == std::string::npos ? -1 : std::atol(json.c_str() + at + name.size() + 3);
}

TEST(Peers, KillingAnyOneDeviceLeavesTheOthersAnsweringTheirInputs) {
  SKIP_UNDER_SANITIZERS();  // a sanitizer build is too slow to be mid-run at the kill
  const std::string dir = std::string(SHOAL_SOURCE_DIR) + "/models/";
  const std::vector<std::string> members = shoal::testing::shipped_members();
  ASSERT_GE(members.size(), 3u);
  std::vector<std::string> addresses;
  for (int i = 0; i < 3; ++i) addresses.push_back("127.0.0.1:" + std::to_string(free_port()));
  std::string all = addresses[0] + "," + addresses[1] + "," + addresses[2];
  std::vector<pid_t> pids;
  std::vector<std::string> outputs;
  for (int i = 0; i < 3; ++i) {
    outputs.push_back(::testing::TempDir() + "peer" + std::to_string(i) + "-" + std::to_string(getpid()) + ".json");
    pids.push_back(spawn({SHOAL_BINARY, "master", "--workers", all, "--serve", addresses[i], "--local-model",
                          members[static_cast<size_t>(i)], "--profile", dir + "resnet8-slim.shoalprof",
                          "--wait-for-workers", "20", "--deadline", "40", "--rate", "40", "--limit", "300",
                          "--calibrate", "5", "--json"},
                         outputs.back()));
  }
  // Mid-run for all three (calibration takes a second or two; 300 inputs at 40/s, ~7 s).
  std::this_thread::sleep_for(std::chrono::seconds(4));
  ASSERT_EQ(kill(pids[0], SIGKILL), 0);
  waitpid(pids[0], nullptr, 0);
  for (int i = 1; i < 3; ++i) {
    int status = 0;
    ASSERT_EQ(waitpid(pids[i], &status, 0), pids[i]);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "peer " << i << " did not finish cleanly";
    std::ifstream in(outputs[i]);
    std::stringstream json;
    json << in.rdbuf();
    EXPECT_EQ(field(json.str(), "images"), 300) << json.str();
    EXPECT_EQ(field(json.str(), "misses"), 0) << "peer " << i << " missed inputs after peer 0 died";
    std::printf("peer %d: accuracy %s\n", i, json.str().substr(json.str().find("\"accuracy\":") + 11, 6).c_str());
    std::remove(outputs[i].c_str());
  }
  std::remove(outputs[0].c_str());
}

}  // namespace
