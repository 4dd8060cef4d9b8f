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
    // Another framework's file: say how to bring it in rather than only that it is not ours.
    const size_t dot = path.rfind('.');
    const std::string ext = dot == std::string::npos ? "" : path.substr(dot);
    std::string hint;
    if (ext == ".onnx") {
      hint = " (an ONNX model: convert it once with `shoal import " + path + " -o MODEL.shoal`)";
    } else if (ext == ".pt" || ext == ".pth") {
      hint = " (a PyTorch file: export it with torch.onnx.export, then `shoal import FILE.onnx -o MODEL.shoal`)";
    } else if (ext == ".tflite") {
      hint = " (a TensorFlow Lite model: shoal imports ONNX; convert it with tf2onnx, then `shoal import`)";
    }
    return Status(model.status().code(), "model file '" + path + "': " + model.status().message() + hint);
  }
  return model;
}

}  // namespace shoal
