// shoal pack: a model with its weights packed for one backend, used in place at load.
#include <cstdio>

#include "command.h"
#include "shoal/builder.h"
#include "shoal/engine.h"

namespace shoal::cli {
namespace {

int run_pack(const Args& args) {
  if (!args.has("--for") || !args.has("-o")) return fail("pack", "needs --for BACKEND and -o FILE");
  const std::string backend = args.get("--for");
  const uint32_t block = weight_block_of(backend);
  if (!block && backend != "none") {
    return fail("pack", "backend '" + backend + "' packs no weights; use avx2, avx512 or neon (or none to unpack)");
  }
  auto model = Model::from_file(args.positional()[0]);
  if (!model.is_ok()) return fail("pack", model.status());
  const std::vector<uint8_t> bytes = pack_model(model.value(), block);
  auto packed = Model::from_bytes(bytes.data(), bytes.size());  // checked as any reader will
  if (!packed.is_ok()) return fail("pack", "internal error, the packed model does not check: " + packed.status().message());
  const Status written = write_file(args.get("-o"), bytes.data(), bytes.size());
  if (!written.is_ok()) return fail("pack", written);
  std::printf("wrote %s: %.1f KiB (was %.1f KiB), %s\n", args.get("-o").c_str(), bytes.size() / 1024.0,
              model->size() / 1024.0,
              block ? ("weights packed in blocks of " + std::to_string(block) + " output channels").c_str()
                    : "packed weights removed");
  if (const Backend* here = find_backend(backend)) {
    auto before = Engine::required_bytes(model.value(), *here);
    auto after = Engine::required_bytes(packed.value(), *here);
    if (before.is_ok() && after.is_ok()) {
      std::printf("engine memory with %s kernels: %zu bytes (was %zu)\n", backend.c_str(), after.value(),
                  before.value());
    }
  }
  return 0;
}

}  // namespace

const Command kPack = {
    "pack",
    "pack a model's weights for one backend, so engines use them in place",
    "shoal pack MODEL --for BACKEND -o FILE",
    "Adds to the model a copy of every convolution and linear layer's weights in the layout\n"
    "a backend's kernels read (blocks of 4 output channels for neon, 8 for avx2, 16 for\n"
    "avx512). An engine with those kernels then uses them straight from the model (from\n"
    "flash, with `shoal embed`) instead of packing a copy into its memory at create: engine\n"
    "memory drops by the weights' size. Other backends still run the file, from its unpacked\n"
    "weights. The file grows by about the weights' size. --for none removes packed weights.",
    {{"--for", "BACKEND", "neon, avx2, avx512 (need not be this machine's), or none"},
     {"-o", "FILE", "where to write the packed model"}},
    run_pack,
    1,
    1,
};

}  // namespace shoal::cli
