#include "shoal/net/tensor_encoding.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace shoal::net {

Result<wire::TensorEncoding> parse_tensor_encoding(const std::string& name) {
  if (name == "f32") return wire::TensorEncoding::F32;
  if (name == "f16") return wire::TensorEncoding::F16;
  if (name == "int8") return wire::TensorEncoding::Int8;
  return Status(StatusCode::kInvalidArgument, "unknown tensor encoding '" + name + "'; use f32, f16 or int8");
}

const char* tensor_encoding_name(wire::TensorEncoding encoding) {
  switch (encoding) {
    case wire::TensorEncoding::F16: return "f16";
    case wire::TensorEncoding::Int8: return "int8";
    default: return "f32";
  }
}

size_t encoded_bytes(wire::TensorEncoding encoding, size_t count) {
  return encoding == wire::TensorEncoding::F16 ? 2 * count : encoding == wire::TensorEncoding::Int8 ? count : 4 * count;
}

uint16_t float_to_half(float value) {
  uint32_t x;
  std::memcpy(&x, &value, 4);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t abs = x & 0x7fffffffu;
  if (abs >= 0x7f800000u) return sign | (abs > 0x7f800000u ? 0x7e00u : 0x7c00u);  // NaN, infinity
  if (abs >= 0x477ff000u) return sign | 0x7c00u;  // 65520 and up round past the largest half
  if (abs < 0x38800000u) {                         // below 2^-14: a subnormal half (or zero)
    float a;
    std::memcpy(&a, &abs, 4);
    return sign | static_cast<uint16_t>(std::lrint(a * 16777216.0f));  // in units of 2^-24, exact
  }
  uint32_t h = (abs - 0x38000000u) >> 13;  // exponent 127 -> 15 bias, 23 -> 10 mantissa bits
  const uint32_t rest = abs & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // to nearest, ties to even
  return sign | static_cast<uint16_t>(h);
}

float half_to_float(uint16_t half) {
  const uint32_t sign = uint32_t{half & 0x8000u} << 16, exponent = (half >> 10) & 0x1fu, mantissa = half & 0x3ffu;
  if (exponent == 0) {
    const float v = static_cast<float>(mantissa) * (1.0f / 16777216.0f);
    return sign ? -v : v;
  }
  const uint32_t x = sign | (exponent == 31 ? 0x7f800000u | (mantissa << 13) : ((exponent + 112) << 23) | (mantissa << 13));
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

void encode_tensor(const float* values, size_t count, wire::TensorEncoding encoding, EncodedTensor* out) {
  out->encoding = encoding;
  out->scale = 1;
  out->max_error = 0;
  out->data.resize(encoded_bytes(encoding, count));
  uint8_t* d = out->data.data();
  float worst = 0;
  switch (encoding) {
    case wire::TensorEncoding::F16:
      for (size_t i = 0; i < count; ++i) {
        const uint16_t h = float_to_half(values[i]);
        d[2 * i] = static_cast<uint8_t>(h), d[2 * i + 1] = static_cast<uint8_t>(h >> 8);
        worst = std::max(worst, std::fabs(half_to_float(h) - values[i]));
      }
      break;
    case wire::TensorEncoding::Int8: {
      float largest = 0;
      for (size_t i = 0; i < count; ++i) largest = std::max(largest, std::fabs(values[i]));
      out->scale = largest > 0 ? largest / 127.0f : 1.0f;
      const float inverse = 1.0f / out->scale;
      for (size_t i = 0; i < count; ++i) {
        const long q = std::min(127L, std::max(-127L, std::lrint(values[i] * inverse)));
        d[i] = static_cast<uint8_t>(static_cast<int8_t>(q));
        worst = std::max(worst, std::fabs(static_cast<float>(q) * out->scale - values[i]));
      }
      break;
    }
    default:
      if (count) std::memcpy(d, values, 4 * count);
  }
  out->max_error = worst;
}

Status decode_tensor(wire::TensorEncoding encoding, float scale, const uint8_t* data, size_t size, float* out,
                     size_t count) {
  if (encoding < wire::TensorEncoding::MIN || encoding > wire::TensorEncoding::MAX) {
    return Status(StatusCode::kCorrupt, "unknown tensor encoding " + std::to_string(static_cast<int>(encoding)));
  }
  if (size != encoded_bytes(encoding, count)) {
    return Status(StatusCode::kCorrupt, "tensor has " + std::to_string(size) + " bytes; " + std::to_string(count) +
                                            " values in " + tensor_encoding_name(encoding) + " take " +
                                            std::to_string(encoded_bytes(encoding, count)));
  }
  switch (encoding) {
    case wire::TensorEncoding::F16:
      for (size_t i = 0; i < count; ++i) out[i] = half_to_float(static_cast<uint16_t>(data[2 * i] | data[2 * i + 1] << 8));
      break;
    case wire::TensorEncoding::Int8:
      if (!(scale > 0) || !std::isfinite(scale)) {
        return Status(StatusCode::kCorrupt, "int8 tensor has scale " + std::to_string(scale) + "; it must be positive");
      }
      for (size_t i = 0; i < count; ++i) out[i] = static_cast<float>(static_cast<int8_t>(data[i])) * scale;
      break;
    default:
      if (count) std::memcpy(out, data, 4 * count);
  }
  // A peer's NaN or infinity (or an int8 scale so large that the values overflow) would run
  // through every layer after it and come back as NaN probabilities.
  for (size_t i = 0; i < count; ++i) {
    if (!std::isfinite(out[i])) {
      return Status(StatusCode::kCorrupt, "tensor value " + std::to_string(i) + " is " + std::to_string(out[i]) +
                                              ": a peer's tensors must be finite");
    }
  }
  return Status::ok();
}

}  // namespace shoal::net
