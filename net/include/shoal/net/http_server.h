// A small HTTP/1.1 server for a master's or a worker's health and metrics (net/monitor.h):
// GET only, one response per connection (Connection: close), on a thread of its own.
// Bounded whatever a client does: at most kMaxClients connections at once (more are closed
// at once), a request of at most 8 KiB that must arrive whole within 2 s, responses written
// without ever blocking the thread. Loopback by default; an address beyond loopback only
// with a key, which every request must then carry (`Authorization: Bearer KEY`, or `?key=KEY`
// for a browser), like a worker's rule for masters.
#ifndef SHOAL_NET_HTTP_SERVER_H_
#define SHOAL_NET_HTTP_SERVER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "shoal/status.h"

namespace shoal::net {

struct HttpRequest {
  std::string method, path, query;  // "/status", "key=..." (still percent-encoded)
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// The value of `name` in a query string, percent-decoded ("" when absent).
std::string query_value(const std::string& query, const std::string& name);

class HttpServer {
 public:
  static constexpr size_t kMaxClients = 16;
  static constexpr size_t kMaxRequestBytes = 8192;
  static constexpr int kRequestTimeoutMs = 2000;
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  // Listens on HOST:PORT (PORT 0 picks one) and serves until destroyed. The handler runs on
  // the server's thread, one request at a time.
  static Result<std::unique_ptr<HttpServer>> start(const std::string& address, const std::string& key, Handler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  uint16_t port() const;
  const std::string& address() const;  // HOST:PORT as bound

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shoal::net

#endif  // SHOAL_NET_HTTP_SERVER_H_
