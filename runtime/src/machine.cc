#include "shoal/machine.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <ctime>

#include "shoal/backend.h"
#include "shoal/version.h"

namespace shoal {
namespace {

// The value of the first "key : value" line of /proc/cpuinfo whose key is `key`.
std::string cpuinfo(const char* key) {
  std::FILE* f = std::fopen("/proc/cpuinfo", "r");
  if (!f) return "";
  char line[512];
  std::string value;
  const size_t n = std::strlen(key);
  while (value.empty() && std::fgets(line, sizeof(line), f)) {
    if (std::strncmp(line, key, n) != 0 || !std::strchr(line, ':')) continue;
    const char* v = std::strchr(line, ':') + 1;
    while (*v == ' ' || *v == '\t') ++v;
    value = v;
    while (!value.empty() && (value.back() == '\n' || value.back() == ' ')) value.pop_back();
  }
  std::fclose(f);
  return value;
}

// Arm's own cores, by the "CPU part" number Linux shows (the ones on Pis and Jetsons).
std::string arm_core(const std::string& part) {
  static const struct {
    unsigned part;
    const char* name;
  } kCores[] = {{0xd03, "Cortex-A53"}, {0xd04, "Cortex-A35"}, {0xd05, "Cortex-A55"}, {0xd07, "Cortex-A57"},
                {0xd08, "Cortex-A72"},  {0xd09, "Cortex-A73"}, {0xd0a, "Cortex-A75"}, {0xd0b, "Cortex-A76"},
                {0xd0c, "Neoverse-N1"}, {0xd0d, "Cortex-A77"}, {0xd40, "Neoverse-V1"}, {0xd41, "Cortex-A78"},
                {0xd42, "Cortex-A78AE"}, {0xd4f, "Neoverse-V2"}};
  const unsigned long value = std::strtoul(part.c_str(), nullptr, 0);
  for (const auto& c : kCores) {
    if (c.part == value) return c.name;
  }
  return "Arm core " + part;
}

std::string read_text(const char* path) {
  std::string text;
  if (std::FILE* f = std::fopen(path, "r")) {
    char buf[256];
    const size_t n = std::fread(buf, 1, sizeof(buf), f);
    text.assign(buf, n);
    std::fclose(f);
  }
  while (!text.empty() && (text.back() == '\0' || text.back() == '\n')) text.pop_back();
  return text;
}

}  // namespace

MachineInfo describe_machine() {
  MachineInfo m;
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) == 0) m.host = host;
  m.cpu = cpuinfo("model name");
  if (m.cpu.empty() && !cpuinfo("CPU part").empty()) m.cpu = arm_core(cpuinfo("CPU part"));
  if (m.cpu.empty()) m.cpu = "unknown";
  m.board = read_text("/proc/device-tree/model");
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  m.cpus = cpus > 0 ? static_cast<unsigned>(cpus) : 0;
  for (const Backend* k : available_backends()) m.backends.push_back(k->name());
#if defined(__clang__)
  m.compiler = "clang " __clang_version__;
#elif defined(__GNUC__)
  m.compiler = "gcc " __VERSION__;
#endif
  m.version = SHOAL_VERSION;
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char date[32];
  std::strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &utc);
  m.date = date;
  return m;
}

}  // namespace shoal
