#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "shoal/net/connection.h"

namespace shoal::net {
namespace {

Status os_error(const std::string& what) { return Status(StatusCode::kIo, what + ": " + std::strerror(errno)); }

class TcpConnection final : public Connection {
 public:
  TcpConnection(int fd, std::string peer) : fd_(fd), peer_(std::move(peer)) {}
  ~TcpConnection() override { ::close(fd_); }

  Status write_all(const void* data, size_t size) override {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      const ssize_t n = ::send(fd_, p, size, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return os_error("connection to " + peer_ + " closed");
      p += n;
      size -= static_cast<size_t>(n);
    }
    return Status::ok();
  }

  // Buffered: a small frame (header and payload) usually costs one recv.
  Status read_exact(void* data, size_t size) override {
    char* p = static_cast<char*>(data);
    while (size > 0) {
      if (begin_ == end_) {
        const ssize_t n = ::recv(fd_, buffer_, sizeof(buffer_), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n == 0) return Status(StatusCode::kIo, "connection to " + peer_ + " closed");
        if (n < 0) return os_error("connection to " + peer_ + " closed");
        begin_ = 0;
        end_ = static_cast<size_t>(n);
      }
      const size_t take = std::min(size, end_ - begin_);
      std::memcpy(p, buffer_ + begin_, take);
      begin_ += take;
      p += take;
      size -= take;
    }
    return Status::ok();
  }

  void shutdown() override { ::shutdown(fd_, SHUT_RDWR); }
  std::string peer() const override { return peer_; }

 private:
  int fd_;
  std::string peer_;
  char buffer_[16384];
  size_t begin_ = 0, end_ = 0;
};

Status resolve(const std::string& address, sockaddr_in* sa) {
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

}  // namespace

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
  SHOAL_RETURN_IF_ERROR(resolve(address, &sa));
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
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return std::unique_ptr<Connection>(new TcpConnection(fd, address));
}

Result<std::unique_ptr<TcpListener>> TcpListener::listen(const std::string& address) {
  sockaddr_in sa;
  SHOAL_RETURN_IF_ERROR(resolve(address, &sa));
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
  return std::unique_ptr<TcpListener>(new TcpListener(fd, ntohs(sa.sin_port)));
}

TcpListener::~TcpListener() { ::close(fd_); }

// Wakes a blocked accept() without releasing the descriptor under it (another thread may
// be inside accept; closing would let the number be reused). The destructor releases it.
void TcpListener::close() { ::shutdown(fd_, SHUT_RDWR); }

Result<std::unique_ptr<Connection>> TcpListener::accept() {
  sockaddr_in peer;
  socklen_t len = sizeof(peer);
  int fd;
  do {
    fd = ::accept4(fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
  } while (fd < 0 && (errno == EINTR || errno == ECONNABORTED));
  if (fd < 0) return os_error("accept");
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  char ip[INET_ADDRSTRLEN] = "?";
  inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof(ip));
  return std::unique_ptr<Connection>(new TcpConnection(fd, std::string(ip) + ":" + std::to_string(ntohs(peer.sin_port))));
}

}  // namespace shoal::net
