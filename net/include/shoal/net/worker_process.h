// A `shoal worker` (or `shoal-worker`) in a child process on this machine, started and stopped
// as a real device's would be: what `shoal demo` and `shoal experiment` run their members in,
// and what the tests kill, stall and flood.
#ifndef SHOAL_NET_WORKER_PROCESS_H_
#define SHOAL_NET_WORKER_PROCESS_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "shoal/status.h"

namespace shoal::net {

class WorkerProcess {
 public:
  // Runs `binary worker ARGS --listen 127.0.0.1:PORT` (PORT 0 picks one; `binary ARGS ...`
  // when binary is the worker-only shoal-worker) and waits until it says where it listens.
  static Result<WorkerProcess> start(const std::string& binary, const std::vector<std::string>& args,
                                     uint16_t port = 0);
  WorkerProcess(WorkerProcess&& other) noexcept;
  WorkerProcess& operator=(WorkerProcess&& other) noexcept;
  ~WorkerProcess();

  const std::string& address() const { return address_; }
  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  void kill_now();  // SIGKILL, as a crash or a pulled plug
  void stop();      // SIGTERM, then wait

 private:
  WorkerProcess() = default;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string address_;
};

// This executable's path, to start more of itself.
std::string self_executable();

// From now on SIGINT and SIGTERM stop every worker process this process has running, remove
// `paths` (files, then folders, in the order given), and end the process as the signal would:
// a command that starts workers leaves nothing behind however it is stopped. Call once, from
// the main thread; the handler does only what a signal handler may.
void clean_up_on_signal(const std::vector<std::string>& paths);

}  // namespace shoal::net

#endif  // SHOAL_NET_WORKER_PROCESS_H_
