// The real `shoal` binary, run as a user would: help, synth, inspect, run, and its errors.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>
#include <vector>

#include "sanitizers.h"
#include "shoal/net/worker_process.h"

namespace {

struct Outcome {
  int code = -1;
  bool signalled = false;
  std::string output;  // stdout and stderr
};

Outcome shoal(const std::string& args) {
  Outcome o;
  FILE* p = popen((std::string(SHOAL_BINARY) + " " + args + " 2>&1").c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) o.output.append(buf, n);
  const int status = pclose(p);
  o.signalled = WIFSIGNALED(status);
  o.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return o;
}

bool has(const Outcome& o, const std::string& text) { return o.output.find(text) != std::string::npos; }

const std::string kDir = ::testing::TempDir();

TEST(Cli, HelpOnEveryCommand) {
  EXPECT_EQ(shoal("--help").code, 0);
  for (const char* cmd : {"inspect", "run", "split", "partition", "synth", "profile", "master", "worker", "demo", "bench", "pack", "embed", "experiment"}) {
    const Outcome o = shoal(std::string(cmd) + " --help");
    EXPECT_EQ(o.code, 0) << cmd;
    EXPECT_TRUE(has(o, "usage: shoal " + std::string(cmd))) << o.output;
  }
  const Outcome unknown = shoal("frobnicate");
  EXPECT_EQ(unknown.code, 2);
  EXPECT_TRUE(has(unknown, "unknown command"));
}

// Inputs that cannot be right are refused before any work, each saying what to do.
TEST(Cli, BadInputsAreRefusedUpFront) {
  const std::string model = std::string(SHOAL_SOURCE_DIR) + "/models/resnet8-slim-s1.shoal";
  EXPECT_TRUE(has(shoal("run " + kDir), "is a folder; give a model file")) << shoal("run " + kDir).output;
  EXPECT_TRUE(has(shoal("run " + model + " --limit 0"), "--limit takes a whole number, 1 or more"));
  EXPECT_TRUE(has(shoal("run " + model + " --limit 2.5"), "--limit takes a whole number, 1 or more"));
  EXPECT_TRUE(has(shoal("run " + model + " --limit 5 --limit 6"), "--limit is given twice"));
  EXPECT_TRUE(has(shoal("split " + model + " --worker 127.0.0.1:9 --limit 0"), "1 or more"));
  const Outcome zero = shoal("master --workers 127.0.0.1:9 --deadline 10,0");
  EXPECT_NE(zero.code, 0);
  EXPECT_TRUE(has(zero, "a deadline is a time in milliseconds above 0")) << zero.output;
  // Labels of another dataset (a class 12 for a 10-class model).
  const std::string labels = kDir + "/labels-of-another-dataset.idx";
  const uint8_t idx[] = {0, 0, 8, 1, 0, 0, 0, 3, 4, 12, 1};
  std::FILE* f = std::fopen(labels.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fwrite(idx, 1, sizeof(idx), f);
  std::fclose(f);
  const Outcome other = shoal("run " + model + " --labels " + labels + " --limit 3");
  EXPECT_NE(other.code, 0);
  EXPECT_TRUE(has(other, "label 12 (image 1) is not one of the model's 10 classes")) << other.output;
}

TEST(Cli, SynthInspectRun) {
  const std::string model = kDir + "cli-fluid.shoal";
  const Outcome synth = shoal("synth --arch fluid-cnn --seed 3 -o " + model);
  ASSERT_EQ(synth.code, 0) << synth.output;

  const Outcome text = shoal("inspect " + model);
  ASSERT_EQ(text.code, 0) << text.output;
  EXPECT_TRUE(has(text, "upper50")) << text.output;
  EXPECT_TRUE(has(text, "[50%,100%)")) << text.output;
  const Outcome json = shoal("inspect --json " + model);
  ASSERT_EQ(json.code, 0);
  EXPECT_EQ(json.output.front(), '{');
  EXPECT_TRUE(has(json, "\"macs\":678816")) << json.output;  // w1.0 of the Fluid CNN
  const Outcome splits = shoal("inspect --splits --subnet upper50 --json " + model);
  ASSERT_EQ(splits.code, 0) << splits.output;
  EXPECT_TRUE(has(splits, "{\"after\":\"pool2\",\"tensor\":\"pool2\",\"shape\":\"7x7x16\",\"bytes\":1568,")) << splits.output;
  EXPECT_TRUE(has(shoal("inspect --splits " + model), "cuts of w1.0")) << "the widest subnet by default";
  EXPECT_TRUE(has(shoal("inspect --subnet w1.0 " + model), "--subnet goes with --splits"));
  // The planner's choice from a link model: a fast worker on a fast link gets the image; a
  // link of 1 kbit/s keeps everything here.
  const Outcome remote = shoal("inspect --splits --json --here-gmacs 0.001 --there-gmacs 100 --link-mbps 1000 " + model);
  EXPECT_TRUE(has(remote, "\"best\":{\"after\":\"(all there: send the image)\",\"bytes\":784,")) << remote.output;
  const Outcome local = shoal("inspect --splits --encoding int8 --here-gmacs 10 --there-gmacs 10 --link-mbps 0.001 " + model);
  const size_t best = local.output.find("<- best");
  ASSERT_NE(best, std::string::npos) << local.output;
  const size_t line = local.output.rfind('\n', best) + 1;
  EXPECT_EQ(local.output.compare(line, 12, "  (all here)"), 0) << local.output;
  EXPECT_TRUE(has(local, "bytes (int8)")) << local.output;
  EXPECT_TRUE(has(shoal("inspect --splits --here-gmacs 1 " + model), "--there-gmacs and --link-mbps together"));
  EXPECT_TRUE(has(shoal("inspect --link-mbps 1 --here-gmacs 1 --there-gmacs 1 " + model), "goes with --splits"));

  const Outcome run = shoal("run " + model + " --subnet upper50,0.5 --limit 50 --json");
  ASSERT_EQ(run.code, 0) << run.output;
  EXPECT_TRUE(has(run, "\"images\":50"));
  EXPECT_TRUE(has(run, "\"subnet\":\"upper50\""));
  EXPECT_TRUE(has(run, "\"subnet\":\"lower50\""));
  EXPECT_TRUE(has(run, "\"p95_ms\""));

  const Outcome table = shoal("run " + model + " --limit 20");
  ASSERT_EQ(table.code, 0) << table.output;
  EXPECT_TRUE(has(table, "random weights")) << table.output;
  EXPECT_TRUE(has(table, "w0.75"));

  // The same seed gives the same bytes.
  const std::string again = kDir + "cli-fluid-again.shoal";
  ASSERT_EQ(shoal("synth --arch fluid-cnn --seed 3 -o " + again).code, 0);
  std::ifstream a(model, std::ios::binary), b(again, std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(a), {}), std::string(std::istreambuf_iterator<char>(b), {}));
}

// shoal pack and shoal embed: the packed model runs as the original does, the embedded one is
// a C file with the model's bytes; bad requests get errors that say what to do.
TEST(Cli, PackAndEmbed) {
  const std::string model = kDir + "cli-pack.shoal", packed = kDir + "cli-pack-neon.shoal";
  ASSERT_EQ(shoal("synth --arch fluid-cnn --seed 4 -o " + model).code, 0);
  const Outcome pack = shoal("pack " + model + " --for neon -o " + packed);
  ASSERT_EQ(pack.code, 0) << pack.output;
  EXPECT_TRUE(has(pack, "blocks of 4")) << pack.output;
  const Outcome a = shoal("run " + model + " --limit 30 --json"), b = shoal("run " + packed + " --limit 30 --json");
  ASSERT_EQ(a.code, 0);
  ASSERT_EQ(b.code, 0);
  auto first_accuracy = [](const std::string& o) { return o.substr(o.find("\"images\""), o.find("p50") - o.find("\"images\"")); };
  EXPECT_EQ(first_accuracy(a.output), first_accuracy(b.output));
  const Outcome embed = shoal("embed " + packed + " -o " + kDir + "fw_model.c");
  ASSERT_EQ(embed.code, 0) << embed.output;
  std::ifstream c(kDir + "fw_model.c"), h(kDir + "fw_model.h");
  const std::string c_text((std::istreambuf_iterator<char>(c)), {}), h_text((std::istreambuf_iterator<char>(h)), {});
  EXPECT_NE(c_text.find("aligned(64))) const unsigned char fw_model["), std::string::npos);
  EXPECT_NE(c_text.find("0x53,0x48,0x4d,0x4c"), std::string::npos) << "the SHML identifier";
  EXPECT_NE(h_text.find("extern const size_t fw_model_size;"), std::string::npos);
  EXPECT_TRUE(has(shoal("pack " + model + " --for tpu -o x.shoal"), "use avx2, avx512 or neon"));
  EXPECT_TRUE(has(shoal("embed " + model + " -o x.txt"), ".c file"));
  const Outcome missing = shoal("embed " + kDir + "nope.shoal -o " + kDir + "nope.c");
  EXPECT_NE(missing.code, 0);
  EXPECT_TRUE(has(missing, "cannot open")) << missing.output;
}

std::vector<std::vector<std::string>> read_csv(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::vector<std::string>> rows;
  for (std::string line; std::getline(in, line);) {
    rows.emplace_back();
    std::stringstream fields(line);
    for (std::string f; std::getline(fields, f, ',');) rows.back().push_back(f);
    if (!line.empty() && line.back() == ',') rows.back().push_back("");
  }
  return rows;
}

// shoal run on a trained model: --predictions agrees with the accuracy it reports; images
// without labels run too; every class's probabilities sum to one.
TEST(Cli, RunWritesPredictionsLabelledOrNot) {
  const std::string model = std::string(SHOAL_SOURCE_DIR) + "/models/resnet8-slim-s1.shoal";
  const std::string csv = kDir + "cli-predictions.csv", images = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
  Outcome o = shoal("run " + model + " --subnet w1.0 --limit 40 --json --predictions " + csv);
  ASSERT_EQ(o.code, 0) << o.output;
  auto rows = read_csv(csv);
  ASSERT_EQ(rows.size(), 41u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"subnet", "image", "label", "predicted", "class", "probability"}));
  int correct = 0;
  for (size_t i = 1; i < rows.size(); ++i) {
    ASSERT_EQ(rows[i].size(), 6u) << i;
    EXPECT_EQ(rows[i][0], "w1.0");
    EXPECT_EQ(rows[i][1], std::to_string(i - 1));
    correct += rows[i][2] == rows[i][3];
    EXPECT_GT(std::atof(rows[i][5].c_str()), 0.1);
  }
  EXPECT_EQ(rows[1][4], "Ankle boot") << "the first test image, a class name from the model";
  const size_t at = o.output.find("\"accuracy\":");
  ASSERT_NE(at, std::string::npos) << o.output;
  EXPECT_NEAR(std::atof(o.output.c_str() + at + 11), correct / 40.0, 1e-9);

  o = shoal("run " + model + " --subnet w0.25,w0.5 --limit 5 --json --images " + images +
            " --predictions " + csv + " --all-probabilities");
  ASSERT_EQ(o.code, 0) << o.output;
  EXPECT_TRUE(has(o, "\"labelled\":false")) << o.output;
  EXPECT_FALSE(has(o, "accuracy")) << o.output;
  rows = read_csv(csv);
  ASSERT_EQ(rows.size(), 11u);
  EXPECT_EQ(rows[0].size(), 16u);
  EXPECT_EQ(rows[0][15], "p9");
  for (size_t i = 1; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i][2], "") << "unlabelled";
    double sum = 0;
    for (size_t c = 6; c < 16; ++c) sum += std::atof(rows[i][c].c_str());
    EXPECT_NEAR(sum, 1.0, 1e-4);
    EXPECT_EQ(rows[i][5], rows[i][6 + std::atoi(rows[i][3].c_str())]) << "the top probability is the predicted class's";
  }
  EXPECT_EQ(rows[6][0], "w0.5");
  const Outcome table = shoal("run " + model + " --subnet w0.25 --limit 5 --images " + images);
  EXPECT_TRUE(has(table, "5 unlabelled images")) << table.output;
  EXPECT_TRUE(has(shoal("run " + model + " --limit 2 --all-probabilities"), "goes with --predictions"));
  EXPECT_TRUE(has(shoal("run " + model + " --limit 2 --predictions /nonexistent/p.csv"), "cannot write"));
}

// The demo as a new user first runs it: no trained members, four worker processes, a master.
TEST(Cli, DemoRunsWithRandomMembersWhenNoneAreGiven) {
  SKIP_UNDER_SANITIZERS();  // five processes with deadlines: six minutes under ASan
  // (30 validation images for the random members' accuracy: the default 300 take 30 s here.)
  const Outcome o = shoal("demo --limit 3 --policy static --accuracy-images 30");
  ASSERT_EQ(o.code, 0) << o.output;
  EXPECT_TRUE(has(o, "random-weight models")) << o.output;
  EXPECT_TRUE(has(o, "all workers stopped")) << o.output;
  EXPECT_TRUE(has(shoal("demo --members a.shoal,b.shoal --limit 3"), "--members takes 4 model files"));
}

// SIGTERM (a `kill`, a service manager) stops the demo's four workers and removes its folder.
TEST(Cli, ASignalStopsTheDemosWorkersAndRemovesItsFolder) {
  SKIP_UNDER_SANITIZERS();
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  const pid_t demo = fork();
  ASSERT_GE(demo, 0);
  if (demo == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    execl(SHOAL_BINARY, SHOAL_BINARY, "demo", "--limit", "5000", "--policy", "static", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  std::FILE* from = fdopen(out[0], "r");
  std::vector<pid_t> workers;
  std::string folder;
  char line[1024];
  while (workers.size() < 4 && std::fgets(line, sizeof(line), from)) {
    const std::string text = line;
    const size_t pid = text.find(" pid ");
    if (pid != std::string::npos) workers.push_back(static_cast<pid_t>(std::atoi(text.c_str() + pid + 5)));
    const size_t at = text.find("written to ");
    if (at != std::string::npos) folder = text.substr(at + 11, text.find(',', at) - at - 11);
  }
  ASSERT_EQ(workers.size(), 4u);
  ASSERT_FALSE(folder.empty());
  struct stat st;
  EXPECT_EQ(stat(folder.c_str(), &st), 0) << folder;
  ASSERT_EQ(kill(demo, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(waitpid(demo, &status, 0), demo);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << status;
  std::fclose(from);
  for (pid_t w : workers) {  // reparented, they are reaped once they end
    bool gone = false;
    for (int i = 0; i < 300 && !gone; ++i) {
      gone = kill(w, 0) != 0 && errno == ESRCH;
      if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_TRUE(gone) << "worker " << w << " still runs";
  }
  EXPECT_NE(stat(folder.c_str(), &st), 0) << folder << " is still there";
  for (pid_t w : workers) {  // should this fail, it leaves nothing running for the next test
    if (kill(w, 0) == 0) kill(w, SIGKILL);
  }
}

TEST(Cli, ErrorsSayWhatToDo) {
  const std::string model = kDir + "cli-resnet8.shoal";
  ASSERT_EQ(shoal("synth --arch resnet8 --widths 0.5,1 -o " + model).code, 0);

  Outcome o = shoal("run " + model + " --subnet w0.3 --limit 5");
  EXPECT_EQ(o.code, 1);
  EXPECT_TRUE(has(o, "no subnet 'w0.3'") && has(o, "w0.5, w1.0")) << o.output;

  o = shoal("run " + model + " --limit 5 --images /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz");
  EXPECT_EQ(o.code, 1);
  EXPECT_TRUE(has(o, "not an IDX file")) << o.output;

  o = shoal("run " + model + " --bogus");
  EXPECT_EQ(o.code, 1);
  EXPECT_TRUE(has(o, "unknown option '--bogus'")) << o.output;

  o = shoal("synth --arch vgg99 -o " + kDir + "x.shoal");
  EXPECT_EQ(o.code, 1);
  EXPECT_TRUE(has(o, "fluid-cnn, resnet8, resnet8-s1, resnet8-s2, resnet18")) << o.output;

  o = shoal("synth --arch fluid-cnn --widths 0.5 -o " + kDir + "x.shoal");
  EXPECT_EQ(o.code, 1);
  EXPECT_TRUE(has(o, "leave out --widths")) << o.output;

  // A corrupt model file: an error and exit 1, never a crash.
  const std::string corrupt = kDir + "corrupt.shoal";
  {
    std::ifstream in(model, std::ios::binary);
    std::string bytes(std::istreambuf_iterator<char>(in), {});
    bytes.resize(bytes.size() / 3);
    std::ofstream(corrupt, std::ios::binary) << bytes;
  }
  for (const std::string& cmd : {"inspect " + corrupt, "run " + corrupt + " --limit 1"}) {
    o = shoal(cmd);
    EXPECT_FALSE(o.signalled) << cmd;
    EXPECT_EQ(o.code, 1) << cmd;
    EXPECT_TRUE(has(o, "truncated or damaged")) << o.output;
  }
  o = shoal("inspect /nonexistent.shoal");
  EXPECT_EQ(o.code, 1);
  EXPECT_TRUE(has(o, "cannot open model file")) << o.output;
}

TEST(Cli, WrongImageSizeNeedsResize) {
  const std::string model = kDir + "cli-resnet18.shoal";
  ASSERT_EQ(shoal("synth --arch resnet18 --widths 0.25 -o " + model).code, 0);
  Outcome o = shoal("run " + model + " --limit 1");
  EXPECT_EQ(o.code, 1);
  EXPECT_TRUE(has(o, "28x28x1 but the model takes 224x224x3")) << o.output;
  o = shoal("run " + model + " --limit 1 --warmup 0 --resize --json");
  EXPECT_EQ(o.code, 0) << o.output;
  EXPECT_TRUE(has(o, "\"subnet\":\"w0.25\"")) << o.output;
}

}  // namespace

namespace {

TEST(Cli, ProfileAccuracyWritesProfilePlotAndJson) {
  const std::string a = kDir + "cli-prof-a.shoal", b = kDir + "cli-prof-b.shoal";
  ASSERT_EQ(shoal("synth --arch fluid-cnn --seed 1 -o " + a).code, 0);
  ASSERT_EQ(shoal("synth --arch resnet8 --widths 0.5,1 --seed 2 -o " + b).code, 0);
  const std::string out = kDir + "cli-prof.shoalprof", plot = kDir + "cli-prof.svg";
  std::remove(out.c_str());
  std::remove(plot.c_str());
  const Outcome o = shoal("profile accuracy --members " + a + "," + b + " --limit 60 --out " + out + " --quiet");
  ASSERT_EQ(o.code, 0) << o.output;
  EXPECT_TRUE(has(o, "members alone")) << o.output;
  EXPECT_TRUE(has(o, "(20 configurations)")) << o.output;  // (6 + 1) x (2 + 1) - 1
  std::ifstream svg(plot);
  const std::string text((std::istreambuf_iterator<char>(svg)), {});
  EXPECT_EQ(text.rfind("<svg", 0), 0u);
  EXPECT_NE(text.find("2 members"), std::string::npos);
  std::ifstream prof(out, std::ios::binary);
  EXPECT_TRUE(prof.good());

  const Outcome json = shoal("profile accuracy --members " + a + "," + b + " --limit 60 --json --split all --images " +
                             "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz --labels " +
                             "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz --out " + out);
  ASSERT_EQ(json.code, 0) << json.output;
  EXPECT_EQ(json.output.front(), '{') << json.output;
  EXPECT_TRUE(has(json, "\"best_by_members_and_width\""));

  const Outcome same = shoal("profile accuracy --members " + a + "," + a + " --limit 10 --out " + out);
  EXPECT_EQ(same.code, 1);
  EXPECT_TRUE(has(same, "each must be distinct")) << same.output;
  const Outcome split = shoal("profile accuracy --members " + a + " --split test");
  EXPECT_EQ(split.code, 1);
  EXPECT_TRUE(has(split, "--split is validation or all")) << split.output;
  const Outcome none = shoal("profile accuracy");
  EXPECT_EQ(none.code, 1);
  EXPECT_TRUE(has(none, "--members FILES is required")) << none.output;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  return std::string((std::istreambuf_iterator<char>(f)), {});
}

// shoal split and shoal partition against a real worker process, in phases (this device
// slowed, the link limited: link_scenario.h): each phase reported, in text and in JSON.
TEST(Cli, SplitAndPartitionReportEachPhaseOfTheirScenario) {
  const std::string model = std::string(SHOAL_SOURCE_DIR) + "/models/resnet8-slim-s1.shoal";
  auto worker = shoal::net::WorkerProcess::start(SHOAL_BINARY, {"--model", model});
  ASSERT_TRUE(worker.is_ok()) << worker.status().to_string();
  const std::string split = "split " + model + " --worker " + worker->address() +
                            " --at auto --limit 8 --link-kbps 0,5000 --local-slowdown 1,2 --deadline 500";
  const Outcome text = shoal(split);
  ASSERT_EQ(text.code, 0) << text.output;
  EXPECT_TRUE(has(text, "this device x1, links as they are")) << text.output;
  EXPECT_TRUE(has(text, "this device x2, links 5000 kbit/s")) << text.output;
  EXPECT_TRUE(has(text, "over 500 ms")) << text.output;
  const Outcome json = shoal(split + " --json");
  ASSERT_EQ(json.code, 0) << json.output;
  EXPECT_TRUE(has(json, "\"auto_phases\"")) << json.output;
  EXPECT_TRUE(has(json, "\"link_kbps\":5000")) << json.output;
  const std::string partition = "partition " + model + " --workers " + worker->address() + " --limit 6";
  const Outcome parts = shoal(partition + " --local-slowdown 1,2 --json");
  ASSERT_EQ(parts.code, 0) << parts.output;
  EXPECT_TRUE(has(parts, "\"phases\"")) << parts.output;
  EXPECT_TRUE(has(parts, "\"local_slowdown\":2")) << parts.output;
  const Outcome uneven = shoal(partition + " --link-kbps 1,2,3 --local-slowdown 1,2");
  EXPECT_EQ(uneven.code, 1);
  EXPECT_TRUE(has(uneven, "one per phase")) << uneven.output;
  worker->stop();
}

// Short runs of every experiment on the shipped members (scripts/experiments runs them whole).
TEST(Cli, ExperimentsWriteJsonAndPlotsFromTheShippedMembers) {
  const std::string out = kDir + "cli-experiments", models = std::string(SHOAL_SOURCE_DIR) + "/models";
  const std::string common = " --out " + out + " --models " + models + " --quiet";
  const Outcome members = shoal("experiment members --images 300" + common);
  ASSERT_EQ(members.code, 0) << members.output;
  EXPECT_TRUE(has(members, "over the best single member")) << members.output;
  EXPECT_EQ(slurp(out + "/members.json").front(), '{');
  EXPECT_NE(slurp(out + "/members.json").find("\"fig3_best_by_members_and_width\""), std::string::npos);
  for (const char* plot : {"members-fig3.svg", "members-gain.svg", "members-narrow.svg"}) {
    EXPECT_EQ(slurp(out + "/" + plot).rfind("<svg", 0), 0u) << plot;
  }
  const Outcome vip = shoal("experiment vip --images 300" + common);
  ASSERT_EQ(vip.code, 0) << vip.output;
  EXPECT_NE(slurp(out + "/vip.json").find("\"ensemble_minus_baseline\""), std::string::npos);
  // Real worker processes, one of them killed: every scenario answers.
  const Outcome fluid = shoal("experiment fluid --cluster-images 12" + common);
  ASSERT_EQ(fluid.code, 0) << fluid.output;
  EXPECT_TRUE(has(fluid, "HT both")) << fluid.output;
  EXPECT_TRUE(has(fluid, "HA master only")) << fluid.output;
  EXPECT_EQ(slurp(out + "/fluid-throughput.svg").rfind("<svg", 0), 0u);

  // The emulated Table-I cluster: every policy, three deadlines, the cascade's sweep. Five
  // processes with deadlines for minutes under ASan, as the demo's: the release build runs it.
  if (!SHOAL_UNDER_SANITIZERS) {
    const Outcome policies = shoal("experiment policies --cluster-images 10" + common);
    ASSERT_EQ(policies.code, 0) << policies.output;
    EXPECT_TRUE(has(policies, "adaensemble")) << policies.output;
    EXPECT_NE(slurp(out + "/policies.json").find("\"cascade_sweep\""), std::string::npos);
    EXPECT_EQ(slurp(out + "/cascade-accuracy.svg").rfind("<svg", 0), 0u);
  }

  const Outcome unknown = shoal("experiment fig9" + common);
  EXPECT_EQ(unknown.code, 1);
  EXPECT_TRUE(has(unknown, "no experiment 'fig9'; there are members, vip, policies, fluid")) << unknown.output;
  const Outcome nowhere = shoal("experiment members --models /nonexistent --out " + out);
  EXPECT_EQ(nowhere.code, 1);
  EXPECT_TRUE(has(nowhere, "no slimmable members")) << nowhere.output;
}

}  // namespace

namespace {

// A short real run: fluid-cnn on shoal's kernels and (where built) XNNPACK, 1 and 2 threads.
TEST(Cli, BenchReportsEveryLayerWidthThreadsAndBackend) {
  const bool xnnpack = shoal("bench --compare xnnpack --arch nothing --quiet").output.find("no XNNPACK") ==
                       std::string::npos;
  const std::string compare = xnnpack ? " --compare xnnpack" : "";
  const Outcome o = shoal("bench --arch fluid-cnn --repeat 1 --min-ms 1 --json --quiet" + compare);
  ASSERT_EQ(o.code, 0) << o.output;
  ASSERT_EQ(o.output.front(), '{') << o.output;
  for (const char* field : {"\"context\":{\"shoal_version\":", "\"cpu\":", "\"available_backends\":",
                            "\"date\":\"20", "\"benchmarks\":[","\"layer\":", "\"width\":", "\"threads\":", "\"backend\":", "\"us\":", "\"gflops\":",
                            "\"kind\":\"model\"", "\"kind\":\"switch\"", "\"arena_bytes\":",
                            "\"layer\":\"conv2\"", "\"width\":\"upper25\"", "\"threads\":2"}) {
    EXPECT_TRUE(has(o, field)) << field << " missing from " << o.output.substr(0, 400);
  }
  if (xnnpack) {
    EXPECT_TRUE(has(o, "\"backend\":\"xnnpack\""));
    EXPECT_TRUE(has(o, "\"vs_xnnpack\":"));
    const std::string svg = kDir + "/bench.svg";
    ASSERT_EQ(shoal("bench --compare xnnpack --arch fluid-cnn --threads 1 --repeat 1 --min-ms 1 --quiet --plot " + svg).code, 0);
    std::ifstream in(svg);
    const std::string picture((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(picture.find("<svg"), std::string::npos);
    EXPECT_NE(picture.find("fluid-cnn conv2"), std::string::npos) << picture.substr(0, 300);
    std::remove(svg.c_str());
  }
  const Outcome table = shoal("bench --arch fluid-cnn --models-only --threads 1 --repeat 1 --min-ms 1 --quiet");
  ASSERT_EQ(table.code, 0) << table.output;
  EXPECT_TRUE(has(table, "whole model")) << table.output;
  EXPECT_TRUE(has(table, "memory:")) << table.output;
  EXPECT_TRUE(has(table, "shoal 0.")) << "the context line: " << table.output;

  // A model file, named by its file name.
  const Outcome file = shoal("bench " + std::string(SHOAL_SOURCE_DIR) +
                             "/models/resnet8-slim-s1.shoal --models-only --threads 1 --repeat 1 --min-ms 1 --quiet --json");
  ASSERT_EQ(file.code, 0) << file.output;
  EXPECT_TRUE(has(file, "\"model\":\"resnet8-slim-s1\",\"layer\":\"(whole model)\",\"width\":\"w0.75\"")) << file.output;
  EXPECT_FALSE(has(file, "fluid-cnn")) << "no architectures unless asked";
}

TEST(Cli, BenchErrorsSayWhatToDo) {
  EXPECT_TRUE(has(shoal("bench --compare tflite"), "--compare takes 'xnnpack'"));
  EXPECT_TRUE(has(shoal("bench --plot x.svg"), "add --compare xnnpack"));
  EXPECT_TRUE(has(shoal("bench --backends sse9"), "no backend 'sse9'"));
  EXPECT_TRUE(has(shoal("bench --threads 0"), "--threads takes whole numbers"));
  EXPECT_TRUE(has(shoal("bench --arch lenet5 --quiet"), "unknown architecture 'lenet5'"));
  EXPECT_TRUE(has(shoal("bench /nonexistent.shoal --quiet"), "cannot open model file"));
  EXPECT_NE(shoal("bench --arch lenet5 --quiet").code, 0);
}

}  // namespace
