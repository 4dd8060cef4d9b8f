#include "shoal/net/worker_process.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

namespace shoal::net {
namespace {

// The worker processes running, for a signal handler to stop (a fixed table: no allocation).
constexpr size_t kMaxChildren = 256;
std::atomic<pid_t> g_children[kMaxChildren];

void remember(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t empty = 0;
    if (slot.compare_exchange_strong(empty, pid)) return;
  }
}

void forget(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t mine = pid;
    if (slot.compare_exchange_strong(mine, 0)) return;
  }
}

constexpr size_t kMaxPaths = 16, kMaxPath = 512;
char g_paths[kMaxPaths][kMaxPath];
size_t g_path_count = 0;

void on_signal(int sig) {
  for (auto& slot : g_children) {
    const pid_t pid = slot.load();
    if (pid > 0) ::kill(pid, SIGTERM);
  }
  for (size_t i = 0; i < g_path_count; ++i) {
    if (::unlink(g_paths[i]) != 0) ::rmdir(g_paths[i]);
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

}  // namespace

void clean_up_on_signal(const std::vector<std::string>& paths) {
  g_path_count = 0;
  for (const std::string& p : paths) {
    if (g_path_count == kMaxPaths || p.size() >= kMaxPath) break;
    std::memcpy(g_paths[g_path_count], p.c_str(), p.size() + 1);
    ++g_path_count;
  }
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

std::string self_executable() {
  char path[4096];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
  return n > 0 ? std::string(path, static_cast<size_t>(n)) : "shoal";
}

Result<WorkerProcess> WorkerProcess::start(const std::string& binary, const std::vector<std::string>& args,
                                           uint16_t port) {
  int out[2];
  if (pipe(out) != 0) return Status(StatusCode::kIo, "pipe failed");
  // `shoal worker ARGS`, or `shoal-worker ARGS` for the worker-only binary.
  const bool worker_only = binary.size() >= 12 && binary.compare(binary.size() - 12, 12, "shoal-worker") == 0;
  std::vector<std::string> argv_s = {binary};
  if (!worker_only) argv_s.push_back("worker");
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  argv_s.push_back("--listen");
  argv_s.push_back("127.0.0.1:" + std::to_string(port));
  std::vector<char*> argv;
  for (std::string& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return Status(StatusCode::kIo, "fork failed");
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  close(out[1]);
  remember(pid);
  WorkerProcess p;
  p.pid_ = pid;
  std::string line;
  char c;
  pollfd pfd{out[0], POLLIN, 0};
  while (line.find('\n') == std::string::npos && poll(&pfd, 1, 10000) == 1 && read(out[0], &c, 1) == 1) line += c;
  close(out[0]);
  const size_t colon = line.rfind(':');
  if (line.rfind("listening on ", 0) != 0 || colon == std::string::npos) {
    return Status(StatusCode::kIo, "worker did not start (said '" + line + "'); see its message above");
  }
  p.port_ = static_cast<uint16_t>(std::stoi(line.substr(colon + 1)));
  p.address_ = "127.0.0.1:" + std::to_string(p.port_);
  return p;
}

WorkerProcess::WorkerProcess(WorkerProcess&& o) noexcept : pid_(o.pid_), port_(o.port_), address_(o.address_) {
  o.pid_ = -1;
}

WorkerProcess& WorkerProcess::operator=(WorkerProcess&& o) noexcept {
  if (this != &o) {
    stop();
    pid_ = o.pid_, port_ = o.port_, address_ = o.address_;
    o.pid_ = -1;
  }
  return *this;
}

WorkerProcess::~WorkerProcess() { stop(); }

void WorkerProcess::kill_now() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  forget(pid_);
  pid_ = -1;
}

void WorkerProcess::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  waitpid(pid_, nullptr, 0);
  forget(pid_);
  pid_ = -1;
}

}  // namespace shoal::net
