#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ipv4.h"
#include "stream_connection.h"

namespace shoal::net {
namespace {

Status os_error(const std::string& what) { return Status(StatusCode::kIo, what + ": " + std::strerror(errno)); }

}  // namespace

Status resolve_ipv4(const std::string& address, sockaddr_in* sa) {
  std::string host;
  uint16_t port = 0;
  SHOAL_RETURN_IF_ERROR(parse_address(address, &host, &port));
  std::memset(sa, 0, sizeof(*sa));
  sa->sin_family = AF_INET;
  sa->sin_port = htons(port);
  if (host == "localhost") host = "127.0.0.1";
  if (inet_pton(AF_INET, host.c_str(), &sa->sin_addr) != 1) {
    return Status(StatusCode::kInvalidArgument, "'" + host + "' is not an IPv4 address like 127.0.0.1");
  }
  return Status::ok();
}

std::string ipv4_name(const sockaddr_in& a) {
  char ip[INET_ADDRSTRLEN] = "?";
  inet_ntop(AF_INET, &a.sin_addr, ip, sizeof(ip));
  return std::string(ip) + ":" + std::to_string(ntohs(a.sin_port));
}

Status parse_address(const std::string& address, std::string* host, uint16_t* port) {
  const size_t colon = address.rfind(':');
  char* end = nullptr;
  const long p = colon == std::string::npos ? -1 : std::strtol(address.c_str() + colon + 1, &end, 10);
  if (colon == std::string::npos || colon == 0 || p < 0 || p > 65535 || *end != '\0' ||
      colon + 1 == address.size()) {
    return Status(StatusCode::kInvalidArgument, "'" + address + "' is not an address like 127.0.0.1:7000");
  }
  *host = address.substr(0, colon);
  *port = static_cast<uint16_t>(p);
  return Status::ok();
}

Result<std::unique_ptr<Connection>> tcp_connect(const std::string& address, int timeout_ms) {
  sockaddr_in sa;
  SHOAL_RETURN_IF_ERROR(resolve_ipv4(address, &sa));
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return os_error("socket");
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 && errno != EINPROGRESS) {
    const Status st = os_error("cannot connect to " + address);
    ::close(fd);
    return st;
  }
  pollfd pfd{fd, POLLOUT, 0};
  int err = 0;
  socklen_t len = sizeof(err);
  if (::poll(&pfd, 1, timeout_ms) != 1 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
    ::close(fd);
    return Status(StatusCode::kIo, "cannot connect to " + address + ": " +
                                       (err ? std::strerror(err) : "timed out") + " (is the worker running?)");
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return StreamConnection::adopt(fd, address);
}

Result<std::unique_ptr<TcpListener>> TcpListener::listen(const std::string& address) {
  sockaddr_in sa;
  SHOAL_RETURN_IF_ERROR(resolve_ipv4(address, &sa));
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return os_error("socket");
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 || ::listen(fd, 64) != 0) {
    const Status st = os_error("cannot listen on " + address);
    ::close(fd);
    return st;
  }
  socklen_t len = sizeof(sa);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  const bool loopback = (ntohl(sa.sin_addr.s_addr) >> 24) == 127;
  return std::unique_ptr<TcpListener>(new TcpListener(fd, ntohs(sa.sin_port), loopback));
}

TcpListener::~TcpListener() { ::close(fd_); }

// Wakes a blocked accept() without releasing the descriptor under it (another thread may
// be inside accept; closing would let the number be reused). The destructor releases it.
void TcpListener::close() { ::shutdown(fd_, SHUT_RDWR); }

Result<std::unique_ptr<Connection>> TcpListener::accept() {
  sockaddr_in peer;
  for (;;) {
    socklen_t len = sizeof(peer);
    const int fd = ::accept4(fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
    if (fd >= 0) {
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      return StreamConnection::adopt(fd, ipv4_name(peer));
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      // Out of descriptors or memory: the connection waits in the backlog until a peer leaves.
      pollfd pfd{fd_, 0, 0};
      ::poll(&pfd, 1, 50);
      if (pfd.revents & (POLLHUP | POLLERR | POLLNVAL)) return os_error("accept");
      continue;
    }
    return os_error("accept");
  }
}

}  // namespace shoal::net
