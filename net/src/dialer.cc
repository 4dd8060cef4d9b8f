#include "shoal/net/dialer.h"

namespace shoal::net {

Dialer& tcp_dialer() {
  static TcpDialer dialer;
  return dialer;
}

void MemoryNetwork::listen(const std::string& address, Accept accept) {
  std::lock_guard<std::mutex> lock(mu_);
  servers_[address] = std::move(accept);
}

void MemoryNetwork::close(const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  servers_.erase(address);
}

Result<std::unique_ptr<Connection>> MemoryNetwork::dial(const std::string& address, int) {
  Accept accept;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const auto it = servers_.find(address);
    if (it == servers_.end()) return Status(StatusCode::kIo, "cannot connect to " + address + ": nothing listens there");
    accept = it->second;
  }
  auto [client, server] = loopback_pair();
  if (!client) return Status(StatusCode::kIo, "cannot connect to " + address + ": no socketpair (out of descriptors?)");
  accept(std::move(server));
  return std::move(client);
}

}  // namespace shoal::net
