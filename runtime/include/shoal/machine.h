// What a measurement ran on, for benchmark reports: the CPU, the board, the backends this
// CPU and build offer, the compiler, shoal's version, and when.
#ifndef SHOAL_MACHINE_H_
#define SHOAL_MACHINE_H_

#include <string>
#include <vector>

namespace shoal {

struct MachineInfo {
  std::string host;                   // the host name
  std::string cpu;                    // "AMD EPYC 9R14", "Cortex-A76", or "unknown"
  std::string board;                  // "Raspberry Pi 5 Model B Rev 1.0" (device tree), or ""
  unsigned cpus = 0;                  // online CPUs
  std::vector<std::string> backends;  // the kernel tables this CPU runs, slowest first
  std::string compiler;               // what built shoal
  std::string version;                // shoal's version
  std::string date;                   // now, UTC, ISO 8601
};

MachineInfo describe_machine();

}  // namespace shoal

#endif  // SHOAL_MACHINE_H_
