// The health and metrics server over real sockets: routes, bad requests, the key beyond
// loopback, and clients that never finish or come too many keep nobody else from an answer.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "shoal/net/http_server.h"
#include "shoal/net/monitor.h"

namespace shoal::net {
namespace {

int dial(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

// Sends `request` as it is and reads the whole response (the server closes after it).
std::string round_trip(uint16_t port, const std::string& request) {
  const int fd = dial(port);
  EXPECT_EQ(send(fd, request.data(), request.size(), MSG_NOSIGNAL), static_cast<ssize_t>(request.size()));
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = recv(fd, buf, sizeof(buf), 0)) > 0;) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

std::string get(uint16_t port, const std::string& target, const std::string& headers = "") {
  return round_trip(port, "GET " + target + " HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n");
}

int status_of(const std::string& response) { return response.size() > 12 ? std::stoi(response.substr(9, 3)) : -1; }
std::string body_of(const std::string& response) {
  const size_t at = response.find("\r\n\r\n");
  return at == std::string::npos ? "" : response.substr(at + 4);
}

std::unique_ptr<HttpServer> serve(const std::string& address = "127.0.0.1:0", const std::string& key = "") {
  auto s = HttpServer::start(address, key, monitor_handler([] { return std::string("m 1\n"); },
                                                          [] { return std::string("{\"role\":\"test\"}"); }));
  EXPECT_TRUE(s.is_ok()) << s.status().to_string();
  return s.is_ok() ? std::move(s.value()) : nullptr;
}

TEST(HttpServer, RoutesTheMonitorsPages) {
  auto server = serve();
  ASSERT_TRUE(server);
  const std::string metrics = get(server->port(), "/metrics");
  EXPECT_EQ(status_of(metrics), 200);
  EXPECT_NE(metrics.find("text/plain; version=0.0.4"), std::string::npos);
  EXPECT_EQ(body_of(metrics), "m 1\n");
  const std::string status = get(server->port(), "/status");
  EXPECT_NE(status.find("application/json"), std::string::npos);
  EXPECT_EQ(body_of(status), "{\"role\":\"test\"}");
  EXPECT_EQ(body_of(get(server->port(), "/health")), "ok\n");
  const std::string page = get(server->port(), "/");
  EXPECT_EQ(status_of(page), 200);
  EXPECT_NE(page.find("<!doctype html>"), std::string::npos);
  EXPECT_EQ(page.find("src=\"http"), std::string::npos) << "nothing from outside";
  EXPECT_EQ(status_of(get(server->port(), "/nothing")), 404);
  EXPECT_EQ(status_of(round_trip(server->port(), "POST /metrics HTTP/1.1\r\n\r\n")), 405);
  EXPECT_EQ(status_of(round_trip(server->port(), "hello\r\n\r\n")), 400);
  EXPECT_EQ(status_of(round_trip(server->port(), "GET /" + std::string(20000, 'a') + " HTTP/1.1\r\n\r\n")), 431);
  const std::string head = round_trip(server->port(), "HEAD /metrics HTTP/1.1\r\n\r\n");
  EXPECT_EQ(status_of(head), 200);
  EXPECT_EQ(body_of(head), "");
}

TEST(HttpServer, BeyondLoopbackOnlyWithTheKeyAndEveryRequestCarriesIt) {
  auto refused = HttpServer::start("0.0.0.0:0", "", monitor_handler([] { return std::string(); }, [] { return std::string(); }));
  ASSERT_FALSE(refused.is_ok());
  EXPECT_NE(refused.status().message().find("key"), std::string::npos);
  const std::string key = "s3cret+key/with=signs";
  auto server = serve("0.0.0.0:0", key);
  ASSERT_TRUE(server);
  EXPECT_EQ(status_of(get(server->port(), "/metrics")), 401);
  EXPECT_EQ(status_of(get(server->port(), "/metrics", "Authorization: Bearer wrong\r\n")), 401);
  EXPECT_EQ(status_of(get(server->port(), "/metrics", "authorization: Bearer " + key + "\r\n")), 200);
  EXPECT_EQ(status_of(get(server->port(), "/status?key=s3cret%2Bkey%2Fwith%3Dsigns")), 200);
  EXPECT_EQ(status_of(get(server->port(), "/status?key=s3cret")), 401);
}

TEST(HttpServer, SilentAndSurplusClientsKeepNobodyElseFromAnAnswer) {
  auto server = serve();
  ASSERT_TRUE(server);
  // Every slot held by a client that sends half a request and then nothing...
  std::vector<int> silent;
  for (size_t i = 0; i < HttpServer::kMaxClients + 4; ++i) {
    silent.push_back(dial(server->port()));
    (void)send(silent.back(), "GET /metr", 9, MSG_NOSIGNAL);
  }
  // ...is given up within the request timeout, after which an honest client is answered.
  const auto start = std::chrono::steady_clock::now();
  std::string answered;
  while (status_of(answered) != 200 && std::chrono::steady_clock::now() - start < std::chrono::seconds(10)) {
    answered = get(server->port(), "/health");
  }
  const double waited_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(status_of(answered), 200);
  EXPECT_LT(waited_ms, HttpServer::kRequestTimeoutMs + 1500.0);
  for (int fd : silent) {  // each was closed by the server (reset where it had unread bytes), not left open
    char c;
    EXPECT_LE(recv(fd, &c, 1, 0), 0);
    close(fd);
  }
}

TEST(HttpServer, QueryValuesArePercentDecoded) {
  EXPECT_EQ(query_value("a=1&key=x%2By%3D&b=2", "key"), "x+y=");
  EXPECT_EQ(query_value("keys=1", "key"), "");
  EXPECT_EQ(query_value("", "key"), "");
  EXPECT_EQ(query_value("key=%zz%4", "key"), "%zz%4");
}

}  // namespace
}  // namespace shoal::net
