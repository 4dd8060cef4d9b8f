// shoal: collaborative inference of slimmable DNNs on edge devices.
#include <cstdio>
#include <cstring>
#include <string>

#include "command.h"

namespace {

const shoal::cli::Command* const kCommands[] = {
    &shoal::cli::kDemo, &shoal::cli::kMaster, &shoal::cli::kWorker,
    &shoal::cli::kInspect, &shoal::cli::kRun, &shoal::cli::kSynth};

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
    std::printf("shoal 0.1.0 (model format version 1)\n");
    return 0;
  }
  for (const auto* c : kCommands) {
    if (std::strcmp(argv[1], c->name) != 0) continue;
    for (int i = 2; i < argc; ++i) {
      if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
        std::fputs(c->help().c_str(), stdout);
        return 0;
      }
    }
    auto args = c->parse(argc - 2, argv + 2);
    if (!args.is_ok()) return shoal::cli::fail(c->name, args.status());
    return c->run(args.value());
  }
  std::fprintf(stderr, "shoal: unknown command '%s'\n\n", argv[1]);
  print_usage();
  return 2;
}
