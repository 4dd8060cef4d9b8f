// A byte stream between two peers: TCP, or an in-memory pair for tests. Reads and writes
// block; shutdown() wakes a blocked reader, which then fails. Any number of threads may
// call shutdown(); one thread reads and one writes at a time.
#ifndef SHOAL_NET_CONNECTION_H_
#define SHOAL_NET_CONNECTION_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "shoal/status.h"

namespace shoal::net {

class Connection {
 public:
  virtual ~Connection() = default;
  virtual Status write_all(const void* data, size_t size) = 0;
  // kIo with "closed" when the peer has gone.
  virtual Status read_exact(void* data, size_t size) = 0;
  virtual void shutdown() = 0;
  virtual std::string peer() const = 0;

  // Frames on this connection carry an HMAC-SHA256 under this pre-shared key; empty: none.
  void set_key(std::string key) { key_ = std::move(key); }
  const std::string& key() const { return key_; }

 private:
  std::string key_;
};

// Two connected ends of an in-memory stream.
std::pair<std::unique_ptr<Connection>, std::unique_ptr<Connection>> loopback_pair();

// HOST:PORT -> host and port, with an error that shows the expected form.
Status parse_address(const std::string& address, std::string* host, uint16_t* port);

// TCP_NODELAY is set: frames are small and latency is what matters.
Result<std::unique_ptr<Connection>> tcp_connect(const std::string& address, int timeout_ms);

class TcpListener {
 public:
  // Port 0 picks a free port; port() says which.
  static Result<std::unique_ptr<TcpListener>> listen(const std::string& address);
  ~TcpListener();
  uint16_t port() const { return port_; }
  // Blocks until a peer connects or close() is called (then kIo).
  Result<std::unique_ptr<Connection>> accept();
  // Stops accepting; safe to call from another thread while accept() blocks.
  void close();

 private:
  TcpListener(int fd, uint16_t port) : fd_(fd), port_(port) {}
  const int fd_;
  uint16_t port_;
};

}  // namespace shoal::net

#endif  // SHOAL_NET_CONNECTION_H_
