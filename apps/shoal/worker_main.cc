// shoal-worker: only `shoal worker`, for devices that serve and do nothing else. Its static
// aarch64 build stays small because nothing links the trainer-free tools (bench, profiler,
// data sets, the scheduler) it never runs.
#include <cstdio>
#include <cstring>
#include <string>

#include "command.h"
#include "shoal/model.h"
#include "shoal/version.h"

int main(int argc, char** argv) {
  if (argc >= 2 && !std::strcmp(argv[1], "--version")) {
    std::printf("shoal-worker %s (model format version %u)\n", SHOAL_VERSION, shoal::kModelVersion);
    return 0;
  }
  shoal::cli::Command worker = shoal::cli::kWorker;
  worker.program = "shoal-worker";
  worker.name = "";
  // "shoal worker --model ..." with this program's name: the options stay kWorker's alone.
  const std::string usage = "shoal-worker" + std::string(worker.usage + std::strlen("shoal worker"));
  worker.usage = usage.c_str();
  return shoal::cli::run_command(worker, argc - 1, argv + 1);
}
