// ONNX models into shoal models (`shoal import`). A host tool: nothing in shoal::core or the
// firmware links it.
//
// One ONNX file becomes a model with one subnet, w1.0. Several files of one network at
// different widths (a slimmable network exported once per width) become one model with one
// weight copy: each narrower file's weights must be the leading channel slice of the widest
// one's, up to a factor per output channel (what an exporter's batch-norm folding leaves),
// and each width gets its subnet and its own affine (batch-norm) set.
//
// NCHW becomes NHWC; Flatten after a spatial feature map permutes the next layer's weights
// to shoal's HWC order; a Concat's inputs land in shoal's interleaved channel order (the
// layers after it read their weights in that order). Every node shoal cannot run is named in
// one error, with its op type, attributes and opset, and nothing is made.
#ifndef SHOAL_ONNX_IMPORT_H_
#define SHOAL_ONNX_IMPORT_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "host_tensor.h"
#include "shoal/builder.h"

namespace shoal::onnx_import {

inline constexpr int64_t kMinOpset = 6, kMaxOpset = 17;

struct ImportOptions {
  std::string name;                // the model's name (default: the first file's stem)
  uint32_t height = 0, width = 0;  // the input's size where the graph leaves it open
  // Input normalisation, per channel or one for all: x = (pixel / 255 - mean) / std.
  std::vector<float> mean, std;
  std::vector<std::string> class_names;
  // Width subnets made by slicing, besides the trained ones (marked untrained).
  std::vector<float> extra_widths;
  // Graph inputs given as data, by name (an ONNX test case's weights passed as inputs).
  std::map<std::string, HostTensor> constants;
};

// What the importer accepts, one line per op with its attributes: for --help and the docs.
const char* accepted_ops();

// The model, ready for serialize_model(). Errors: kNotFound (a file), kCorrupt (not ONNX),
// kUnsupported (nodes shoal cannot run, every one named), kInvalidArgument (widths that do not
// slice one network, options that do not fit).
// `subnet_of_file`, when given, receives each file's subnet name.
Result<ModelSpec> import_onnx(const std::vector<std::string>& files, const ImportOptions& options,
                              std::vector<std::string>* subnet_of_file = nullptr);

}  // namespace shoal::onnx_import

#endif  // SHOAL_ONNX_IMPORT_H_
