// shoal: collaborative inference of slimmable DNNs on edge devices.
#include <cstdio>
#include <cstring>
#include <string>

#include "command.h"
#include "shoal/model.h"
#include "shoal/version.h"

namespace {

const shoal::cli::Command* const kCommands[] = {
    &shoal::cli::kDemo, &shoal::cli::kMaster, &shoal::cli::kWorker,
    &shoal::cli::kInspect, &shoal::cli::kRun, &shoal::cli::kSplit, &shoal::cli::kPartition, &shoal::cli::kProfile, &shoal::cli::kExperiment, &shoal::cli::kBench,
    &shoal::cli::kSynth, &shoal::cli::kImport, &shoal::cli::kPack, &shoal::cli::kEmbed};

void print_usage() {
  std::printf(
      "usage: shoal COMMAND [OPTIONS]\n\n"
      "Runs slimmable (dynamic-width) DNNs at any width from one weight copy.\n\ncommands:\n");
  for (const auto* c : kCommands) std::printf("  %-10s %s\n", c->name, c->summary);
  std::printf("\n'shoal COMMAND --help' describes each command.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
      !std::strcmp(argv[1], "help")) {
    print_usage();
    return argc < 2 ? 2 : 0;
  }
  if (!std::strcmp(argv[1], "--version")) {
    std::printf("shoal %s (model format version %u)\n", SHOAL_VERSION, shoal::kModelVersion);
    return 0;
  }
  for (const auto* c : kCommands) {
    if (std::strcmp(argv[1], c->name) == 0) return shoal::cli::run_command(*c, argc - 2, argv + 2);
  }
  std::fprintf(stderr, "shoal: unknown command '%s'\n\n", argv[1]);
  print_usage();
  return 2;
}
