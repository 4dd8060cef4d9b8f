// shoal synth: random-weight slimmable models of named architectures.
#include <cstdio>
#include <cstdlib>

#include "command.h"
#include "shoal/architectures.h"

namespace shoal::cli {
namespace {

int list_architectures() {
  for (const ArchitectureInfo& a : architectures()) {
    std::printf("%-12s %s\n", a.name, a.summary);
    if (a.min_side) std::printf("%-12s input sides %u (default) or %u to %u\n", "", a.side, a.min_side, kMaxArchitectureSide);
  }
  return 0;
}

int run_synth(const Args& args) {
  if (args.has("--list")) return list_architectures();
  if (!args.has("--arch") || !args.has("-o")) return fail("synth", "needs --arch NAME and -o FILE");
  std::vector<float> widths;
  if (args.has("--widths")) {
    auto parsed = parse_numbers(args.get("--widths"), "--widths");
    if (!parsed.is_ok()) return fail("synth", parsed.status());
    widths.assign(parsed->begin(), parsed->end());
  }
  auto seed = args.number("--seed", 1);
  if (!seed.is_ok()) return fail("synth", seed.status());
  auto side = args.number("--side", 0);
  if (!side.is_ok()) return fail("synth", side.status());
  auto made = synth_model_bytes(args.get("--arch"), static_cast<uint64_t>(seed.value()), widths,
                                static_cast<uint32_t>(side.value()));
  if (!made.is_ok()) return fail("synth", made.status());
  const std::vector<uint8_t>& bytes = made.value();
  // Check what we wrote exactly as a reader will.
  auto model = Model::from_bytes(bytes.data(), bytes.size());
  if (!model.is_ok()) return fail("synth", "internal error, the model does not check: " + model.status().message());
  const std::string path = args.get("-o");
  const Status written = write_file(path, bytes.data(), bytes.size());
  if (!written.is_ok()) return fail("synth", written);
  std::printf("wrote %s: %s, %u subnets, %.1f KiB\n", path.c_str(), args.get("--arch").c_str(),
              model->fb().subnets()->size(), bytes.size() / 1024.0);
  return 0;
}

}  // namespace

const Command kSynth = {
    "synth",
    "write a random-weight slimmable model of a named architecture",
    "shoal synth --arch NAME [--widths W,W,...] [--side N] [--seed S] -o FILE",
    "Writes a model with He-initialised weights and plausible batch-norm statistics, one\n"
    "batch-norm set per subnet, so the engine, the network and the scheduler can be run\n"
    "before any model is trained. `shoal synth --list` lists the architectures; the ImageNet\n"
    "ones follow their reference (torchvision) definitions, parameter for parameter.",
    {{"--arch", "NAME", "the architecture (--list shows them)"},
     {"--list", nullptr, "list the architectures with their input sides and stop"},
     {"--widths", "LIST", "subnet widths, default 0.25,0.5,0.75,1"},
     {"--side", "N", "input height and width (ImageNet architectures; default 224, 299 for inceptionv3)"},
     {"--seed", "S", "random seed (default 1); the same seed gives the same file"},
     {"-o", "FILE", "where to write the model"}},
    run_synth,
};

}  // namespace shoal::cli
