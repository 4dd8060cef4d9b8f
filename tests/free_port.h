// A loopback TCP port nothing listens on (as far as anyone can know): for a worker that is
// not running yet, or one a test starts on a port it must know in advance.
#ifndef SHOAL_TESTS_FREE_PORT_H_
#define SHOAL_TESTS_FREE_PORT_H_

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

namespace shoal::testing {

inline uint16_t free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  socklen_t len = sizeof(sa);
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  close(fd);
  return ntohs(sa.sin_port);
}

}  // namespace shoal::testing

#endif  // SHOAL_TESTS_FREE_PORT_H_
