// The master's side of one worker: dial, handshake (the worker's Hello says what it serves),
// send requests and heartbeats without ever blocking (net/connection.h), and a reader thread
// that hands every frame to the master until the connection ends, then says so once. A link
// that comes back must serve what it served.
#ifndef SHOAL_NET_WORKER_LINK_H_
#define SHOAL_NET_WORKER_LINK_H_

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "shoal/net/dialer.h"
#include "shoal/net/messages.h"

namespace shoal::net {

struct LinkOptions {
  int connect_timeout_ms = 2000;
  int handshake_timeout_ms = 1000;  // a peer that accepts and never answers Hello fails here
  Limits limits;
  std::string key;  // pre-shared key, the same as the worker's (empty: none)
  ConnectionLimits connection;
  uint32_t reply_top_k = 0;  // ask for only the k most probable classes in replies (0: all)
};

class WorkerLink {
 public:
  using OnFrame = std::function<void(const Frame& frame)>;
  using OnClosed = std::function<void()>;

  WorkerLink(std::string address, Dialer& dialer, LinkOptions options);
  ~WorkerLink();  // closes and joins the reader

  // Connects and shakes hands; on success the reader runs, calling on_frame for each frame
  // and on_closed once when the connection ends (not when close() ends it).
  // `handshake_timeout_ms` > 0 overrides the link's own, for a retry that should give up
  // soon (over UDP a Hello sent while the worker was down is simply lost).
  Status open(OnFrame on_frame, OnClosed on_closed, int handshake_timeout_ms = 0);
  bool up() const;
  // `subnet` is its index in info().subnets.
  Status send_request(uint64_t id, uint32_t subnet, double budget_ms, const uint8_t* image, size_t size);
  // A graph segment (net/messages.h): the reply is an InferResult whose `output` is the
  // tensor at cut segment.to (result_tensor), or its probabilities when segment.to is 0.
  Status send_segment(uint64_t id, uint32_t subnet, double budget_ms, const SegmentRequest& segment,
                      const uint8_t* image = nullptr, size_t size = 0);
  // A share of a channel partition (net/messages.h): the reply's `outputs` are its slices.
  Status send_share(uint64_t id, uint32_t subnet, double budget_ms, const ShareRequest& share);
  Status send_heartbeat(uint64_t id);
  // Ends the connection as if the worker had gone (on_closed follows): for a worker that
  // stopped answering while TCP still stands.
  void drop();
  void close();

  const std::string& address() const { return address_; }
  const WorkerInfo& info() const { return info_; }

 private:
  std::shared_ptr<Connection> current() const;  // null while down

  std::string address_;
  Dialer& dialer_;
  LinkOptions options_;
  WorkerInfo info_;
  mutable std::mutex mu_;  // connection_, closing_
  std::shared_ptr<Connection> connection_;
  bool closing_ = false;
  std::thread reader_;
};

}  // namespace shoal::net

#endif  // SHOAL_NET_WORKER_LINK_H_
