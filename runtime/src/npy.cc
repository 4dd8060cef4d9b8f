#include "shoal/npy.h"

#include <fstream>
#include <sstream>

namespace shoal {
namespace {

Status bad(const std::string& path, const std::string& why) {
  return Status(StatusCode::kCorrupt, "'" + path + "': " + why);
}

size_t item_size(const std::string& dtype) {
  if (dtype == "<f4" || dtype == "<i4") return 4;
  if (dtype == "<f8" || dtype == "<i8") return 8;
  if (dtype == "|u1" || dtype == "<u1") return 1;
  return 0;
}

}  // namespace

Result<NpyArray> parse_npy(const std::string& path, const std::string& bytes) {
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) return bad(path, "not a .npy file");
  const unsigned major = static_cast<uint8_t>(bytes[6]);
  size_t header_len = 0, at = 10;
  if (major == 1) {
    header_len = static_cast<uint8_t>(bytes[8]) | (static_cast<size_t>(static_cast<uint8_t>(bytes[9])) << 8);
  } else {
    if (bytes.size() < 12) return bad(path, "a truncated .npy header");
    for (int i = 3; i >= 0; --i) header_len = header_len << 8 | static_cast<uint8_t>(bytes[8 + i]);
    at = 12;
  }
  if (header_len > bytes.size() - at) return bad(path, "a truncated .npy header");
  const std::string header = bytes.substr(at, header_len);
  at += header_len;
  auto field = [&](const std::string& key) -> std::string {
    const size_t k = header.find("'" + key + "'");
    const size_t v = k == std::string::npos ? k : header.find(':', k);
    return v == std::string::npos ? "" : header.substr(v + 1);
  };
  const std::string descr = field("descr"), order = field("fortran_order"), shape = field("shape");
  const size_t is_true = order.find("True"), is_false = order.find("False");
  if (is_true != std::string::npos && (is_false == std::string::npos || is_true < is_false)) {
    return bad(path, "a Fortran-order array; save it in C order (numpy.ascontiguousarray)");
  }
  const size_t q0 = descr.find('\''), q1 = q0 == std::string::npos ? q0 : descr.find('\'', q0 + 1);
  const size_t p0 = shape.find('('), p1 = p0 == std::string::npos ? p0 : shape.find(')', p0);
  if (q1 == std::string::npos || p1 == std::string::npos) return bad(path, "no dtype or shape in the .npy header");
  NpyArray a;
  a.dtype = descr.substr(q0 + 1, q1 - q0 - 1);
  std::stringstream dims(shape.substr(p0 + 1, p1 - p0 - 1));
  for (std::string d; std::getline(dims, d, ',');) {
    if (d.find_first_not_of(' ') == std::string::npos) continue;
    char* end = nullptr;
    const long long v = std::strtoll(d.c_str(), &end, 10);
    if (v < 0 || v > (1LL << 31)) return bad(path, "a dimension of " + d);
    a.shape.push_back(v);
  }
  const size_t item = item_size(a.dtype);
  if (!item) return bad(path, "element type " + a.dtype + " (shoal reads float32, float64, int32, int64 and uint8)");
  const uint64_t n = a.elements();
  if (bytes.size() - at != n * item) {
    return bad(path, "holds " + std::to_string(bytes.size() - at) + " bytes of data; its shape needs " + std::to_string(n * item));
  }
  a.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(at), bytes.end());
  return a;
}

Result<NpyArray> read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(StatusCode::kNotFound, "cannot open '" + path + "'");
  std::ostringstream s;
  s << in.rdbuf();
  return parse_npy(path, s.str());
}

Status write_npy(const std::string& path, const std::vector<int64_t>& shape, const float* values) {
  std::string dims;
  uint64_t n = 1;
  for (int64_t d : shape) dims += std::to_string(d) + ",", n *= static_cast<uint64_t>(d);
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  while ((10 + header.size() + 1) % 64) header += ' ';
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  out.put(static_cast<char>(header.size() & 255)).put(static_cast<char>(header.size() >> 8));
  out << header;
  out.write(reinterpret_cast<const char*>(values), static_cast<std::streamsize>(n * sizeof(float)));
  if (!out) return Status(StatusCode::kIo, "cannot write '" + path + "'");
  return Status::ok();
}

}  // namespace shoal
