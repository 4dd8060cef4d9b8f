// NumPy's .npy files: one array, its shape and element type. What `shoal run --images` reads
// (uint8 images) and `shoal import --check` compares (float tensors).
#ifndef SHOAL_NPY_H_
#define SHOAL_NPY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "shoal/status.h"

namespace shoal {

struct NpyArray {
  std::vector<int64_t> shape;
  std::string dtype;          // NumPy's descr: "<f4", "<f8", "<i4", "<i8", "|u1"
  std::vector<uint8_t> data;  // C order, little-endian
  uint64_t elements() const {
    uint64_t n = 1;
    for (int64_t d : shape) n *= static_cast<uint64_t>(d);
    return n;
  }
};

// Errors name the file: not .npy, Fortran order, a size that does not match the shape.
Result<NpyArray> read_npy(const std::string& path);
// The same from bytes already read (`path` names them in errors).
Result<NpyArray> parse_npy(const std::string& path, const std::string& bytes);
// A float32 array, C order.
Status write_npy(const std::string& path, const std::vector<int64_t>& shape, const float* values);

}  // namespace shoal

#endif  // SHOAL_NPY_H_
