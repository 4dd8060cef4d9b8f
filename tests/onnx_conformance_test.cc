// ONNX's own backend test data (Debian's libonnx-testdata) through the importer: every case of
// the op families shoal imports, and every pytorch-converted case, is either imported and run
// on its test inputs on every CPU backend (matching ONNX's outputs), or refused with the
// reason tests/onnx/conformance.txt gives. A case that changes from one to the other, or
// one the list does not name, fails the test: the list is the record of what shoal imports.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "check_import.h"
#include "onnx_import.h"
#include "shoal/backend.h"
#include "shoal/engine.h"

namespace shoal::onnx_import {
namespace {

namespace fs = std::filesystem;

const char* const kData = "/usr/share/libonnx-testdata/data";
// The node test families of the ops shoal imports (their whole family, variants included).
const char* const kFamilies[] = {"test_conv",    "test_maxpool",  "test_averagepool", "test_batchnorm",
                                 "test_gemm",    "test_softmax",  "test_concat",      "test_relu",
                                 "test_clip",    "test_globalaveragepool", "test_flatten", "test_reshape",
                                 "test_add",     "test_sum",      "test_matmul",      "test_dropout",
                                 "test_identity", "test_constant_pad"};

struct Expected {
  bool pass = false;
  std::string reason;  // part of the refusal's message
};

std::map<std::string, Expected> read_expected() {
  std::map<std::string, Expected> out;
  std::ifstream in(SHOAL_SOURCE_DIR "/tests/onnx/conformance.txt");
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream s(line);
    std::string name, verdict;
    s >> name >> verdict;
    Expected e;
    e.pass = verdict == "pass";
    std::getline(s, e.reason);
    e.reason.erase(0, e.reason.find_first_not_of(' '));
    out[name] = e;
  }
  return out;
}

std::vector<std::string> cases() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::path(kData) / "node", ec)) {
    const std::string n = e.path().filename().string();
    for (const char* f : kFamilies) {
      if (n.rfind(f, 0) == 0) out.push_back("node/" + n);
    }
  }
  for (const auto& e : fs::directory_iterator(fs::path(kData) / "pytorch-converted", ec)) {
    out.push_back("pytorch-converted/" + e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// The part of a refusal the list keeps: the first refused node's reason (without the list of
// what shoal imports), or a whole-graph reason without the file's path.
std::string reason_of(const std::string& message) {
  std::string line = message;
  const size_t node = message.find("\n  node '");
  if (node != std::string::npos) {
    line = message.substr(node + 3);
    line = line.substr(0, line.find('\n'));
    line = line.substr(line.find("): ") + 3);
  } else if (message.find("\n  ") != std::string::npos) {
    line = message.substr(message.find("\n  ") + 3);
  } else if (message.find(".onnx: ") != std::string::npos) {
    line = message.substr(message.find(".onnx: ") + 7);
  } else if (message.find(".pb: ") != std::string::npos) {
    line = message.substr(message.find(".pb: ") + 5);
  }
  return line.substr(0, line.find(" (it imports:"));
}

// Imports one case and runs it on every CPU backend; "" when it matched, else why not.
std::string run_case(const std::string& name, bool* refused) {
  *refused = false;
  const std::string model = std::string(kData) + "/" + name + "/model.onnx";
  ImportOptions options;
  Result<std::vector<TestData>> sets = read_test_sets(model, &options.constants);
  if (!sets.is_ok()) {
    *refused = true;
    return sets.status().message();
  }
  Result<ModelSpec> spec = import_onnx({model}, options);
  if (!spec.is_ok()) {
    *refused = true;
    return spec.status().message();
  }
  const std::vector<uint8_t> bytes = serialize_model(spec.value());
  Result<Model> m = Model::from_bytes(bytes.data(), bytes.size());
  if (!m.is_ok()) return "the imported model does not load: " + m.status().message();
  for (const Backend* b : available_backends()) {
    if (!b->host_memory()) continue;
    for (const TestData& t : sets.value()) {
      Result<Difference> d = compare(m.value(), 0, *b, t);
      if (!d.is_ok()) return std::string(b->name()) + ": " + d.status().message();
      if (!(d.value().relative() <= 1e-4)) {
        return std::string(b->name()) + ": largest difference " + std::to_string(d.value().max_abs) + " (" +
               std::to_string(d.value().relative()) + " of the range)";
      }
    }
  }
  return "";
}

TEST(OnnxConformance, EveryCaseImportsAndMatchesOrIsRefusedAsListed) {
  ASSERT_TRUE(fs::exists(kData)) << kData << " is missing: install libonnx-testdata (scripts/setup does)";
  const std::map<std::string, Expected> expected = read_expected();
  const std::vector<std::string> all = cases();
  ASSERT_GT(all.size(), 100u) << "fewer ONNX test cases than Debian's libonnx-testdata 1.12 has";
  int passed = 0, refused_count = 0;
  for (const std::string& name : all) {
    bool refused = false;
    const std::string why = run_case(name, &refused);
    const std::string reason = refused ? reason_of(why) : why;
    auto it = expected.find(name);
    if (it == expected.end()) {
      ADD_FAILURE() << name << " is not in tests/onnx/conformance.txt; its line would be:\n"
                    << name << (why.empty() ? " pass" : refused ? " refused " + reason_of(why) : " FAILS: " + why);
      continue;
    }
    if (it->second.pass) {
      EXPECT_EQ(why, "") << name << " was listed as passing";
      passed += why.empty();
    } else {
      EXPECT_TRUE(refused) << name << " was listed as refused (" << it->second.reason << ") but "
                           << (why.empty() ? "now imports and matches: list it as pass" : why);
      if (refused) {
        EXPECT_EQ(reason, it->second.reason) << name << " is refused for another reason than listed:\n  " << why;
      }
      refused_count += refused;
    }
  }
  for (const auto& [name, e] : expected) {
    EXPECT_TRUE(std::find(all.begin(), all.end(), name) != all.end()) << name << " is listed but not in " << kData;
  }
  std::printf("%d cases imported and matched on every CPU backend, %d refused as listed\n", passed, refused_count);
}

// Refusals name every node shoal cannot run, with its op, attributes and opset.
TEST(OnnxConformance, ARefusalNamesTheNodeItsOpAttributesAndOpset) {
  ImportOptions options;
  const std::string model = std::string(kData) + "/node/test_maxpool_2d_dilations/model.onnx";
  Result<std::vector<TestData>> sets = read_test_sets(model, &options.constants);
  ASSERT_TRUE(sets.is_ok()) << sets.status().message();
  Result<ModelSpec> spec = import_onnx({model}, options);
  ASSERT_FALSE(spec.is_ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kUnsupported);
  const std::string& m = spec.status().message();
  for (const char* part : {"node 'y'", "MaxPool", "opset 12", "dilations=[2,2]", "kernel_shape=[2,2]", "strides=[1,1]",
                           "dilated pooling", "nothing was written"}) {
    EXPECT_NE(m.find(part), std::string::npos) << part << " missing from: " << m;
  }
}

// Random truncations and bit flips of real ONNX files never crash the importer: each is refused
// with a message, or imports as a model that loads and runs. (ASan runs this too.)
TEST(OnnxImport, MutatedModelsAreRefusedOrRunNeverCrash) {
  const char* const seeds[] = {"pytorch-converted/test_Conv2d", "pytorch-converted/test_BatchNorm2d_eval",
                               "pytorch-converted/test_MaxPool2d", "pytorch-converted/test_Linear",
                               "pytorch-converted/test_AvgPool2d", "node/test_conv_with_strides_padding",
                               "node/test_gemm_default_vector_bias", "node/test_softmax_example"};
  const fs::path dir = fs::temp_directory_path() / ("shoal_onnx_fuzz_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string file = (dir / "m.onnx").string();
  // SHOAL_ONNX_FUZZ_ROUNDS and _SEED run it longer or elsewhere (300 per model, seed 7, in the suite).
  const char* rounds_env = std::getenv("SHOAL_ONNX_FUZZ_ROUNDS");
  const char* seed_env = std::getenv("SHOAL_ONNX_FUZZ_SEED");
  const int rounds = rounds_env ? std::atoi(rounds_env) : 300;
  std::mt19937 rng(seed_env ? static_cast<uint32_t>(std::atoi(seed_env)) : 7u);
  int imported = 0, refused = 0;
  for (const char* seed : seeds) {
    const std::string path = std::string(kData) + "/" + seed + "/model.onnx";
    std::ifstream in(path, std::ios::binary);
    const std::string good((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_FALSE(good.empty()) << path;
    ImportOptions options;
    ASSERT_TRUE(read_test_sets(path, &options.constants).is_ok());
    for (int round = 0; round < rounds; ++round) {
      std::string bytes = good;
      if (round % 5 == 0) {
        bytes.resize(std::uniform_int_distribution<size_t>(0, good.size() - 1)(rng));
      } else {
        for (int f = std::uniform_int_distribution<int>(1, 3)(rng); f > 0; --f) {
          const size_t at = std::uniform_int_distribution<size_t>(0, bytes.size() - 1)(rng);
          bytes[at] = static_cast<char>(bytes[at] ^ (1 << std::uniform_int_distribution<int>(0, 7)(rng)));
        }
      }
      std::ofstream(file, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      Result<ModelSpec> spec = import_onnx({file}, options);
      if (!spec.is_ok()) {
        ++refused;
        EXPECT_FALSE(spec.status().message().empty());
        continue;
      }
      ++imported;
      const std::vector<uint8_t> model_bytes = serialize_model(spec.value());
      Result<Model> m = Model::from_bytes(model_bytes.data(), model_bytes.size());
      ASSERT_TRUE(m.is_ok()) << seed << " round " << round << ": the importer made a model that does not load: "
                             << m.status().message();
      const size_t elements = m->packed_size(uint32_t{0}, m->fb().input());
      if (elements > (1u << 22)) continue;  // a mutated input size: loads, too big to run here
      Result<std::unique_ptr<Engine>> engine = Engine::create(m.value(), ref_backend());
      if (!engine.is_ok()) continue;  // too large an arena is an error, not a crash
      std::vector<float> x(elements, 0.25f), y(m->packed_size(uint32_t{0}, m->fb().output()));
      EXPECT_TRUE(engine.value()->run(0, x.data(), x.size(), y.data(), y.size()).is_ok());
    }
  }
  fs::remove_all(dir);
  std::printf("%d mutated models imported and ran, %d refused\n", imported, refused);
  EXPECT_GT(imported, 0);
  EXPECT_GT(refused, 0);
}

}  // namespace
}  // namespace shoal::onnx_import
