#include "host_tensor.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "proto_tensor.h"
#include "shoal/npy.h"

namespace shoal::onnx_import {
namespace {

Status bad(const std::string& what, const std::string& why) {
  return Status(StatusCode::kInvalidArgument, what + ": " + why);
}

float half_to_float(uint16_t h) {
  const uint32_t sign = (h >> 15) & 1, exp = (h >> 10) & 31, frac = h & 1023;
  float v;
  if (exp == 0) {
    v = std::ldexp(static_cast<float>(frac), -24);
  } else if (exp == 31) {
    v = frac ? NAN : INFINITY;
  } else {
    v = std::ldexp(static_cast<float>(frac | 1024), static_cast<int>(exp) - 25);
  }
  return sign ? -v : v;
}

// Little-endian bytes as values (the hosts shoal runs on are little-endian).
template <typename T>
std::vector<T> raw_as(const void* data, size_t bytes) {
  std::vector<T> out(bytes / sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), data, out.size() * sizeof(T));
  return out;
}
template <typename T>
std::vector<T> raw_as(const std::string& raw) {
  return raw_as<T>(raw.data(), raw.size());
}

Result<std::string> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(StatusCode::kNotFound, "cannot open " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A .npy array as a HostTensor (its values converted to float or int64).
Result<HostTensor> from_npy(const NpyArray& a) {
  HostTensor t;
  t.dims = a.shape;
  const std::string& d = a.dtype;
  const uint8_t* raw = a.data.data();
  const size_t bytes = a.data.size();
  if (d == "<f4") {
    t.values = raw_as<float>(raw, bytes);
  } else if (d == "<f8") {
    for (double v : raw_as<double>(raw, bytes)) t.values.push_back(static_cast<float>(v));
  } else {
    t.integer = true;
    if (d == "<i8") {
      t.ints = raw_as<int64_t>(raw, bytes);
    } else if (d == "<i4") {
      for (int32_t v : raw_as<int32_t>(raw, bytes)) t.ints.push_back(v);
    } else {
      for (uint8_t v : a.data) t.ints.push_back(v);
    }
  }
  return t;
}

}  // namespace

std::vector<int64_t> HostTensor::as_ints() const {
  if (integer) return ints;
  std::vector<int64_t> out;
  for (float v : values) out.push_back(static_cast<int64_t>(v));
  return out;
}

std::vector<float> HostTensor::as_floats() const {
  if (!integer) return values;
  std::vector<float> out;
  for (int64_t v : ints) out.push_back(static_cast<float>(v));
  return out;
}

Result<HostTensor> from_proto(const onnx::TensorProto& p, const std::string& what) {
  if (p.data_location() == onnx::TensorProto::EXTERNAL) {
    return bad(what, "its data is in an external file; export without external data (models under 2 GB)");
  }
  HostTensor t;
  for (int64_t d : p.dims()) {
    if (d < 0 || d > (int64_t{1} << 31)) return bad(what, "a dimension of " + std::to_string(d));
    t.dims.push_back(d);
  }
  const uint64_t n = t.elements();
  const std::string& raw = p.raw_data();
  const bool has_raw = p.has_raw_data();
  switch (p.data_type()) {
    case onnx::TensorProto::FLOAT:
      t.values = has_raw ? raw_as<float>(raw) : std::vector<float>(p.float_data().begin(), p.float_data().end());
      break;
    case onnx::TensorProto::DOUBLE:
      if (has_raw) {
        for (double v : raw_as<double>(raw)) t.values.push_back(static_cast<float>(v));
      } else {
        for (double v : p.double_data()) t.values.push_back(static_cast<float>(v));
      }
      break;
    case onnx::TensorProto::FLOAT16:
      if (has_raw) {
        for (uint16_t v : raw_as<uint16_t>(raw)) t.values.push_back(half_to_float(v));
      } else {
        for (int32_t v : p.int32_data()) t.values.push_back(half_to_float(static_cast<uint16_t>(v)));
      }
      break;
    case onnx::TensorProto::INT64:
      t.integer = true;
      t.ints = has_raw ? raw_as<int64_t>(raw) : std::vector<int64_t>(p.int64_data().begin(), p.int64_data().end());
      break;
    case onnx::TensorProto::INT32:
      t.integer = true;
      if (has_raw) {
        for (int32_t v : raw_as<int32_t>(raw)) t.ints.push_back(v);
      } else {
        t.ints.assign(p.int32_data().begin(), p.int32_data().end());
      }
      break;
    case onnx::TensorProto::INT8:
    case onnx::TensorProto::UINT8:
    case onnx::TensorProto::BOOL:
      t.integer = true;
      if (has_raw) {
        for (char v : raw) {
          t.ints.push_back(p.data_type() == onnx::TensorProto::INT8 ? static_cast<int8_t>(v) : static_cast<uint8_t>(v));
        }
      } else {
        t.ints.assign(p.int32_data().begin(), p.int32_data().end());
      }
      break;
    default:
      return bad(what, "element type " + onnx::TensorProto::DataType_Name(p.data_type()) +
                           " (shoal imports float, integer and boolean tensors)");
  }
  const size_t have = t.integer ? t.ints.size() : t.values.size();
  if (have != n) {
    return bad(what, "holds " + std::to_string(have) + " values but its dimensions need " + std::to_string(n));
  }
  return t;
}

Result<HostTensor> read_tensor_file(const std::string& path) {
  Result<std::string> bytes = read_all(path);
  if (!bytes.is_ok()) return bytes.status();
  if (bytes.value().compare(0, 6, "\x93NUMPY") == 0) {
    Result<NpyArray> a = parse_npy(path, bytes.value());
    if (!a.is_ok()) return a.status();
    return from_npy(a.value());
  }
  onnx::TensorProto proto;
  if (!proto.ParseFromString(bytes.value())) {
    return bad(path, "neither a .npy file nor a serialised onnx.TensorProto");
  }
  return from_proto(proto, path);
}

}  // namespace shoal::onnx_import
