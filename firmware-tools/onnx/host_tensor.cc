#include "host_tensor.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "proto_tensor.h"

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

template <typename T>
std::vector<T> raw_as(const std::string& raw) {
  std::vector<T> out(raw.size() / sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), raw.data(), out.size() * sizeof(T));
  return out;
}

Result<std::string> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(StatusCode::kNotFound, "cannot open " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// NumPy's format: magic, version, header length, a Python dict with descr, fortran_order, shape.
Result<HostTensor> read_npy(const std::string& path, const std::string& bytes) {
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) return bad(path, "not a .npy file");
  const unsigned major = static_cast<uint8_t>(bytes[6]);
  size_t header_len, at;
  if (major == 1) {
    header_len = static_cast<uint8_t>(bytes[8]) | (static_cast<uint8_t>(bytes[9]) << 8);
    at = 10;
  } else {
    if (bytes.size() < 12) return bad(path, "truncated .npy header");
    header_len = 0;
    for (int i = 3; i >= 0; --i) header_len = header_len << 8 | static_cast<uint8_t>(bytes[8 + i]);
    at = 12;
  }
  if (at + header_len > bytes.size()) return bad(path, "truncated .npy header");
  const std::string header = bytes.substr(at, header_len);
  at += header_len;
  auto field = [&](const std::string& key) -> std::string {
    const size_t k = header.find("'" + key + "'");
    if (k == std::string::npos) return "";
    size_t v = header.find(':', k);
    return v == std::string::npos ? "" : header.substr(v + 1);
  };
  const std::string descr = field("descr"), order = field("fortran_order"), shape = field("shape");
  if (order.find("True") < order.find(',')) return bad(path, "Fortran-order arrays are not read; save with C order");
  const size_t q0 = descr.find('\''), q1 = descr.find('\'', q0 + 1);
  if (q0 == std::string::npos || q1 == std::string::npos) return bad(path, "no dtype in the .npy header");
  const std::string dtype = descr.substr(q0 + 1, q1 - q0 - 1);
  HostTensor t;
  const size_t p0 = shape.find('('), p1 = shape.find(')');
  if (p0 == std::string::npos || p1 == std::string::npos) return bad(path, "no shape in the .npy header");
  std::stringstream dims(shape.substr(p0 + 1, p1 - p0 - 1));
  for (std::string d; std::getline(dims, d, ',');) {
    if (d.find_first_not_of(" ") == std::string::npos) continue;
    t.dims.push_back(std::stoll(d));
  }
  const uint64_t n = t.elements();
  const std::string data = bytes.substr(at);
  auto need = [&](size_t size) { return data.size() == n * size; };
  if (dtype == "<f4" && need(4)) {
    t.values = raw_as<float>(data);
  } else if (dtype == "<f8" && need(8)) {
    for (double v : raw_as<double>(data)) t.values.push_back(static_cast<float>(v));
  } else if (dtype == "<i8" && need(8)) {
    t.ints = raw_as<int64_t>(data), t.integer = true;
  } else if (dtype == "<i4" && need(4)) {
    for (int32_t v : raw_as<int32_t>(data)) t.ints.push_back(v);
    t.integer = true;
  } else if (dtype == "|u1" && need(1)) {
    for (uint8_t v : raw_as<uint8_t>(data)) t.ints.push_back(v);
    t.integer = true;
  } else {
    return bad(path, "dtype " + dtype + " with " + std::to_string(data.size()) + " bytes for " + std::to_string(n) +
                         " elements: expected float32, float64, int32, int64 or uint8 of that many");
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
  if (bytes.value().compare(0, 6, "\x93NUMPY") == 0) return read_npy(path, bytes.value());
  onnx::TensorProto proto;
  if (!proto.ParseFromString(bytes.value())) {
    return bad(path, "neither a .npy file nor a serialised onnx.TensorProto");
  }
  return from_proto(proto, path);
}

Status write_npy(const std::string& path, const HostTensor& t) {
  std::string shape = "(";
  for (int64_t d : t.dims) shape += std::to_string(d) + ",";
  shape += ")";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  while ((10 + header.size() + 1) % 64) header += ' ';
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  const uint16_t len = static_cast<uint16_t>(header.size());
  out.write("\x93NUMPY\x01\x00", 8);
  out.put(static_cast<char>(len & 255)).put(static_cast<char>(len >> 8));
  out << header;
  const std::vector<float> v = t.as_floats();
  out.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
  if (!out) return Status(StatusCode::kIo, "cannot write " + path);
  return Status::ok();
}

}  // namespace shoal::onnx_import
