// In a file of its own so that a worker, which reads a key but no cluster file, links
// neither the JSON parser nor iostreams.
#include "shoal/net/key_file.h"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace shoal::net {

Result<std::string> load_key_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return Status(StatusCode::kNotFound, "cannot open key file '" + path + "': " + std::strerror(errno));
  char buf[4097];
  const size_t n = std::fread(buf, 1, sizeof(buf), f);
  std::fclose(f);
  if (n == sizeof(buf)) {
    return Status(StatusCode::kInvalidArgument, "key file '" + path + "' is larger than 4 KiB; is it the right file?");
  }
  std::string key(buf, n);
  while (!key.empty() && std::isspace(static_cast<unsigned char>(key.back()))) key.pop_back();
  if (key.size() < 16) {
    return Status(StatusCode::kInvalidArgument, "key file '" + path + "' holds " + std::to_string(key.size()) +
                                                    " bytes; use at least 16 (e.g. head -c 32 /dev/urandom | base64 > shoal.key)");
  }
  return key;
}

}  // namespace shoal::net
