// Helpers for tests that talk to a WorkerServer over the in-process transport.
#ifndef SHOAL_TESTS_NET_TEST_UTIL_H_
#define SHOAL_TESTS_NET_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "shoal/net/handshake.h"
#include "shoal/net/worker_server.h"

namespace shoal::testing {
using namespace shoal::net;

// One end of a new connection served by `server`, not yet past the handshake.
inline std::unique_ptr<Connection> raw_connection(WorkerServer& server, const std::string& key = "") {
  auto [client, worker] = loopback_pair();
  server.serve(std::move(worker));
  client->set_key(key);
  return std::move(client);
}

// As a master would connect: past the handshake, frames under the session key.
inline std::unique_ptr<Connection> shake_hands(WorkerServer& server, const std::string& key = "") {
  auto c = raw_connection(server, key);
  const Result<WorkerInfo> info = dial_handshake(*c, WorkerInfo{}, 2000);
  EXPECT_TRUE(info.is_ok()) << info.status().to_string();
  return c;
}

// The bytes `like` would send next for this request (its key and sequence), without sending.
inline std::vector<uint8_t> request_bytes(Connection& like, uint64_t id, const std::string& subnet,
                                          const std::vector<uint8_t>& image) {
  auto [a, b] = loopback_pair();
  a->security() = like.security();
  EXPECT_TRUE(send_infer_request(*a, id, subnet, 1'000'000, image.data(), image.size()).is_ok());
  std::vector<uint8_t> bytes(kHeaderBytes);
  EXPECT_TRUE(b->read_exact(bytes.data(), kHeaderBytes, 1000).is_ok());
  const uint32_t payload = decode_header(bytes.data(), Limits{}).value().payload_bytes;
  bytes.resize(kHeaderBytes + payload + (like.key().empty() ? 0 : kMacBytes));
  EXPECT_TRUE(b->read_exact(bytes.data() + kHeaderBytes, bytes.size() - kHeaderBytes, 1000).is_ok());
  return bytes;
}

}  // namespace shoal::testing

#endif  // SHOAL_TESTS_NET_TEST_UTIL_H_
