#include "check_import.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "onnx/onnx_pb.h"
#include "shoal/engine.h"

namespace shoal::onnx_import {
namespace fs = std::filesystem;

Result<std::vector<TestData>> read_test_sets(const std::string& onnx_file, std::map<std::string, HostTensor>* constants) {
  std::vector<TestData> sets;
  const fs::path dir = fs::path(onnx_file).parent_path();
  std::vector<fs::path> dirs;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir.empty() ? "." : dir, ec)) {
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) dirs.push_back(e.path());
  }
  std::sort(dirs.begin(), dirs.end());
  std::vector<std::string> input_names;
  for (size_t d = 0; d < dirs.size(); ++d) {
    TestData t;
    t.name = dirs[d].filename().string();
    Result<HostTensor> in = read_tensor_file((dirs[d] / "input_0.pb").string());
    if (!in.is_ok()) return in.status();
    Result<HostTensor> out = read_tensor_file((dirs[d] / "output_0.pb").string());
    if (!out.is_ok()) return out.status();
    t.input = std::move(in.value()), t.output = std::move(out.value());
    // The graph's other inputs, from the first set (ONNX's node tests pass weights this way).
    if (d == 0 && fs::exists(dirs[d] / "input_1.pb")) {
      std::ifstream f(onnx_file, std::ios::binary);
      onnx::ModelProto model;
      if (!model.ParseFromIstream(&f)) return Status(StatusCode::kCorrupt, onnx_file + " is not an ONNX model");
      std::set<std::string> inits;
      for (const auto& i : model.graph().initializer()) inits.insert(i.name());
      for (const auto& i : model.graph().input()) {
        if (!inits.count(i.name())) input_names.push_back(i.name());
      }
      for (size_t k = 1; k < input_names.size(); ++k) {
        const fs::path p = dirs[d] / ("input_" + std::to_string(k) + ".pb");
        if (!fs::exists(p)) break;
        Result<HostTensor> c = read_tensor_file(p.string());
        if (!c.is_ok()) return c.status();
        (*constants)[input_names[k]] = std::move(c.value());
      }
    }
    sets.push_back(std::move(t));
  }
  return sets;
}

Result<Difference> compare(const Model& model, uint32_t subnet, const Backend& backend, const TestData& data) {
  const TensorShape in = model.shape(model.fb().input()), out = model.shape(model.fb().output());
  const fb::GroupRange* r = model.ranges(subnet);
  const uint32_t in_c = r[model.fb().tensors()->Get(model.fb().input())->group()].hi();
  const uint32_t out_c = r[model.fb().tensors()->Get(model.fb().output())->group()].hi();
  const std::vector<float> x = data.input.as_floats(), y = data.output.as_floats();
  const std::vector<int64_t>& xd = data.input.dims;
  const bool image = xd.size() == 4;
  const bool sequence = xd.size() == 3 && xd[1] == in_c && in.h == 1 && xd[2] == in.w;
  if (!(image && xd[1] == in_c && xd[2] == in.h && xd[3] == in.w) && !sequence &&
      !(xd.size() == 2 && in.h * in.w == 1 && xd[1] == in_c)) {
    std::string dims;
    for (int64_t d : xd) dims += (dims.empty() ? "" : "x") + std::to_string(d);
    return Status(StatusCode::kInvalidArgument, data.name + ": an input of " + dims + " for a model that takes " +
                                                    std::to_string(in_c) + " channels of " + std::to_string(in.h) + "x" +
                                                    std::to_string(in.w));
  }
  const uint32_t n = static_cast<uint32_t>(xd[0]);
  const size_t in_n = size_t{in_c} * in.h * in.w, out_n = size_t{out_c} * out.h * out.w;
  if (y.size() != size_t{n} * out_n) {
    return Status(StatusCode::kInvalidArgument, data.name + ": the expected output has " + std::to_string(y.size()) +
                                                    " values; the model makes " + std::to_string(out_n) + " per input");
  }
  Result<std::unique_ptr<Engine>> engine = Engine::create(model, backend);
  if (!engine.is_ok()) return engine.status();
  std::vector<float> a(in_n), b(out_n);
  Difference d;
  d.samples = n;
  const auto [lo, hi] = std::minmax_element(y.begin(), y.end());
  d.range = y.empty() ? 0 : *hi - *lo;
  const uint32_t pixels = in.h * in.w, out_pixels = out.h * out.w;
  for (uint32_t s = 0; s < n; ++s) {
    for (uint32_t p = 0; p < pixels; ++p) {  // NCHW -> HWC
      for (uint32_t c = 0; c < in_c; ++c) a[size_t{p} * in_c + c] = x[size_t{s} * in_n + size_t{c} * pixels + p];
    }
    SHOAL_RETURN_IF_ERROR(engine.value()->run(subnet, a.data(), a.size(), b.data(), b.size()));
    for (uint32_t p = 0; p < out_pixels; ++p) {
      for (uint32_t c = 0; c < out_c; ++c) {
        const double e = y[size_t{s} * out_n + size_t{c} * out_pixels + p], got = b[size_t{p} * out_c + c];
        const double diff = std::isnan(got) || std::isnan(e) ? INFINITY : std::fabs(got - e);
        d.max_abs = std::max(d.max_abs, diff);
      }
    }
  }
  return d;
}

}  // namespace shoal::onnx_import
