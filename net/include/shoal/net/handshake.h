// The handshake that opens every connection, and its session key.
//
// The dialling side sends Hello with 16 fresh random bytes (its nonce); the listening side
// answers with its own Hello, its own nonce and the dialler's echoed; each refuses anything
// else first. Both Hellos are MACed under the pre-shared key, if there is one; from then on
// frames are MACed under the session key HMAC(key, "shoal session" || dialler's nonce ||
// listener's nonce), new for every connection. So a recorded Hello answered again gets a
// new session (the recorded requests after it fail their MAC), and a recorded answer fails
// the echo. Sequences (net/frame.h) refuse replays within a connection.
#ifndef SHOAL_NET_HANDSHAKE_H_
#define SHOAL_NET_HANDSHAKE_H_

#include "shoal/net/dialer.h"
#include "shoal/net/messages.h"

namespace shoal::net {

inline constexpr size_t kNonceBytes = 16;
// What may come before the handshake is done: a Hello is a few hundred bytes.
inline constexpr uint32_t kMaxHelloBytes = 64u << 10;

// Dialling side: `mine` says who we are (its nonces are filled here). Gives the peer's
// Hello; kTimeout when no answer comes within `timeout_ms`.
Result<WorkerInfo> dial_handshake(Connection& connection, WorkerInfo mine, int timeout_ms);
// Listening side: reads the dialler's Hello (within `timeout_ms`) and answers with `mine`.
// Gives the dialler's Hello. On failure the caller drops the connection (an Error frame
// saying why has been sent where that helps the peer).
// A worker dialled, keyed (an empty key: none) and past the handshake, for a tool that talks to
// it directly (shoal split, shoal partition). Errors name the address.
struct DialedWorker {
  std::unique_ptr<Connection> connection;
  WorkerInfo info;
};
Result<DialedWorker> dial_worker(Dialer& dialer, const std::string& address, const std::string& key,
                                 const std::string& software, int timeout_ms = 2000);

Result<WorkerInfo> accept_handshake(Connection& connection, WorkerInfo mine, int timeout_ms);

// 16 bytes from the system's random source.
std::string fresh_nonce();

}  // namespace shoal::net

#endif  // SHOAL_NET_HANDSHAKE_H_
