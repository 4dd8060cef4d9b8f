// One ONNX graph lowered to shoal's layers, before its channel groups and subnets are fixed
// (inside the importer). Several of these, one per width of a slimmable network, merge into
// one model (merge_widths.cc).
#ifndef SHOAL_ONNX_LOWERED_H_
#define SHOAL_ONNX_LOWERED_H_

#include <cstdint>
#include <string>
#include <vector>

#include "onnx/onnx_pb.h"
#include "onnx_import.h"

namespace shoal::onnx_import {

// Where a channel comes from, the same in every width of one network: the layer that made it
// (kInputSource for the image) and its index there. Concat, pooling and depthwise layers pass
// their inputs' origins on.
struct Origin {
  uint32_t source, index;
  bool operator==(const Origin& o) const { return source == o.source && index == o.index; }
};
inline constexpr uint32_t kInputSource = UINT32_MAX;

struct LoweredNode {
  NodeSpec node;  // inputs and outputs index Lowered::tensors; buffer indices unused
  std::string onnx_name;  // the ONNX node it came from (the first, where several fused)
  // Conv2d and Linear: weights in shoal's stored order (OHWI, input channels as the input
  // tensor stores them), and per output channel the scale and shift (empty: 1 and 0).
  std::vector<float> weights, scale, shift;
  std::vector<Origin> in_origin;  // Conv2d and Linear: the input's channels, in stored order
};

struct Lowered {
  std::string file;
  int64_t opset = 0;
  // Channel classes: tensors whose channels must be sliced alike (a residual add, a depthwise
  // layer) share one; union-find parents and channel counts.
  std::vector<uint32_t> parent, channels;
  std::vector<bool> fixed;  // never sliced: the image's and the output's
  std::vector<TensorSpec> tensors;  // group holds the class
  std::vector<LoweredNode> nodes;
  uint32_t input = 0, output = 0;

  uint32_t find(uint32_t c) const {
    while (parent[c] != c) c = parent[c];
    return c;
  }
};

// `file` names the graph in errors.
Result<Lowered> lower_graph(const onnx::ModelProto& model, const ImportOptions& options, const std::string& file);

}  // namespace shoal::onnx_import

#endif  // SHOAL_ONNX_LOWERED_H_
