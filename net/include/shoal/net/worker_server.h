// A worker: serves inference requests for any subnet of one model to a bounded number of
// masters. Each peer first shakes hands (net/handshake.h, within a timeout, with nothing
// larger than a Hello taken before); then its frames are read as soon as they arrive (so a
// request's deadline counts from its arrival) and wait for one engine thread (a device
// computes one thing at a time). A request whose deadline passes while it waits is answered
// DeadlineExpired, not run.
//
// Nothing a peer sends can make the worker grow without bound or stop serving the others:
// at most `max_peers` connections (more are answered Busy and closed); requests at most the
// model's image size; at most `max_queued` requests waiting, shared fairly (when full, the
// peer with the most waiting loses its newest, or the newcomer is answered Busy); peers are
// served in turn; replies never block the engine (a peer that does not read them is dropped
// once `connection.max_queued_bytes` wait); a frame must finish within the frame timeout
// and a silent peer is dropped after the idle timeout. Malformed frames get an error reply;
// a peer whose stream cannot be trusted any more (bad header, MAC, sequence) is dropped.
#ifndef SHOAL_NET_WORKER_SERVER_H_
#define SHOAL_NET_WORKER_SERVER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "shoal/backend.h"
#include "shoal/model.h"
#include "shoal/net/connection.h"
#include "shoal/net/frame.h"
#include "shoal/net/messages.h"

namespace shoal::net {

// What happened to a peer, as it happened (WorkerOptions::on_event).
struct PeerEvent {
  enum class Kind : uint8_t { kServing, kLeft, kRefused };
  Kind kind = Kind::kServing;
  std::string peer;  // its address
  std::string why;   // kLeft and kRefused: what ended it (a wrong key, every slot taken, silence)
};
const char* peer_event_name(PeerEvent::Kind kind);  // "serving", "left", "refused"

struct WorkerOptions {
  std::string member;    // this member's name in Hello (default: the model's name)
  // The subnets it serves and lists in Hello, by name or width (empty: every one). A Fluid
  // device serves its own sub-network: lower50 on one, upper50 on another.
  std::vector<std::string> subnets;
  double slowdown = 1.0; // compute time is stretched by this factor, to emulate a slower device
  Limits limits;         // its payload cap is lowered to what the model's requests need
  std::string key;       // pre-shared key: every frame must carry its MAC (empty: none)
  const Backend* backend = nullptr;  // null: shoal's fastest CPU kernels here
  unsigned threads = 1;                  // the engine's threads per request
  uint32_t max_peers = 32;
  uint32_t max_queued = 64;              // requests waiting for the engine, all peers together
  int handshake_timeout_ms = 2000;
  int idle_timeout_ms = 60000;           // a peer silent this long is dropped (masters heartbeat)
  ConnectionLimits connection;
  // Called on the peer's thread as a master proves the key and is served, leaves, or is
  // refused (a failed handshake: a wrong key, a replay, silence; every slot taken). Not under
  // the server's lock; it may not call the server.
  std::function<void(const PeerEvent&)> on_event;
};

struct WorkerCounters {
  std::atomic<uint64_t> served{0}, expired{0}, malformed{0}, rejected{0}, busy{0}, connections{0},
      peers_refused{0}, peers_dropped{0};
  // Connections that had not yet proven the key, closed to make room for newer ones.
  std::atomic<uint64_t> peers_displaced{0};
};

// A worker as it is now (WorkerServer::status): what /status and /metrics show.
struct WorkerStatus {
  WorkerInfo info;         // what its Hello says: member, model, subnets
  double uptime_s = 0;
  uint32_t peers = 0;      // masters that proved the key, served now
  uint32_t proving = 0;    // connections still in their handshake
  uint32_t queued = 0;     // requests waiting for the engine, all masters'
  ResourceReport report;   // load, memory, temperature, clock, as heartbeats send it
  std::vector<double> took_ms;  // per subnet it serves: its smoothed time (-1: not run yet)
  uint64_t served = 0, expired = 0, malformed = 0, rejected = 0, busy = 0, connections = 0, peers_refused = 0,
           peers_dropped = 0, peers_displaced = 0;
};

class WorkerServer {
 public:
  // `model` must outlive the server.
  static Result<std::unique_ptr<WorkerServer>> create(const Model& model, const WorkerOptions& options);
  ~WorkerServer();

  // Serves one peer on a thread of its own until it disconnects or stop() is called; past
  // max_peers it is answered Busy and closed at once.
  void serve(std::unique_ptr<Connection> connection);
  // Accepts peers until stop() (or the listener fails): TCP or UDP. Refuses at once
  // (kInvalidArgument) a listener beyond loopback when the server has no key: without one it
  // would serve anyone who reaches it.
  Status run(Listener& listener);
  // That rule alone, for a caller that runs the server on a thread of its own.
  Status may_serve_on(const Listener& listener) const;
  void stop();
  const WorkerCounters& counters() const;
  WorkerStatus status() const;

 private:
  struct Impl;
  explicit WorkerServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shoal::net

#endif  // SHOAL_NET_WORKER_SERVER_H_
