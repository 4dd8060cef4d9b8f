// A worker: serves inference requests for any subnet of one model to any number of
// masters. Each peer's frames are read as soon as they arrive (so a request's deadline
// counts from its arrival) and queue for one engine thread (a device computes one thing at
// a time); a request whose deadline passes while it waits is answered DeadlineExpired, not
// run. (Running requests on the reading thread saved ~15 us per request but made a queued
// request's clock start only when it was read, so none ever expired.)
// Malformed frames get an error reply; a peer whose stream cannot be trusted any more
// (bad header) is dropped; everyone else is served on.
#ifndef SHOAL_NET_WORKER_SERVER_H_
#define SHOAL_NET_WORKER_SERVER_H_

#include <atomic>
#include <memory>
#include <string>

#include "shoal/kernel_table.h"
#include "shoal/model.h"
#include "shoal/net/connection.h"
#include "shoal/net/frame.h"

namespace shoal::net {

struct WorkerOptions {
  std::string member;    // this member's name in Hello (default: the model's name)
  double slowdown = 1.0; // compute time is stretched by this factor, to emulate a slower device
  Limits limits;
  std::string key;       // pre-shared key: every frame must carry its MAC (empty: none)
  const KernelTable* kernels = nullptr;  // backend (null: the fastest this CPU runs)
  unsigned threads = 1;                  // the engine's threads per request
};

struct WorkerCounters {
  std::atomic<uint64_t> served{0}, expired{0}, malformed{0}, rejected{0}, connections{0};
};

class WorkerServer {
 public:
  // `model` must outlive the server.
  static Result<std::unique_ptr<WorkerServer>> create(const Model& model, const WorkerOptions& options);
  ~WorkerServer();

  // Serves one peer on a thread of its own until it disconnects or stop() is called.
  void serve(std::unique_ptr<Connection> connection);
  // Accepts peers until stop() (or the listener fails).
  void run(TcpListener& listener);
  void stop();
  const WorkerCounters& counters() const;

 private:
  struct Impl;
  explicit WorkerServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shoal::net

#endif  // SHOAL_NET_WORKER_SERVER_H_
