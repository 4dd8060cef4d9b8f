// onnx.TensorProto to HostTensor (inside the importer: the protobuf types stay in this folder).
#ifndef SHOAL_ONNX_PROTO_TENSOR_H_
#define SHOAL_ONNX_PROTO_TENSOR_H_

#include <string>

#include "host_tensor.h"
#include "onnx/onnx_pb.h"

namespace shoal::onnx_import {

// `what` names the tensor in errors ("initializer 'conv1.weight'").
Result<HostTensor> from_proto(const onnx::TensorProto& proto, const std::string& what);

}  // namespace shoal::onnx_import

#endif  // SHOAL_ONNX_PROTO_TENSOR_H_
