// What the master and worker add to a request, against a raw round trip of the same sizes on
// loopback, over TCP and over UDP, measured in the same run (report p50: the median of
// repetitions, and p99 from BM_*RoundTripPercentiles); and how long the AdaEnsemble
// allocator takes to decide. Interleave the repetitions: on a shared machine the round trip
// drifts by a third within minutes, and raw and master must see the same phases.
//   build/bench/net_bench --benchmark_filter=RoundTrip --benchmark_repetitions=9
//       --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

#include "shoal/builder.h"
#include "shoal/net/calibrator.h"
#include "shoal/net/master.h"
#include "shoal/net/transport.h"
#include "shoal/net/worker_server.h"

namespace {

constexpr size_t kImageBytes = 28 * 28;
constexpr size_t kReplyBytes = 10 * sizeof(float);

// Times each round trip of the loop, and reports their median and 99th percentile (in us) as
// counters beside Google Benchmark's mean.
class Percentiles {
 public:
  explicit Percentiles(benchmark::State& state) : state_(state) { times_.reserve(1 << 20); }
  ~Percentiles() {
    if (times_.empty()) return;
    std::sort(times_.begin(), times_.end());
    state_.counters["p50_us"] = times_[times_.size() / 2];
    state_.counters["p99_us"] = times_[times_.size() * 99 / 100];
  }
  template <typename Body>
  void time(Body body) {
    const auto t0 = std::chrono::steady_clock::now();
    body();
    times_.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }

 private:
  benchmark::State& state_;
  std::vector<double> times_;
};

bool full_io(int fd, void* p, size_t n, bool write) {
  char* c = static_cast<char*>(p);
  while (n > 0) {
    const ssize_t k = write ? send(fd, c, n, MSG_NOSIGNAL) : recv(fd, c, n, 0);
    if (k <= 0) return false;
    c += k;
    n -= static_cast<size_t>(k);
  }
  return true;
}

// The peer: plain sockets, a 784-byte request answered by a 40-byte reply.
void BM_RawTcpRoundTrip(benchmark::State& state) {
  const int lfd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(lfd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  listen(lfd, 1);
  socklen_t len = sizeof(sa);
  getsockname(lfd, reinterpret_cast<sockaddr*>(&sa), &len);
  std::thread echo([lfd] {
    const int fd = accept(lfd, nullptr, nullptr);
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    char in[kImageBytes], out[kReplyBytes] = {};
    while (full_io(fd, in, sizeof(in), false) && full_io(fd, out, sizeof(out), true)) {
    }
    close(fd);
  });
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  char req[kImageBytes] = {}, rep[kReplyBytes];
  {
    Percentiles p(state);
    for (auto _ : state) {
      p.time([&] {
        full_io(fd, req, sizeof(req), true);
        full_io(fd, rep, sizeof(rep), false);
      });
    }
  }
  close(fd);
  echo.join();
  close(lfd);
}
BENCHMARK(BM_RawTcpRoundTrip)->UseRealTime();

// The same over UDP: one 784-byte datagram out, one 40-byte datagram back.
void BM_RawUdpRoundTrip(benchmark::State& state) {
  const int server = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(server, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  socklen_t len = sizeof(sa);
  getsockname(server, reinterpret_cast<sockaddr*>(&sa), &len);
  std::thread echo([server] {
    char in[kImageBytes], out[kReplyBytes] = {};
    for (;;) {
      sockaddr_in from{};
      socklen_t n = sizeof(from);
      const ssize_t k = recvfrom(server, in, sizeof(in), 0, reinterpret_cast<sockaddr*>(&from), &n);
      if (k <= 1) break;  // a 1-byte datagram ends it
      sendto(server, out, sizeof(out), 0, reinterpret_cast<sockaddr*>(&from), n);
    }
  });
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  char req[kImageBytes] = {}, rep[kReplyBytes];
  {
    Percentiles p(state);
    for (auto _ : state) {
      p.time([&] {
        send(fd, req, sizeof(req), 0);
        recv(fd, rep, sizeof(rep), 0);
      });
    }
  }
  send(fd, req, 1, 0);
  echo.join();
  close(fd);
  close(server);
}
BENCHMARK(BM_RawUdpRoundTrip)->UseRealTime();

// A model that costs next to nothing to run, so the master's and worker's own work shows.
shoal::Model tiny_model() {
  shoal::ModelBuilder b("tiny", 1);
  const uint32_t image = b.group("image", 1, false), classes = b.group("classes", 10, false);
  uint32_t x = b.input("image", image, 28, 28);
  x = b.global_avg_pool("pool", x);
  x = b.linear("fc", x, classes, {shoal::fb::Activation::None, false, false, true});
  b.output(b.softmax("prob", x));
  b.subnet("w1.0", 1.0f, 0.0f, 1.0f, 0);
  const std::vector<uint8_t> bytes = shoal::serialize_model(b.spec());
  return std::move(shoal::Model::from_bytes(bytes.data(), bytes.size()).value());
}

// Arg 0: TCP, 1: UDP.
void BM_MasterRoundTrip(benchmark::State& state) {
  const shoal::Model model = tiny_model();
  const auto transport = state.range(0) ? shoal::net::Transport::kUdp : shoal::net::Transport::kTcp;
  auto server = shoal::net::WorkerServer::create(model, {});
  auto listener = shoal::net::listen_on(transport, "127.0.0.1:0");
  std::thread serving([&] { (void)server.value()->run(*listener.value()); });  // loopback: never refused
  shoal::net::MasterOptions options;
  options.addresses = {"127.0.0.1:" + std::to_string(listener.value()->port())};
  options.dialer = &shoal::net::dialer_for(transport);
  auto master = shoal::net::Master::connect(options);
  shoal::Images images;
  images.count = 8, images.h = 28, images.w = 28, images.c = 1;
  images.pixels.assign(8 * kImageBytes, 7);
  const std::vector<uint8_t> labels(8, 0);
  bool ok = master.is_ok() && shoal::net::calibrate_latency(*master.value(), images, 0, 8).is_ok();
  if (ok) {
    auto profile = shoal::net::measure_accuracy(*master.value(), images, labels, 0, 8);
    ok = profile.is_ok();
    if (ok) master.value()->set_profile(std::make_shared<shoal::EnsembleProfile>(std::move(profile.value())));
    ok = ok && master.value()->set_policy("adaensemble").is_ok();
  }
  if (!ok) {
    state.SkipWithError("master did not start");
  } else {
    Percentiles p(state);
    for (auto _ : state) p.time([&] { benchmark::DoNotOptimize(master.value()->infer(images.image(0), 1000.0)); });
  }
  master = shoal::Status(shoal::StatusCode::kIo, "done");
  server.value()->stop();
  serving.join();
}
BENCHMARK(BM_MasterRoundTrip)->Arg(0)->Arg(1)->UseRealTime();

// One AdaEnsemble decision for W workers with 4 subnets each, each worker its own member (as
// the demo's cluster is). Up to 6 members the profile measures every configuration and the
// allocator is exact; beyond, it has singles and pairs and the allocator is greedy. Budgets:
// everything fits (arg 1000), a tight one (25), nothing fits (5, the whole search).
void BM_AdaEnsembleDecision(benchmark::State& state) {
  const uint32_t workers = static_cast<uint32_t>(state.range(0)), subnets = 4, classes = 10, images = 200;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(0, 1);
  std::vector<uint8_t> labels(images);
  for (auto& l : labels) l = static_cast<uint8_t>(rng() % classes);
  std::vector<std::vector<std::vector<float>>> probs(workers);
  std::vector<std::vector<uint64_t>> macs(workers);
  std::vector<shoal::WorkerRole> roles(workers);
  for (uint32_t w = 0; w < workers; ++w) {
    roles[w].member = static_cast<int>(w);
    for (uint32_t s = 0; s < subnets; ++s) {
      std::vector<float> p(images * classes);
      for (uint32_t i = 0; i < images; ++i)
        for (uint32_t c = 0; c < classes; ++c) p[i * classes + c] = u(rng) + (c == labels[i] ? 0.2f * s : 0.0f);
      probs[w].push_back(std::move(p));
      macs[w].push_back(s + 1);
      roles[w].profile_subnet.push_back(static_cast<int>(s));
      roles[w].macs.push_back(s + 1);
    }
  }
  auto profile = std::make_shared<shoal::EnsembleProfile>(shoal::EnsembleProfile::measure(probs, macs, labels, classes).value());
  const shoal::Allocator allocator(profile, roles);
  shoal::LatencyModel latency(std::vector<uint32_t>(workers, subnets), {});
  for (uint32_t w = 0; w < workers; ++w)
    for (uint32_t s = 0; s < subnets; ++s) latency.observe(w, s, (s + 1) * (1.0 + (w % 8) * 0.5));
  const double budget = state.range(1) / 10.0;
  for (auto _ : state) benchmark::DoNotOptimize(allocator.best(latency, 0, budget));
  state.SetLabel(std::string(allocator.exact() ? "exact" : "greedy") + ", budget " + std::to_string(budget) + " ms");
}
BENCHMARK(BM_AdaEnsembleDecision)->ArgsProduct({{4, 8, 16, 64}, {1000, 25, 5}});

}  // namespace

BENCHMARK_MAIN();
