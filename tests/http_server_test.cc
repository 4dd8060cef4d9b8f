// The health and metrics server over real sockets: routes, bad requests, the key beyond
// loopback, and clients that never finish or come too many keep nobody else from an answer.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "shoal/net/http_server.h"
#include "shoal/net/monitor.h"
#include "http_get.h"

namespace shoal::net {
namespace {

using testing::http_body;
using testing::http_dial;
using testing::http_get;
using testing::http_round_trip;
using testing::http_status;

std::unique_ptr<HttpServer> serve(const std::string& address = "127.0.0.1:0", const std::string& key = "") {
  auto s = HttpServer::start(address, key, monitor_handler([] { return std::string("m 1\n"); },
                                                          [] { return std::string("{\"role\":\"test\"}"); }));
  EXPECT_TRUE(s.is_ok()) << s.status().to_string();
  return s.is_ok() ? std::move(s.value()) : nullptr;
}

TEST(HttpServer, RoutesTheMonitorsPages) {
  auto server = serve();
  ASSERT_TRUE(server);
  const std::string metrics = http_get(server->port(), "/metrics");
  EXPECT_EQ(http_status(metrics), 200);
  EXPECT_NE(metrics.find("text/plain; version=0.0.4"), std::string::npos);
  EXPECT_EQ(http_body(metrics), "m 1\n");
  const std::string status = http_get(server->port(), "/status");
  EXPECT_NE(status.find("application/json"), std::string::npos);
  EXPECT_EQ(http_body(status), "{\"role\":\"test\"}");
  EXPECT_EQ(http_body(http_get(server->port(), "/health")), "ok\n");
  const std::string page = http_get(server->port(), "/");
  EXPECT_EQ(http_status(page), 200);
  EXPECT_NE(page.find("<!doctype html>"), std::string::npos);
  EXPECT_EQ(page.find("src=\"http"), std::string::npos) << "nothing from outside";
  EXPECT_EQ(http_status(http_get(server->port(), "/nothing")), 404);
  EXPECT_EQ(http_status(http_round_trip(server->port(), "POST /metrics HTTP/1.1\r\n\r\n")), 405);
  EXPECT_EQ(http_status(http_round_trip(server->port(), "hello\r\n\r\n")), 400);
  EXPECT_EQ(http_status(http_round_trip(server->port(), "GET /" + std::string(20000, 'a') + " HTTP/1.1\r\n\r\n")), 431);
  const std::string head = http_round_trip(server->port(), "HEAD /metrics HTTP/1.1\r\n\r\n");
  EXPECT_EQ(http_status(head), 200);
  EXPECT_EQ(http_body(head), "");
}

TEST(HttpServer, BeyondLoopbackOnlyWithTheKeyAndEveryRequestCarriesIt) {
  auto refused = HttpServer::start("0.0.0.0:0", "", monitor_handler([] { return std::string(); }, [] { return std::string(); }));
  ASSERT_FALSE(refused.is_ok());
  EXPECT_NE(refused.status().message().find("key"), std::string::npos);
  const std::string key = "s3cret+key/with=signs";
  auto server = serve("0.0.0.0:0", key);
  ASSERT_TRUE(server);
  EXPECT_EQ(http_status(http_get(server->port(), "/metrics")), 401);
  EXPECT_EQ(http_status(http_get(server->port(), "/metrics", "Authorization: Bearer wrong\r\n")), 401);
  EXPECT_EQ(http_status(http_get(server->port(), "/metrics", "authorization: Bearer " + key + "\r\n")), 200);
  EXPECT_EQ(http_status(http_get(server->port(), "/status?key=s3cret%2Bkey%2Fwith%3Dsigns")), 200);
  EXPECT_EQ(http_status(http_get(server->port(), "/status?key=s3cret")), 401);
}

TEST(HttpServer, SilentAndSurplusClientsKeepNobodyElseFromAnAnswer) {
  auto server = serve();
  ASSERT_TRUE(server);
  // Every slot held by a client that sends half a request and then nothing...
  std::vector<int> silent;
  for (size_t i = 0; i < HttpServer::kMaxClients + 4; ++i) {
    silent.push_back(http_dial(server->port()));
    (void)send(silent.back(), "GET /metr", 9, MSG_NOSIGNAL);
  }
  // ...is given up within the request timeout, after which an honest client is answered.
  const auto start = std::chrono::steady_clock::now();
  std::string answered;
  while (http_status(answered) != 200 && std::chrono::steady_clock::now() - start < std::chrono::seconds(10)) {
    answered = http_get(server->port(), "/health");
  }
  const double waited_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(http_status(answered), 200);
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
