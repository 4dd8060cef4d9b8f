// Model::from_file: in shoal::runtime, so that the core (shoal::core) needs no file system.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <sys/stat.h>

#include "shoal/model.h"

namespace shoal {

Result<Model> Model::from_file(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    return Status(StatusCode::kInvalidArgument, "'" + path + "' is " + (S_ISDIR(st.st_mode) ? "a folder" : "not a file") +
                                                    "; give a model file (.shoal)");
  }
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) {
    return Status(errno == ENOENT ? StatusCode::kNotFound : StatusCode::kIo,
                  "cannot open model file '" + path + "': " + std::strerror(errno));
  }
  std::fseek(f, 0, SEEK_END);
  const long end = std::ftell(f);
  std::fseek(f, 0, SEEK_SET);
  if (end < 0 || static_cast<unsigned long>(end) > kMaxModelBytes) {
    std::fclose(f);
    return Status(StatusCode::kCorrupt, "model file '" + path + "' is larger than 1 GiB");
  }
  const size_t size = static_cast<size_t>(end);
  const size_t alloc = (size + kWeightAlignment - 1) / kWeightAlignment * kWeightAlignment;
  std::unique_ptr<uint8_t, FreeDeleter> owned(
      static_cast<uint8_t*>(std::aligned_alloc(kWeightAlignment, alloc ? alloc : kWeightAlignment)));
  const size_t got = owned ? std::fread(owned.get(), 1, size, f) : 0;
  std::fclose(f);
  if (!owned) return Status(StatusCode::kIo, "out of memory reading '" + path + "'");
  if (got != size) return Status(StatusCode::kIo, "short read from '" + path + "'");
  Result<Model> model = adopt(std::move(owned), nullptr, size);
  if (!model.is_ok()) {
    return Status(model.status().code(), "model file '" + path + "': " + model.status().message());
  }
  return model;
}

}  // namespace shoal
