#include "shoal/net/handshake.h"

#include <fcntl.h>
#include <unistd.h>

#include <random>

#include "shoal/net/hmac.h"

namespace shoal::net {
namespace {

// The session's MAC key, in place of the pre-shared one (none stays none).
void start_session(Connection& c, const std::string& dialler_nonce, const std::string& listener_nonce) {
  auto lock = c.write_lock();
  FrameSecurity& s = c.security();
  if (s.key.empty()) return;
  const std::string label = "shoal session" + dialler_nonce;
  const Digest d = hmac_sha256(s.key, label.data(), label.size(), listener_nonce.data(), listener_nonce.size());
  s.key.assign(reinterpret_cast<const char*>(d.data()), d.size());
}

Status refuse(Connection& c, wire::ErrorCode code, Status why) {
  (void)send_error(c, 0, code, why.message());
  (void)c.flush(100);
  return why;
}

}  // namespace

std::string fresh_nonce() {
  std::string nonce(kNonceBytes, '\0');
  const int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd >= 0 && ::read(fd, nonce.data(), nonce.size()) == static_cast<ssize_t>(nonce.size())) {
    ::close(fd);
    return nonce;
  }
  if (fd >= 0) ::close(fd);
  std::random_device rd;  // no /dev/urandom (a sandbox): the library's source
  for (char& c : nonce) c = static_cast<char>(rd());
  return nonce;
}

Result<DialedWorker> dial_worker(Dialer& dialer, const std::string& address, const std::string& key,
                                 const std::string& software, int timeout_ms) {
  auto connection = dialer.dial(address, timeout_ms);
  if (!connection.is_ok()) return Status(connection.status().code(), "cannot reach " + address + ": " + connection.status().message());
  connection.value()->set_key(key);
  WorkerInfo hello;
  hello.software = software;
  auto info = dial_handshake(*connection.value(), hello, timeout_ms);
  if (!info.is_ok()) return Status(info.status().code(), address + ": " + info.status().message());
  return DialedWorker{std::move(connection.value()), std::move(info.value())};
}

Result<WorkerInfo> dial_handshake(Connection& c, WorkerInfo mine, int timeout_ms) {
  mine.nonce = fresh_nonce();
  mine.peer_nonce.clear();
  const Status sent = send_hello(c, mine);
  Limits limits;
  limits.max_payload_bytes = kMaxHelloBytes;
  limits.frame_timeout_ms = timeout_ms;
  Frame frame;
  // A peer that turns us away (Busy) may answer and close before our Hello is out: read
  // what it said either way.
  const Status st = read_frame(c, limits, &frame, sent.is_ok() ? timeout_ms : 0);
  if (!sent.is_ok() && !(st.is_ok() && frame.header.type == wire::MessageType::Error)) return sent;
  if (st.code() == StatusCode::kTimeout) {
    return Status(StatusCode::kTimeout, c.peer() + " accepted the connection but did not answer Hello within " +
                                            std::to_string(timeout_ms) + " ms (stalled, or not a shoal worker)");
  }
  SHOAL_RETURN_IF_ERROR(st);
  if (frame.header.type == wire::MessageType::Error) {
    wire::ErrorCode code;
    return parse_error(frame, &code);
  }
  if (frame.header.type != wire::MessageType::Hello) {
    return Status(StatusCode::kCorrupt, c.peer() + " did not answer Hello");
  }
  Result<WorkerInfo> peer = parse_hello(frame);
  if (!peer.is_ok()) return peer.status();
  if (peer->peer_nonce != mine.nonce || peer->nonce.size() != kNonceBytes) {
    return Status(StatusCode::kCorrupt, c.peer() + " answered another Hello than ours (a replayed handshake?)");
  }
  start_session(c, mine.nonce, peer->nonce);
  return peer;
}

Result<WorkerInfo> accept_handshake(Connection& c, WorkerInfo mine, int timeout_ms) {
  Limits limits;
  limits.max_payload_bytes = kMaxHelloBytes;
  limits.frame_timeout_ms = timeout_ms;
  Frame frame;
  const Status st = read_frame(c, limits, &frame, timeout_ms);
  if (!st.is_ok()) {
    if (st.code() == StatusCode::kCorrupt || st.code() == StatusCode::kUnsupported) {
      return refuse(c, st.code() == StatusCode::kUnsupported ? wire::ErrorCode::Unsupported : wire::ErrorCode::Malformed, st);
    }
    return st;
  }
  if (frame.header.type != wire::MessageType::Hello) {
    return refuse(c, wire::ErrorCode::Malformed,
                  Status(StatusCode::kCorrupt, std::string("a connection starts with Hello, not ") +
                                                   wire::EnumNameMessageType(frame.header.type)));
  }
  Result<WorkerInfo> peer = parse_hello(frame);
  if (!peer.is_ok()) return refuse(c, wire::ErrorCode::Malformed, peer.status());
  if (peer->nonce.size() != kNonceBytes) {
    return refuse(c, wire::ErrorCode::Malformed,
                  Status(StatusCode::kCorrupt, "Hello carries no " + std::to_string(kNonceBytes) + "-byte nonce"));
  }
  mine.nonce = fresh_nonce();
  mine.peer_nonce = peer->nonce;
  SHOAL_RETURN_IF_ERROR(send_hello(c, mine));
  start_session(c, peer->nonce, mine.nonce);
  return peer;
}

}  // namespace shoal::net
