#include "shoal/net/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "ipv4.h"

namespace shoal::net {
namespace {

using Clock = std::chrono::steady_clock;

const char* reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 431: return "Request Header Fields Too Large";
    default: return "Error";
  }
}

std::string render(const HttpResponse& r) {
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + reason(r.status) + "\r\n";
  out += "Content-Type: " + r.content_type + "\r\n";
  out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  out += "Cache-Control: no-store\r\nConnection: close\r\n\r\n";
  return out + r.body;
}

HttpResponse plain(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body) + "\n";
  return r;
}

// Equal, in a time that does not depend on where they differ (only on the length).
bool same_secret(const std::string& given, const std::string& key) {
  if (given.size() != key.size() || key.empty()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < key.size(); ++i) diff |= static_cast<unsigned char>(given[i] ^ key[i]);
  return diff == 0;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The value of header `name` (lower case) in the head's lines ("" when absent).
std::string header(const std::string& head, const std::string& name) {
  size_t line = head.find("\r\n");
  while (line != std::string::npos && line + 2 < head.size()) {
    const size_t start = line + 2, end = head.find("\r\n", start);
    const std::string text = head.substr(start, end == std::string::npos ? std::string::npos : end - start);
    const size_t colon = text.find(':');
    if (colon != std::string::npos && colon == name.size()) {
      bool same = true;
      for (size_t i = 0; i < colon && same; ++i) same = std::tolower(static_cast<unsigned char>(text[i])) == name[i];
      if (same) {
        size_t v = colon + 1;
        while (v < text.size() && text[v] == ' ') ++v;
        return text.substr(v);
      }
    }
    line = end;
  }
  return "";
}

}  // namespace

std::string query_value(const std::string& query, const std::string& name) {
  size_t at = 0;
  while (at <= query.size()) {
    const size_t amp = query.find('&', at);
    const std::string pair = query.substr(at, amp == std::string::npos ? std::string::npos : amp - at);
    if (pair.compare(0, name.size() + 1, name + "=") == 0) {
      std::string out;
      for (size_t i = name.size() + 1; i < pair.size(); ++i) {
        if (pair[i] == '%' && i + 2 < pair.size() && hex_digit(pair[i + 1]) >= 0 && hex_digit(pair[i + 2]) >= 0) {
          out += static_cast<char>(hex_digit(pair[i + 1]) * 16 + hex_digit(pair[i + 2]));
          i += 2;
        } else {
          out += pair[i] == '+' ? ' ' : pair[i];
        }
      }
      return out;
    }
    if (amp == std::string::npos) break;
    at = amp + 1;
  }
  return "";
}

struct HttpServer::Impl {
  int listen_fd = -1, wake_fd = -1;
  uint16_t port = 0;
  std::string address, key;
  Handler handler;
  std::thread thread;

  struct Client {
    int fd = -1;
    std::string in, out;
    size_t sent = 0;
    Clock::time_point deadline;
  };
  std::vector<Client> clients;

  ~Impl() {
    if (thread.joinable()) {
      const uint64_t one = 1;
      (void)::write(wake_fd, &one, sizeof(one));
      thread.join();
    }
    for (Client& c : clients) ::close(c.fd);
    if (listen_fd >= 0) ::close(listen_fd);
    if (wake_fd >= 0) ::close(wake_fd);
  }

  HttpResponse respond(const std::string& head) const {
    const size_t line_end = head.find("\r\n");
    const std::string line = head.substr(0, line_end);
    const size_t sp1 = line.find(' '), sp2 = sp1 == std::string::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string::npos || line.compare(sp2 + 1, 5, "HTTP/") != 0) return plain(400, "not an HTTP request");
    HttpRequest req;
    req.method = line.substr(0, sp1);
    const std::string target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    const size_t q = target.find('?');
    req.path = target.substr(0, q);
    req.query = q == std::string::npos ? "" : target.substr(q + 1);
    if (req.method != "GET" && req.method != "HEAD") return plain(405, "only GET is served here");
    if (!key.empty()) {
      const std::string auth = header(head, "authorization");
      const std::string bearer = auth.compare(0, 7, "Bearer ") == 0 ? auth.substr(7) : "";
      if (!same_secret(bearer, key) && !same_secret(query_value(req.query, "key"), key)) {
        return plain(401, "this needs the cluster's key: 'Authorization: Bearer KEY', or ?key=KEY in a browser");
      }
    }
    HttpResponse r = handler(req);
    if (req.method == "HEAD") r.body.clear();
    return r;
  }

  void accept_all() {
    for (;;) {
      const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) return;  // EAGAIN: none left (or out of descriptors: they wait in the backlog)
      if (clients.size() >= kMaxClients) {
        ::close(fd);  // full: the newcomer goes; those already here are served
        continue;
      }
      clients.push_back({fd, {}, {}, 0, Clock::now() + std::chrono::milliseconds(kRequestTimeoutMs)});
    }
  }

  // Reads what came; false when the client is done with (closed, or an error).
  bool read_from(Client& c) {
    char buf[2048];
    for (;;) {
      const ssize_t n = ::recv(c.fd, buf, sizeof(buf), 0);
      if (n == 0) return false;
      if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
      c.in.append(buf, static_cast<size_t>(n));
      const size_t end = c.in.find("\r\n\r\n");
      if (end != std::string::npos && end + 4 <= kMaxRequestBytes) {
        c.out = render(respond(c.in.substr(0, end + 2)));
        return true;
      }
      if (c.in.size() > kMaxRequestBytes) {
        c.out = render(plain(431, "a request here is at most " + std::to_string(kMaxRequestBytes) + " bytes"));
        return true;
      }
    }
  }

  // Writes what it can; false once all is sent or the client is gone.
  static bool write_to(Client& c) {
    while (c.sent < c.out.size()) {
      const ssize_t n = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
      if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
      c.sent += static_cast<size_t>(n);
    }
    return false;
  }

  void loop() {
    std::vector<pollfd> fds;
    for (;;) {
      fds.clear();
      fds.push_back({wake_fd, POLLIN, 0});
      fds.push_back({listen_fd, POLLIN, 0});
      int wait_ms = -1;
      const Clock::time_point now = Clock::now();
      for (const Client& c : clients) {
        fds.push_back({c.fd, static_cast<short>(c.out.empty() ? POLLIN : POLLOUT), 0});
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(c.deadline - now).count() + 1;
        wait_ms = wait_ms < 0 ? static_cast<int>(std::max<int64_t>(0, left)) : std::min(wait_ms, static_cast<int>(std::max<int64_t>(0, left)));
      }
      if (::poll(fds.data(), fds.size(), wait_ms) < 0 && errno != EINTR) return;
      if (fds[0].revents) return;  // stopping
      // Clients first (the indices match fds from 2 on), then newcomers.
      std::vector<Client> kept;
      const Clock::time_point after = Clock::now();
      for (size_t i = 0; i < clients.size(); ++i) {
        Client& c = clients[i];
        const short ev = fds[i + 2].revents;
        bool keep = true;
        if (ev & (POLLERR | POLLNVAL)) {
          keep = false;
        } else if (c.out.empty() && (ev & (POLLIN | POLLHUP))) {
          keep = read_from(c) && (c.out.empty() || write_to(c));
        } else if (!c.out.empty() && (ev & POLLOUT)) {
          keep = write_to(c);
        }
        if (keep && after >= c.deadline) keep = false;  // too slow to ask, or to take the answer
        if (keep) {
          kept.push_back(std::move(c));
        } else {
          ::close(c.fd);
        }
      }
      clients = std::move(kept);
      if (fds[1].revents & POLLIN) accept_all();
    }
  }
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() = default;
uint16_t HttpServer::port() const { return impl_->port; }
const std::string& HttpServer::address() const { return impl_->address; }

Result<std::unique_ptr<HttpServer>> HttpServer::start(const std::string& address, const std::string& key, Handler handler) {
  sockaddr_in sa;
  SHOAL_RETURN_IF_ERROR(resolve_ipv4(address, &sa));
  if ((ntohl(sa.sin_addr.s_addr) >> 24) != 127 && key.empty()) {
    return Status(StatusCode::kInvalidArgument,
                  "serving health and metrics beyond this machine (" + address +
                      ") needs the cluster's key (--key-file), which every request must then carry; or use 127.0.0.1");
  }
  auto impl = std::make_unique<Impl>();
  impl->key = key;
  impl->handler = std::move(handler);
  impl->listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  impl->wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (impl->listen_fd < 0 || impl->wake_fd < 0) return Status(StatusCode::kIo, std::string("socket: ") + std::strerror(errno));
  const int one = 1;
  ::setsockopt(impl->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(impl->listen_fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 || ::listen(impl->listen_fd, 16) != 0) {
    return Status(StatusCode::kIo, "cannot serve HTTP on " + address + ": " + std::strerror(errno));
  }
  socklen_t len = sizeof(sa);
  ::getsockname(impl->listen_fd, reinterpret_cast<sockaddr*>(&sa), &len);
  impl->port = ntohs(sa.sin_port);
  impl->address = ipv4_name(sa);
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->loop(); });
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

}  // namespace shoal::net
