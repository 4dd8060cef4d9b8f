// A connected stream socket (TCP, or one end of a socketpair). Reading is one blocking recv()
// under the socket's receive timeout, with the kernel's arrival stamp; shutdown() wakes it.
// Writing never blocks: write_all() sends what the socket takes at once (MSG_DONTWAIT) and
// queues the rest, which the flusher (flusher.h) sends as the peer makes room.
#ifndef SHOAL_NET_SRC_STREAM_CONNECTION_H_
#define SHOAL_NET_SRC_STREAM_CONNECTION_H_

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "flusher.h"
#include "shoal/net/connection.h"
#include "stamped_receive.h"

namespace shoal::net {

class StreamConnection final : public Connection, private Backlogged {
 public:
  // Takes `fd` (closed on failure too).
  static Result<std::unique_ptr<Connection>> adopt(int fd, std::string peer, ConnectionLimits limits = {});
  ~StreamConnection() override;

  Status write_all(const void* data, size_t size) override;
  Status read_exact(void* data, size_t size, int timeout_ms = -1) override;
  Result<size_t> read_some(void* data, size_t size, int timeout_ms = -1) override;
  bool nothing_arrived() override;
  Arrival arrival() const override {
    const bool exact = in_begin_ == in_end_;
    return {stamp_, exact, exact ? stamp_ : floor_};
  }
  Status flush(int timeout_ms) override;
  void shutdown() override;
  void set_limits(const ConnectionLimits& limits) override;
  bool overflowed() const override;

 private:
  StreamConnection(int fd, std::string peer, ConnectionLimits limits);
  Status send_queued_locked();  // out_mu_ held
  bool send_backlog() override;
  // Fills in_ with what the socket has: one recv, waiting `first_wait_ms` (-1: no limit, 0:
  // not at all), then, if a signal cut it short, until `deadline`.
  Status fill(int first_wait_ms, std::chrono::steady_clock::time_point deadline);

  const int fd_;
  ConnectionLimits limits_;
  mutable std::mutex out_mu_;  // out_, out_begin_, failed_, overflowed_, limits_, watched_
  std::vector<uint8_t> out_;
  size_t out_begin_ = 0;
  bool failed_ = false;
  bool overflowed_ = false;
  bool watched_ = false;       // the flusher is sending out_
  bool ever_watched_ = false;  // so the destructor makes the flusher forget it
  // The reading thread's.
  uint8_t in_[16384];  // a small frame usually costs one recv
  size_t in_begin_ = 0, in_end_ = 0;
  std::chrono::steady_clock::time_point stamp_;  // when the last byte in in_ arrived
  std::chrono::steady_clock::time_point floor_;  // no byte in in_ arrived before this
  // When the last recv that returned bytes was called.
  std::chrono::steady_clock::time_point last_called_ = std::chrono::steady_clock::now();
  bool full_ = false;                            // ... filled in_ (more may have been waiting)
  ReceiveTimeout timeout_;
};

}  // namespace shoal::net

#endif  // SHOAL_NET_SRC_STREAM_CONNECTION_H_
