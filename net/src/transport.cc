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

Status check_listen_allowed(const std::string& address, const std::string& key) {
  if (!key.empty() || address.rfind("127.", 0) == 0 || address.rfind("localhost:", 0) == 0) return Status::ok();
  return Status(StatusCode::kInvalidArgument,
                "listening beyond this machine needs --key-file, so that only masters holding the same key are "
                "served (make one with: head -c 32 /dev/urandom | base64 > shoal.key)");
}

}  // namespace shoal::net
