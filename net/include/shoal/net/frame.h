// Framing: a fixed 32-byte little-endian header, then the payload (a FlatBuffer table of
// schema/wire.fbs). The header is checked, and the payload length held to the limit,
// before anything is allocated for the payload.
//
//   offset  size  field
//   0       4     magic "SHOL"
//   4       2     protocol version (2)
//   6       2     message type (wire::MessageType)
//   8       4     flags (bit 0: a MAC follows the payload)
//   12      8     request id
//   20      4     payload length in bytes
//   24      8     sequence: 0, 1, 2, ... per connection and direction
//
// With a key (Connection::security()) every frame carries flag 0 and, after the payload, a
// 32-byte HMAC-SHA256 of header and payload; a frame without one, or with a wrong one, is
// refused. A frame whose sequence is not the next expected one is refused too: under the MAC,
// and with a session key fresh for every connection (net/handshake.h), a recorded frame
// cannot be played again, on the same connection or another.
#ifndef SHOAL_NET_FRAME_H_
#define SHOAL_NET_FRAME_H_

#include <cstdint>
#include <vector>

#include "shoal/net/connection.h"
#include "shoal/schema/wire_generated.h"

namespace shoal::net {

inline constexpr uint8_t kMagic[4] = {'S', 'H', 'O', 'L'};
inline constexpr uint16_t kProtocolVersion = 5;  // 3: graph segments (InferRequest from/to); 4: channel-partition shares; 5: subnets and cuts by number (Hello cuts)
inline constexpr size_t kHeaderBytes = 32;
inline constexpr uint32_t kFlagMac = 1;
inline constexpr size_t kMacBytes = 32;

struct Limits {
  uint32_t max_payload_bytes = 16u << 20;
  int frame_timeout_ms = 5000;  // once a frame has begun, the rest must come within this
};

struct FrameHeader {
  uint16_t version = kProtocolVersion;
  wire::MessageType type = wire::MessageType::Hello;
  uint32_t flags = 0;
  uint64_t request_id = 0;
  uint32_t payload_bytes = 0;
  uint64_t sequence = 0;
};

struct Frame {
  FrameHeader header;
  std::vector<uint8_t> payload;  // capacity is reused from frame to frame
};

void encode_header(const FrameHeader& header, uint8_t out[kHeaderBytes]);
// kCorrupt for a bad magic, an unknown type or a payload over the limit; kUnsupported for
// another protocol version. After any of these the stream cannot be trusted any more.
Result<FrameHeader> decode_header(const uint8_t in[kHeaderBytes], const Limits& limits);

// kIo when the connection closed (cleanly between frames, or mid-frame); kCorrupt when the
// MAC is missing, unexpected or wrong, or the sequence is not the next; kTimeout when no
// frame began within `wait_ms` (>= 0), or one that began did not end within the limit's.
Status read_frame(Connection& connection, const Limits& limits, Frame* frame, int wait_ms = -1);
// Header, payload and MAC (with a key) in one write, with the connection's next sequence.
Status write_frame(Connection& connection, wire::MessageType type, uint64_t request_id,
                   const uint8_t* payload, size_t size);

// The payload as a verified table of type T, or nullptr when it does not verify.
template <typename T>
const T* verified_payload(const Frame& frame) {
  if (frame.payload.empty()) return nullptr;
  flatbuffers::Verifier::Options options;
  options.max_depth = 8;
  options.max_tables = 4096;
  flatbuffers::Verifier verifier(frame.payload.data(), frame.payload.size(), options);
  if (!verifier.VerifyBuffer<T>(nullptr)) return nullptr;
  return flatbuffers::GetRoot<T>(frame.payload.data());
}

}  // namespace shoal::net

#endif  // SHOAL_NET_FRAME_H_
