#include "shoal/net/transport.h"

#include "shoal/net/udp.h"

namespace shoal::net {

Result<Transport> parse_transport(const std::string& name) {
  if (name == "tcp") return Transport::kTcp;
  if (name == "udp") return Transport::kUdp;
  return Status(StatusCode::kInvalidArgument, "unknown transport '" + name + "': use tcp or udp");
}

const char* transport_name(Transport transport) { return transport == Transport::kUdp ? "udp" : "tcp"; }

Dialer& dialer_for(Transport transport) { return transport == Transport::kUdp ? udp_dialer() : tcp_dialer(); }

Result<std::unique_ptr<Listener>> listen_on(Transport transport, const std::string& address) {
  if (transport == Transport::kUdp) {
    auto l = UdpListener::listen(address);
    if (!l.is_ok()) return l.status();
    return std::unique_ptr<Listener>(std::move(l.value()));
  }
  auto l = TcpListener::listen(address);
  if (!l.is_ok()) return l.status();
  return std::unique_ptr<Listener>(std::move(l.value()));
}

}  // namespace shoal::net
