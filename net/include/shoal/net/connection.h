// How two peers exchange frames: over a stream socket (TCP, or one end of a socketpair: the
// in-process network of tests and of the master's own engine), or over UDP (net/udp.h).
//
// Writing never blocks: what the socket does not take at once is queued, and the queue is
// capped: a peer that stops reading cannot make this side wait or grow; when the cap would
// be passed the connection fails (kBusy) and is shut down. One thread reads; any thread may
// write (writes are serialised inside) and any thread may call shutdown(), which wakes the
// reader.
#ifndef SHOAL_NET_CONNECTION_H_
#define SHOAL_NET_CONNECTION_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "shoal/status.h"

namespace shoal::net {

// What a connection holds per direction for frames (net/frame.h): the MAC key (the
// pre-shared key until the handshake replaces it with the session's) and the sequence numbers
// that make a replayed or reordered frame fail.
struct FrameSecurity {
  std::string key;  // empty: frames carry no MAC
  uint64_t next_send = 0, next_receive = 0;
  uint64_t seen = 0;  // datagrams: which of the 64 sequences below next_receive have come
};

struct ConnectionLimits {
  size_t max_queued_bytes = 4u << 20;  // output waiting for a slow reader
  // The largest frame (header, payload and MAC) the reader will take (0: the transport's own
  // limit). A datagram connection reassembles nothing larger: a peer cannot make it hold
  // more than the reader would accept.
  size_t max_frame_bytes = 0;
};

// One peer's frames travel over a Connection: a byte stream (TCP, socketpairs), or datagrams
// (UDP, net/udp.h), where every frame is one message and a bad one is dropped alone.
class Connection {
 public:
  virtual ~Connection() = default;
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends or queues all of it; kBusy (and the connection is shut down) past the queue's cap,
  // kIo once the peer has gone.
  virtual Status write_all(const void* data, size_t size) = 0;
  // kIo "closed" when the peer has gone or shutdown() was called; kTimeout when `timeout_ms`
  // (>= 0) passes first, with the bytes read so far lost (the stream is out of step then).
  virtual Status read_exact(void* data, size_t size, int timeout_ms = -1) = 0;
  // Whatever has arrived, 1 to `size` bytes, waiting up to `timeout_ms` (-1: no limit) for
  // the first; kTimeout when none came, kIo "closed" as above.
  virtual Result<size_t> read_some(void* data, size_t size, int timeout_ms = -1) = 0;
  // Waits up to `timeout_ms` for the queued output to leave; kTimeout if it does not.
  virtual Status flush(int timeout_ms) = 0;
  virtual void shutdown() = 0;
  virtual void set_limits(const ConnectionLimits& limits) = 0;
  // Whether it was shut down because the peer did not read (write_all's kBusy).
  virtual bool overflowed() const = 0;
  // Bytes held for frames not yet whole (a datagram connection's reassembly; any thread).
  virtual size_t partial_bytes() const { return 0; }

  // True only when certainly nothing unread has arrived (a stream looks at its buffer and
  // its socket, without waiting); false when something has, or when it cannot tell. A
  // caller about to wait for a reply learns whether the wait will time its arrival.
  virtual bool nothing_arrived() { return false; }

  // Datagram transports: read_frame() starts every frame with next_message(), which drops
  // what is left of the last message and waits for the next; read_exact() then reads within
  // it. A frame that fails its checks costs only its message, not the connection.
  virtual bool datagrams() const { return false; }
  virtual Status next_message(int timeout_ms) { return Status::ok(); }
  // When the frame just read arrived, as the kernel stamped it: `at` is a default time point
  // when the transport cannot tell (AF_UNIX streams). Exact for a datagram, and for a stream
  // frame that ended what one receive returned; a stream frame read together with later bytes
  // gets the stamp of the last of them (`exact` false), which may be later than it came, and
  // `earliest`, before which it cannot have come: it was not in the receive before this one,
  // so it came after that receive's last stamp and after that receive was called.
  struct Arrival {
    std::chrono::steady_clock::time_point at;
    bool exact = true;
    std::chrono::steady_clock::time_point earliest;  // == at when exact
  };
  virtual Arrival arrival() const { return {}; }

  const std::string& peer() const { return peer_; }
  // Frame state, owned by net/frame.cc: read under the reading thread, written under
  // write_lock() (which write_frame() holds around encoding and write_all()).
  FrameSecurity& security() { return security_; }
  std::unique_lock<std::mutex> write_lock() { return std::unique_lock<std::mutex>(frame_write_mu_); }
  // Before the handshake: the pre-shared key. (The session key replaces it; net/handshake.h.)
  void set_key(std::string key) { security_.key = std::move(key); }
  const std::string& key() const { return security_.key; }

 protected:
  explicit Connection(std::string peer) : peer_(std::move(peer)) {}

 private:
  std::string peer_;
  std::mutex frame_write_mu_;
  FrameSecurity security_;
};

// Two connected ends of a socketpair.
std::pair<std::unique_ptr<Connection>, std::unique_ptr<Connection>> loopback_pair();

// HOST:PORT -> host and port, with an error that shows the expected form.
Status parse_address(const std::string& address, std::string* host, uint16_t* port);

// TCP_NODELAY is set: frames are small and latency is what matters.
Result<std::unique_ptr<Connection>> tcp_connect(const std::string& address, int timeout_ms);

// Where a worker takes new peers from: TCP or UDP (net/udp.h).
class Listener {
 public:
  virtual ~Listener() = default;
  virtual uint16_t port() const = 0;
  // Whether it is bound to a loopback address (127.0.0.0/8), so only this machine reaches it.
  virtual bool loopback() const = 0;
  // Blocks until a peer connects or close() is called (then kIo).
  virtual Result<std::unique_ptr<Connection>> accept() = 0;
  // Stops accepting; safe to call from another thread while accept() blocks.
  virtual void close() = 0;
};

class TcpListener final : public Listener {
 public:
  // Port 0 picks a free port; port() says which.
  static Result<std::unique_ptr<TcpListener>> listen(const std::string& address);
  ~TcpListener() override;
  uint16_t port() const override { return port_; }
  bool loopback() const override { return loopback_; }
  // Descriptors running out (EMFILE) is waited out, not returned: a worker at its limit
  // serves on.
  Result<std::unique_ptr<Connection>> accept() override;
  void close() override;

 private:
  TcpListener(int fd, uint16_t port, bool loopback) : fd_(fd), port_(port), loopback_(loopback) {}
  const int fd_;
  uint16_t port_;
  bool loopback_;
};

}  // namespace shoal::net

#endif  // SHOAL_NET_CONNECTION_H_
