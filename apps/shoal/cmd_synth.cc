// shoal synth: random-weight slimmable models of named architectures.
#include <cstdio>
#include <cstdlib>

#include "command.h"
#include "shoal/architectures.h"
#include "shoal/builder.h"

namespace shoal::cli {
namespace {

int run_synth(const Args& args) {
  if (!args.has("--arch") || !args.has("-o")) return fail("synth", "needs --arch NAME and -o FILE");
  std::vector<float> widths;
  if (args.has("--widths")) {
    auto parsed = parse_numbers(args.get("--widths"), "--widths");
    if (!parsed.is_ok()) return fail("synth", parsed.status());
    widths.assign(parsed->begin(), parsed->end());
  }
  auto seed = args.number("--seed", 1);
  if (!seed.is_ok()) return fail("synth", seed.status());
  auto spec = build_architecture(args.get("--arch"), widths);
  if (!spec.is_ok()) return fail("synth", spec.status());
  randomize_weights(spec.value(), static_cast<uint64_t>(seed.value()));
  const std::vector<uint8_t> bytes = serialize_model(spec.value());
  // Check what we wrote exactly as a reader will.
  auto model = Model::from_bytes(bytes.data(), bytes.size());
  if (!model.is_ok()) return fail("synth", "internal error, the model does not check: " + model.status().message());
  const std::string path = args.get("-o");
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() || std::fclose(f) != 0) {
    return fail("synth", "cannot write '" + path + "'");
  }
  std::printf("wrote %s: %s, %zu subnets, %.1f KiB\n", path.c_str(), args.get("--arch").c_str(),
              spec->subnets.size(), bytes.size() / 1024.0);
  return 0;
}

}  // namespace

const Command kSynth = {
    "synth",
    "write a random-weight slimmable model of a named architecture",
    "shoal synth --arch NAME [--widths W,W,...] [--seed S] -o FILE",
    "Writes a model with He-initialised weights and plausible batch-norm statistics, one\n"
    "batch-norm set per subnet, so the engine, the network and the scheduler can be run\n"
    "before any model is trained. Architectures:\n"
    "  fluid-cnn  Fluid paper CNN (3 conv of 16 channels + fc, 28x28x1, 10 classes) with the\n"
    "             subnets lower25, lower50, upper25 (channels 50-75%), upper50 (50-100%),\n"
    "             w0.75, w1.0; takes no --widths\n"
    "  resnet8    ResNet-8 for 28x28x1 inputs, 10 classes\n"
    "  resnet18   ResNet-18 for 224x224x3 inputs, 1000 classes",
    {{"--arch", "NAME", "fluid-cnn, resnet8 or resnet18"},
     {"--widths", "LIST", "subnet widths, default 0.25,0.5,0.75,1"},
     {"--seed", "S", "random seed (default 1); the same seed gives the same file"},
     {"-o", "FILE", "where to write the model"}},
    run_synth,
};

}  // namespace shoal::cli
