// shoal import: ONNX models into shoal models (the importer is firmware-tools/onnx).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "command.h"
#include "shoal/builder.h"

#if SHOAL_WITH_ONNX
#include "check_import.h"
#include "onnx_import.h"
#include "shoal/json.h"
#endif

namespace shoal::cli {
namespace {

#if SHOAL_WITH_ONNX
using onnx_import::Difference;
using onnx_import::ImportOptions;
using onnx_import::TestData;

Result<std::vector<float>> floats_option(const Args& args, const char* name) {
  std::vector<float> out;
  if (!args.has(name)) return out;
  Result<std::vector<double>> v = parse_numbers(args.get(name), name);
  if (!v.is_ok()) return v.status();
  for (double d : v.value()) out.push_back(static_cast<float>(d));
  return out;
}

Result<ImportOptions> import_options(const Args& args) {
  ImportOptions o;
  o.name = args.get("--name");
  if (args.has("--input-size")) {
    const std::string s = args.get("--input-size");
    unsigned h = 0, w = 0;
    char x = 0;
    if (std::sscanf(s.c_str(), "%u%c%u", &h, &x, &w) != 3 || (x != 'x' && x != 'X') || !h || !w || h > 4096 || w > 4096) {
      return Status(StatusCode::kInvalidArgument, "--input-size takes HEIGHTxWIDTH, as 224x224");
    }
    o.height = h, o.width = w;
  }
  Result<std::vector<float>> mean = floats_option(args, "--mean"), sd = floats_option(args, "--std"),
                             widths = floats_option(args, "--widths");
  for (const auto* r : {&mean, &sd, &widths}) {
    if (!r->is_ok()) return r->status();
  }
  o.mean = mean.value(), o.std = sd.value(), o.extra_widths = widths.value();
  if (o.mean.size() > 1 && o.std.size() == 1) o.std.assign(o.mean.size(), o.std[0]);
  if (o.std.size() > 1 && o.mean.empty()) o.mean.assign(o.std.size(), 0.0f);
  if (o.mean.size() > 1 && o.std.empty()) o.std.assign(o.mean.size(), 1.0f);
  if (args.has("--classes")) {
    std::ifstream in(args.get("--classes"));
    if (!in) return Status(StatusCode::kNotFound, "cannot open the class names file " + args.get("--classes"));
    for (std::string line; std::getline(in, line);) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!line.empty()) o.class_names.push_back(line);
    }
  }
  for (const std::string& c : args.has("--constant") ? split_list(args.get("--constant")) : std::vector<std::string>{}) {
    const size_t eq = c.find('=');
    if (eq == std::string::npos) return Status(StatusCode::kInvalidArgument, "--constant takes NAME=FILE");
    Result<onnx_import::HostTensor> t = onnx_import::read_tensor_file(c.substr(eq + 1));
    if (!t.is_ok()) return t.status();
    o.constants[c.substr(0, eq)] = std::move(t.value());
  }
  return o;
}

// Per ONNX file: its test sets (the given files, or the test_data_set_* folders beside it).
Result<std::vector<std::vector<TestData>>> check_data(const Args& args, const std::vector<std::string>& files,
                                                       ImportOptions& options) {
  std::vector<std::vector<TestData>> data(files.size());
  const auto list = [&](const char* name) { return args.has(name) ? split_list(args.get(name)) : std::vector<std::string>{}; };
  const std::vector<std::string> ins = list("--check-input"), outs = list("--check-output");
  if (ins.size() != outs.size() || (!ins.empty() && ins.size() != files.size())) {
    return Status(StatusCode::kInvalidArgument, "give --check-input and --check-output one file each per ONNX file");
  }
  for (size_t i = 0; i < files.size(); ++i) {
    if (!ins.empty()) {
      TestData t;
      t.name = ins[i];
      Result<onnx_import::HostTensor> a = onnx_import::read_tensor_file(ins[i]), b = onnx_import::read_tensor_file(outs[i]);
      if (!a.is_ok()) return a.status();
      if (!b.is_ok()) return b.status();
      t.input = std::move(a.value()), t.output = std::move(b.value());
      data[i].push_back(std::move(t));
      continue;
    }
    Result<std::vector<TestData>> sets = onnx_import::read_test_sets(files[i], &options.constants);
    if (!sets.is_ok()) return sets.status();
    if (sets.value().empty()) {
      return Status(StatusCode::kNotFound, "--check: no test_data_set_* beside " + files[i] +
                                               "; give --check-input and --check-output");
    }
    data[i] = std::move(sets.value());
  }
  return data;
}

int run_import(const Args& args) {
  if (!args.has("-o")) return fail("import", "needs -o FILE (where to write the shoal model)");
  const std::vector<std::string>& files = args.positional();
  Result<ImportOptions> options = import_options(args);
  if (!options.is_ok()) return fail("import", options.status());
  const bool check = args.has("--check") || args.has("--check-input");
  std::vector<std::vector<TestData>> data;
  if (check) {
    auto d = check_data(args, files, options.value());
    if (!d.is_ok()) return fail("import", d.status());
    data = std::move(d.value());
  }
  std::vector<const Backend*> backends;
  for (const std::string& name : args.has("--backends") ? split_list(args.get("--backends")) : std::vector<std::string>{}) {
    const Backend* b = find_backend(name);
    if (!b) return fail("import", "no backend '" + name + "' here (" + backend_names() + ")");
    backends.push_back(b);
  }
  if (backends.empty()) {
    for (const Backend* b : available_backends()) {
      if (b->host_memory()) backends.push_back(b);
    }
  }
  Result<double> tolerance = args.number("--tolerance", 1e-4);
  if (!tolerance.is_ok()) return fail("import", tolerance.status());

  // Progress where it takes a while (VGG16's 528 MB file takes seconds to parse and write).
  uint64_t total_bytes = 0;
  for (const std::string& f : files) {
    std::error_code ec;
    const uintmax_t size = std::filesystem::file_size(f, ec);
    total_bytes += ec ? 0 : size;
  }
  if (total_bytes > (uint64_t{64} << 20) && !args.has("--json")) {
    std::fprintf(stderr, "importing %zu file%s, %.0f MiB...\n", files.size(), files.size() == 1 ? "" : "s",
                 static_cast<double>(total_bytes) / 1048576.0);
  }
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::string> subnet_of_file;
  Result<ModelSpec> spec = onnx_import::import_onnx(files, options.value(), &subnet_of_file);
  if (!spec.is_ok()) return fail("import", spec.status());
  const std::vector<uint8_t> bytes = serialize_model(spec.value());
  Result<Model> model = Model::from_bytes(bytes.data(), bytes.size());  // checked as any reader will
  if (!model.is_ok()) return fail("import", "the imported model does not check (a bug in the importer): " + model.status().message());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const Status written = write_file(args.get("-o"), bytes.data(), bytes.size());
  if (!written.is_ok()) return fail("import", written);

  const bool json = args.has("--json");
  const Model& m = model.value();
  if (!json) {
    std::printf("wrote %s: %.1f MiB, %u subnet%s (", args.get("-o").c_str(), bytes.size() / 1048576.0,
                m.fb().subnets()->size(), m.fb().subnets()->size() == 1 ? "" : "s");
    for (uint32_t s = 0; s < m.fb().subnets()->size(); ++s) {
      const fb::Subnet* sub = m.fb().subnets()->Get(s);
      std::printf("%s%s%s", s ? ", " : "", sub->name()->c_str(), sub->untrained() ? " untrained" : "");
    }
    std::printf("), %u layers, in %.2f s\n", m.fb().nodes()->size(), seconds);
  }
  bool over = false;
  Json out;
  out.begin_object();
  out.key("output").value(args.get("-o"));
  out.key("bytes").value(static_cast<uint64_t>(bytes.size()));
  out.key("subnets").begin_array();
  for (uint32_t s = 0; s < m.fb().subnets()->size(); ++s) out.value(m.fb().subnets()->Get(s)->name()->str());
  out.end_array();
  out.key("seconds").value(seconds);
  out.key("checks").begin_array();
  for (size_t f = 0; f < data.size(); ++f) {
    Result<uint32_t> found = m.find_subnet(subnet_of_file[f]);
    if (!found.is_ok()) return fail("import", found.status());
    const uint32_t subnet = found.value();
    for (const TestData& t : data[f]) {
      for (const Backend* b : backends) {
        Result<Difference> d = onnx_import::compare(m, subnet, *b, t);
        if (!d.is_ok()) return fail("import", "--check: " + d.status().message());
        const bool bad = !(d.value().relative() <= tolerance.value());
        over = over || bad;
        const char* sub = m.fb().subnets()->Get(subnet)->name()->c_str();
        if (!json) {
          std::printf("check %s %s on %s: %u inputs, largest difference %.3g (%.3g of the output range)%s\n",
                      files[f].c_str(), t.name.c_str(), b->name(), d.value().samples, d.value().max_abs,
                      d.value().relative(), bad ? "  OVER THE TOLERANCE" : "");
        }
        out.begin_object();
        out.key("file").value(files[f]);
        out.key("data").value(t.name);
        out.key("subnet").value(sub);
        out.key("backend").value(b->name());
        out.key("samples").value(static_cast<uint64_t>(d.value().samples));
        out.key("max_abs").value(d.value().max_abs);
        out.key("relative").value(d.value().relative());
        out.key("ok").value(!bad);
        out.end_object();
      }
    }
  }
  out.end_array();
  out.end_object();
  if (json) std::printf("%s\n", out.str().c_str());
  if (over) {
    std::fprintf(stderr, "shoal import: the imported model differs from the source by more than %g of the output range\n",
                 tolerance.value());
    return 1;
  }
  return 0;
}
#else
int run_import(const Args&) {
  return fail("import", "this shoal was built without ONNX import: install libonnx-dev and libprotobuf-dev "
                        "(scripts/setup does) and build again");
}
#endif

}  // namespace

const Command kImport = {
    "import",
    "convert ONNX models (one, or one per width of a slimmable network) to a shoal model",
    "shoal import MODEL.onnx [NARROWER.onnx ...] -o OUT.shoal [--check] [options]",
    "Converts an ONNX graph (opsets 6 to 17) to a shoal model: NCHW becomes NHWC, batch-norm\n"
    "folds into each layer's scale and shift, ReLU and bias into the layer before, Pad into\n"
    "the next convolution. A graph with anything shoal cannot run is refused, every such node\n"
    "named with its op, attributes and opset, and nothing is written.\n"
    "\n"
    "One file gives one subnet, w1.0. Several files of one network at different widths (a\n"
    "slimmable network exported once per width, docs: scripts/export-slimmable) give one model\n"
    "with one weight copy: each narrower file's weights must be the leading channel slice of\n"
    "the widest's (up to a factor per output channel, which exporters' batch-norm folding\n"
    "leaves); each width gets its subnet and its own batch-norm set. --widths adds subnets cut\n"
    "from the widest that were never trained (shoal inspect marks them).\n"
    "\n"
    "--check runs the imported model on the source's test data on every CPU backend and\n"
    "reports the largest difference: ONNX's test_data_set_*/ folders beside the file, or\n"
    "--check-input and --check-output (.pb TensorProto or .npy; N inputs run as N single\n"
    "ones). It exits 1 when a difference is over --tolerance of the output's range.",
    {{"-o", "FILE", "where to write the shoal model"},
     {"--input-size", "HxW", "the input's height and width, where the graph leaves them open"},
     {"--mean", "LIST", "input mean per channel (or one), in pixel / 255 units: 0.485,0.456,0.406"},
     {"--std", "LIST", "input std per channel (or one): 0.229,0.224,0.225"},
     {"--classes", "FILE", "class names, one per line, for predictions"},
     {"--widths", "LIST", "untrained width subnets sliced from the widest, as 0.5,0.75"},
     {"--name", "NAME", "the model's name (default: the file's)"},
     {"--constant", "NAME=FILE,...", "graph inputs given as data (.pb or .npy), as ONNX tests pass weights"},
     {"--check", nullptr, "compare with the test data beside each file"},
     {"--check-input", "FILES", "inputs to compare on, one per ONNX file (.pb or .npy)"},
     {"--check-output", "FILES", "the source's outputs for them"},
     {"--backends", "LIST", "backends to check on (default: every CPU backend here)"},
     {"--tolerance", "X", "largest difference allowed, relative to the output range (default 1e-4)"},
     {"--json", nullptr, "print one JSON object (output, bytes, seconds, checks)"}},
    run_import,
    1,
    16,
};

}  // namespace shoal::cli
