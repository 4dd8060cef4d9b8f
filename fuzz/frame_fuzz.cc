// libFuzzer target: bytes from a peer, through the frame decoder and every message parser,
// with and without a key. Nothing may crash, hang or allocate past the limits.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "shoal/net/frame.h"
#include "shoal/net/handshake.h"
#include "shoal/net/messages.h"

using namespace shoal::net;
namespace wire = shoal::wire;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > (64u << 10)) return 0;  // a socket buffer's worth
  auto [peer, us] = loopback_pair();
  if (!peer) return 0;
  if (data[0] & 1) us->set_key("fuzz key");  // the first byte picks keyed or not
  if (!peer->write_all(data + 1, size - 1).is_ok()) return 0;
  peer->shutdown();
  Limits limits;
  limits.max_payload_bytes = 32u << 10;
  limits.frame_timeout_ms = 0;
  Frame frame;
  while (read_frame(*us, limits, &frame, 0).is_ok()) {
    wire::ErrorCode code;
    switch (frame.header.type) {
      case wire::MessageType::Hello: (void)parse_hello(frame); break;
      case wire::MessageType::Heartbeat: (void)parse_heartbeat(frame); break;
      case wire::MessageType::Error: (void)parse_error(frame, &code); break;
      case wire::MessageType::InferRequest: {
        const wire::InferRequest* r = verified_payload<wire::InferRequest>(frame);
        if (r) (void)(r->subnet() + r->from() + r->to() + r->image()->size());
        for (size_t i = 0; r && r->inputs() && i < r->inputs()->size(); ++i) {  // a share's tensors
          const wire::Tensor* t = r->inputs()->Get(i);
          std::vector<float> values(t->data()->size());
          (void)decode_tensor(t->encoding(), t->scale(), t->data()->data(), t->data()->size(), values.data(),
                              t->data()->size() / encoded_bytes(t->encoding(), 1));
        }
        if (r && r->input()) {  // as a worker decodes a segment's tensor, of the size it expects
          const wire::Tensor* t = r->input();
          std::vector<float> values(t->data()->size());
          const size_t per = encoded_bytes(t->encoding(), 1);
          (void)decode_tensor(t->encoding(), t->scale(), t->data()->data(), t->data()->size(), values.data(),
                              t->data()->size() / per);
        }
        break;
      }
      case wire::MessageType::InferResult: {
        const wire::InferResult* r = verified_payload<wire::InferResult>(frame);
        std::vector<float> probabilities;
        if (r) (void)result_probabilities(*r, 10, &probabilities);
        if (r) (void)result_tensor(*r, 64, &probabilities);
        probabilities.resize(64);
        for (size_t i = 0; r && r->outputs() && i < r->outputs()->size(); ++i) {
          (void)result_share_output(*r, i, 64, probabilities.data());
        }
        break;
      }
    }
  }
  return 0;
}
