// How a master reaches its workers: TCP, or an in-process network where servers register
// an address and dialling it hands them one end of a socketpair (tests, and the
// master's own engine).
#ifndef SHOAL_NET_DIALER_H_
#define SHOAL_NET_DIALER_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "shoal/net/connection.h"

namespace shoal::net {

class Dialer {
 public:
  virtual ~Dialer() = default;
  virtual Result<std::unique_ptr<Connection>> dial(const std::string& address, int timeout_ms) = 0;
};

class TcpDialer final : public Dialer {
 public:
  Result<std::unique_ptr<Connection>> dial(const std::string& address, int timeout_ms) override {
    return tcp_connect(address, timeout_ms);
  }
};
Dialer& tcp_dialer();

class MemoryNetwork final : public Dialer {
 public:
  using Accept = std::function<void(std::unique_ptr<Connection>)>;
  // `accept` gets the server's end of every connection dialled to `address`.
  void listen(const std::string& address, Accept accept);
  void close(const std::string& address);  // later dials fail as a refused connection would
  Result<std::unique_ptr<Connection>> dial(const std::string& address, int timeout_ms) override;

 private:
  std::mutex mu_;
  std::map<std::string, Accept> servers_;
};

}  // namespace shoal::net

#endif  // SHOAL_NET_DIALER_H_
