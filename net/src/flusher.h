// One thread per process that sends what stream connections could not send at once (the peer
// reads slowly), so that a connection's reader can wait in one blocking recv() instead of
// polling for both directions: the dearest part of a loopback round trip is its system calls.
// It starts the first time a connection has output waiting, and never before.
#ifndef SHOAL_NET_SRC_FLUSHER_H_
#define SHOAL_NET_SRC_FLUSHER_H_

#include <mutex>
#include <unordered_map>

namespace shoal::net {

// What the flusher drives: a connection with output waiting.
class Backlogged {
 public:
  // Sends what the socket takes now. True when nothing is left to send (or the connection
  // failed): the flusher stops watching it, and the connection asks again when it next has
  // to queue.
  virtual bool send_backlog() = 0;

 protected:
  ~Backlogged() = default;
};

class Flusher {
 public:
  static Flusher& instance();

  // `fd` has output waiting in `c`: send it whenever the socket can take more. False when it
  // cannot be watched (the process is out of descriptors for the flusher's epoll).
  bool watch(int fd, Backlogged* c);
  // Before `fd` is closed: once this returns the flusher no longer touches `c`.
  void forget(int fd);

 private:
  Flusher() = default;
  void loop();

  int epoll_fd_ = -1;  // made, and the thread started, by the first watch()
  std::mutex mu_;  // watched_, and held while a connection sends (so forget() waits for it)
  std::unordered_map<int, Backlogged*> watched_;
};

}  // namespace shoal::net

#endif  // SHOAL_NET_SRC_FLUSHER_H_
