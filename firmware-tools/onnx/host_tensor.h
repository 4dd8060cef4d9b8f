// Tensors on the host as the importer and `shoal import --check` see them: the dimensions and
// the values of an ONNX initialiser, a Constant node, a test case's input_0.pb / output_0.pb
// (a serialised onnx.TensorProto) or a NumPy .npy file.
#ifndef SHOAL_ONNX_HOST_TENSOR_H_
#define SHOAL_ONNX_HOST_TENSOR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "shoal/status.h"

namespace shoal::onnx_import {

struct HostTensor {
  std::vector<int64_t> dims;
  std::vector<float> values;  // float tensors (f32, f64, f16 converted)
  std::vector<int64_t> ints;  // integer and boolean tensors
  bool integer = false;

  uint64_t elements() const {
    uint64_t n = 1;
    for (int64_t d : dims) n *= static_cast<uint64_t>(d);
    return n;
  }
  // Integer values as they are, float ones rounded toward zero.
  std::vector<int64_t> as_ints() const;
  std::vector<float> as_floats() const;
};

// A .pb file holding one onnx.TensorProto, or a .npy file (little-endian float32, float64,
// int32 or int64, C order). Errors name the file.
Result<HostTensor> read_tensor_file(const std::string& path);

}  // namespace shoal::onnx_import

#endif  // SHOAL_ONNX_HOST_TENSOR_H_
