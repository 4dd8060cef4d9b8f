// `shoal import --check`: the imported model run on the source model's test inputs (ONNX's
// test_data_set_*/input_*.pb beside the file, or the user's .pb / .npy files) and compared
// with the outputs the source framework computed, as MNN's --testdir does.
#ifndef SHOAL_ONNX_CHECK_IMPORT_H_
#define SHOAL_ONNX_CHECK_IMPORT_H_

#include <map>
#include <string>
#include <vector>

#include "host_tensor.h"
#include "shoal/backend.h"
#include "shoal/model.h"

namespace shoal::onnx_import {

// One input batch (N, C, H, W) or (N, C) and the output the source computed for it.
struct TestData {
  std::string name;  // "test_data_set_0", or the input file
  HostTensor input, output;
};

// The test sets beside an ONNX file (DIR/test_data_set_*/input_0.pb, output_0.pb), in order.
// Inputs past the first are the graph's other inputs (weights a test passes as data): they are
// added to `constants` under the names of the graph's inputs. None found: an empty list.
Result<std::vector<TestData>> read_test_sets(const std::string& onnx_file, std::map<std::string, HostTensor>* constants);

struct Difference {
  uint32_t samples = 0;  // inputs run (the batch split into single inputs)
  double max_abs = 0;    // the largest |shoal - source|
  double range = 0;      // max - min of the source's outputs
  double relative() const { return range > 0 ? max_abs / range : max_abs; }
};

// Runs `subnet` on every sample of `data` on `backend` and compares with its output.
Result<Difference> compare(const Model& model, uint32_t subnet, const Backend& backend, const TestData& data);

}  // namespace shoal::onnx_import

#endif  // SHOAL_ONNX_CHECK_IMPORT_H_
