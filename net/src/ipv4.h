// HOST:PORT (IPv4, or localhost) as a socket address: for the TCP and UDP transports.
#ifndef SHOAL_NET_SRC_IPV4_H_
#define SHOAL_NET_SRC_IPV4_H_

#include <netinet/in.h>

#include <string>

#include "shoal/status.h"

namespace shoal::net {

Status resolve_ipv4(const std::string& address, sockaddr_in* out);
std::string ipv4_name(const sockaddr_in& address);  // "1.2.3.4:5678"

}  // namespace shoal::net

#endif  // SHOAL_NET_SRC_IPV4_H_
