// Links the network library: parses a transport name and a cluster file's mistake.
#include <cstdio>

#include "shoal/net/transport.h"

int main() {
  auto udp = shoal::net::parse_transport("udp");
  auto bad = shoal::net::parse_transport("carrier-pigeon");
  std::printf("udp: %s; carrier-pigeon: %s\n", udp.is_ok() ? "ok" : "refused", bad.status().to_string().c_str());
  return udp.is_ok() && !bad.is_ok() ? 0 : 1;
}
