// Intermediate tensors on the wire (schema/wire.fbs, table Tensor): f32 as computed, f16
// (half the bytes) or int8 with one scale per tensor (a quarter), for slow links. Encoding
// reports the most any value moved; decoding checks the byte count against what the model
// says the tensor holds before it writes anything.
#ifndef SHOAL_NET_TENSOR_ENCODING_H_
#define SHOAL_NET_TENSOR_ENCODING_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "shoal/status.h"
#include "shoal/schema/wire_generated.h"

namespace shoal::net {

struct EncodedTensor {
  wire::TensorEncoding encoding = wire::TensorEncoding::F32;
  float scale = 1;      // int8: value = scale * byte
  float max_error = 0;  // the largest |decoded - original| over the tensor
  std::vector<uint8_t> data;
};

Result<wire::TensorEncoding> parse_tensor_encoding(const std::string& name);  // "f32", "f16", "int8"
const char* tensor_encoding_name(wire::TensorEncoding encoding);
size_t encoded_bytes(wire::TensorEncoding encoding, size_t count);

// Reuses out->data's capacity: encoding the same tensor again allocates nothing.
void encode_tensor(const float* values, size_t count, wire::TensorEncoding encoding, EncodedTensor* out);
// kCorrupt when the encoding is unknown, the scale is not a positive finite number, or
// `size` is not `count` values in that encoding.
Status decode_tensor(wire::TensorEncoding encoding, float scale, const uint8_t* data, size_t size, float* out,
                     size_t count);

uint16_t float_to_half(float value);
float half_to_float(uint16_t half);

}  // namespace shoal::net

#endif  // SHOAL_NET_TENSOR_ENCODING_H_
