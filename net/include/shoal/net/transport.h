// Choosing a transport by name, for the command line and the cluster file: "tcp" (streams:
// ordered, retransmitted) or "udp" (datagrams: nothing waits behind a lost one; net/udp.h).
#ifndef SHOAL_NET_TRANSPORT_H_
#define SHOAL_NET_TRANSPORT_H_

#include <memory>
#include <string>

#include "shoal/net/connection.h"
#include "shoal/net/dialer.h"

namespace shoal::net {

enum class Transport { kTcp, kUdp };

Result<Transport> parse_transport(const std::string& name);
const char* transport_name(Transport transport);
Dialer& dialer_for(Transport transport);
Result<std::unique_ptr<Listener>> listen_on(Transport transport, const std::string& address);

}  // namespace shoal::net

#endif  // SHOAL_NET_TRANSPORT_H_
