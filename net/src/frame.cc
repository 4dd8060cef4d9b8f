#include "shoal/net/frame.h"

#include "shoal/net/hmac.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>

namespace shoal::net {
namespace {

template <typename T>
void put(uint8_t* p, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) p[i] = static_cast<uint8_t>(static_cast<uint64_t>(v) >> (8 * i));
}

template <typename T>
T get(const uint8_t* p) {
  uint64_t v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v |= uint64_t{p[i]} << (8 * i);
  return static_cast<T>(v);
}

}  // namespace

void encode_header(const FrameHeader& h, uint8_t out[kHeaderBytes]) {
  std::memcpy(out, kMagic, 4);
  put<uint16_t>(out + 4, h.version);
  put<uint16_t>(out + 6, static_cast<uint16_t>(h.type));
  put<uint32_t>(out + 8, h.flags);
  put<uint64_t>(out + 12, h.request_id);
  put<uint32_t>(out + 20, h.payload_bytes);
  put<uint64_t>(out + 24, h.sequence);
}

Result<FrameHeader> decode_header(const uint8_t in[kHeaderBytes], const Limits& limits) {
  if (std::memcmp(in, kMagic, 4) != 0) {
    return Status(StatusCode::kCorrupt, "not a shoal frame (bad magic); is the peer a shoal worker or master?");
  }
  FrameHeader h;
  h.version = get<uint16_t>(in + 4);
  const uint16_t type = get<uint16_t>(in + 6);
  h.flags = get<uint32_t>(in + 8);
  h.request_id = get<uint64_t>(in + 12);
  h.payload_bytes = get<uint32_t>(in + 20);
  h.sequence = get<uint64_t>(in + 24);
  if (h.version != kProtocolVersion) {
    return Status(StatusCode::kUnsupported, "peer speaks protocol version " + std::to_string(h.version) +
                                                ", this build speaks " + std::to_string(kProtocolVersion));
  }
  if (type < static_cast<uint16_t>(wire::MessageType::MIN) || type > static_cast<uint16_t>(wire::MessageType::MAX)) {
    return Status(StatusCode::kCorrupt, "unknown message type " + std::to_string(type));
  }
  h.type = static_cast<wire::MessageType>(type);
  if ((h.flags & ~kFlagMac) != 0) return Status(StatusCode::kCorrupt, "unknown frame flags " + std::to_string(h.flags));
  if (h.payload_bytes > limits.max_payload_bytes) {
    return Status(StatusCode::kCorrupt, "payload of " + std::to_string(h.payload_bytes) + " bytes is over the " +
                                            std::to_string(limits.max_payload_bytes) + "-byte limit");
  }
  return h;
}

namespace {

// Streams: exactly the next sequence. Datagrams may be lost or reordered: any sequence not
// seen yet among the last 64 (as DTLS and IPsec keep their replay windows).
Status accept_sequence(FrameSecurity& s, uint64_t sequence, bool datagrams) {
  auto refuse = [&] {
    return Status(StatusCode::kCorrupt, "frame " + std::to_string(sequence) + " came where frame " +
                                            std::to_string(s.next_receive) +
                                            " was due: replayed, reordered or lost; the stream cannot be trusted");
  };
  if (!datagrams) {
    if (sequence != s.next_receive) return refuse();
    ++s.next_receive;
    return Status::ok();
  }
  if (sequence >= s.next_receive) {  // newer than any: slide the window up to it
    const uint64_t shift = sequence - s.next_receive + 1;
    s.seen = shift >= 64 ? 0 : s.seen << shift;
    s.seen |= 1;
    s.next_receive = sequence + 1;
    return Status::ok();
  }
  const uint64_t age = s.next_receive - 1 - sequence;  // 0: the newest seen
  if (age >= 64 || (s.seen >> age) & 1) {
    return Status(StatusCode::kCorrupt, "datagram frame " + std::to_string(sequence) + " was seen before or is too old: replayed");
  }
  s.seen |= uint64_t{1} << age;
  return Status::ok();
}

}  // namespace

Status read_frame(Connection& connection, const Limits& limits, Frame* frame, int wait_ms) {
  uint8_t header[kHeaderBytes];
  if (connection.datagrams()) SHOAL_RETURN_IF_ERROR(connection.next_message(wait_ms));
  SHOAL_RETURN_IF_ERROR(connection.read_exact(header, 1, wait_ms));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(limits.frame_timeout_ms);
  auto rest = [&](void* data, size_t size) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    return connection.read_exact(data, size, static_cast<int>(std::max<long long>(0, left.count())));
  };
  // Magic and version first, so that a peer of another version (whose header may be shorter)
  // gets a clear answer instead of a wait for bytes that never come.
  SHOAL_RETURN_IF_ERROR(rest(header + 1, 5));
  if (std::memcmp(header, kMagic, 4) == 0 && get<uint16_t>(header + 4) != kProtocolVersion) {
    std::memset(header + 6, 0, kHeaderBytes - 6);
    return decode_header(header, limits).status();
  }
  SHOAL_RETURN_IF_ERROR(rest(header + 6, kHeaderBytes - 6));
  Result<FrameHeader> h = decode_header(header, limits);
  if (!h.is_ok()) return h.status();
  frame->header = h.value();
  FrameSecurity& security = connection.security();
  const bool has_mac = frame->header.flags & kFlagMac;
  if (has_mac != !security.key.empty()) {
    return Status(StatusCode::kCorrupt, has_mac ? "the peer authenticates its frames; give this side the same --key-file"
                                                : "the peer does not authenticate its frames; it needs the same --key-file");
  }
  frame->payload.resize(frame->header.payload_bytes);
  SHOAL_RETURN_IF_ERROR(rest(frame->payload.data(), frame->payload.size()));
  if (has_mac) {
    uint8_t tag[kMacBytes];
    SHOAL_RETURN_IF_ERROR(rest(tag, kMacBytes));
    const Digest want = hmac_sha256(security.key, header, kHeaderBytes, frame->payload.data(), frame->payload.size());
    if (!digests_equal(tag, want.data())) {
      return Status(StatusCode::kCorrupt, "frame MAC does not match: the two sides use different keys, or the frame was altered");
    }
  }
  return accept_sequence(security, frame->header.sequence, connection.datagrams());
}

Status write_frame(Connection& connection, wire::MessageType type, uint64_t request_id, const uint8_t* payload,
                   size_t size) {
  thread_local std::vector<uint8_t> buffer;
  auto lock = connection.write_lock();
  FrameSecurity& security = connection.security();
  const bool mac = !security.key.empty();
  buffer.resize(kHeaderBytes + size + (mac ? kMacBytes : 0));
  FrameHeader h;
  h.type = type;
  h.flags = mac ? kFlagMac : 0;
  h.request_id = request_id;
  h.payload_bytes = static_cast<uint32_t>(size);
  h.sequence = security.next_send;
  encode_header(h, buffer.data());
  if (size) std::memcpy(buffer.data() + kHeaderBytes, payload, size);
  if (mac) {
    const Digest tag = hmac_sha256(security.key, buffer.data(), kHeaderBytes, payload, size);
    std::memcpy(buffer.data() + kHeaderBytes + size, tag.data(), kMacBytes);
  }
  const Status st = connection.write_all(buffer.data(), buffer.size());
  if (st.is_ok()) ++security.next_send;
  return st;
}

}  // namespace shoal::net
