// shoal-worker: only `shoal worker`, for devices that serve and do nothing else. Its static
// aarch64 build stays small because nothing links the trainer-free tools (bench, profiler,
// data sets, the scheduler) it never runs.
#include <cstdio>
#include <cstring>

#include "command.h"

int main(int argc, char** argv) {
  if (argc >= 2 && !std::strcmp(argv[1], "--version")) {
    std::printf("shoal-worker 0.1.0 (model format version 1)\n");
    return 0;
  }
  shoal::cli::Command worker = shoal::cli::kWorker;
  worker.program = "shoal-worker";
  worker.name = "";
  worker.usage =
      "shoal-worker --model MODEL [--listen HOST:PORT] [--transport tcp|udp] [--key-file FILE] [--slowdown F] "
      "[--member NAME]";
  return shoal::cli::run_command(worker, argc - 1, argv + 1);
}
