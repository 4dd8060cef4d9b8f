#include "command.h"

#include "shoal/net/key_file.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace shoal::cli {

Result<const Backend*> backend_option(const Args& args) {
  if (!args.has("--backend")) return &best_backend();
  if (const Backend* k = find_backend(args.get("--backend"))) return k;
  return Status(StatusCode::kInvalidArgument,
                "no backend '" + args.get("--backend") + "' on this CPU; choose one of: " + backend_names());
}

Result<std::string> key_option(const Args& args) {
  if (!args.has("--key-file")) return std::string();
  return net::load_key_file(args.get("--key-file"));
}

Result<LabelledImages> labelled_images_option(const Args& args, uint32_t limit) {
  const std::string dir = kFashionMnistDir;
  auto images = read_idx_images(args.get("--images", dir + "/t10k-images-idx3-ubyte.gz"), limit);
  if (!images.is_ok()) return images.status();
  auto labels = read_idx_labels(args.get("--labels", dir + "/t10k-labels-idx1-ubyte.gz"), limit);
  if (!labels.is_ok()) return labels.status();
  if (labels->size() != images->count) {
    return Status(StatusCode::kInvalidArgument, "the image and label files hold different counts");
  }
  return LabelledImages{std::move(images.value()), std::move(labels.value())};
}

Status labels_fit(const std::vector<uint8_t>& labels, uint32_t classes, const Args& args) {
  if (!args.has("--labels") && classes != kFashionMnistClasses) {
    return Status(StatusCode::kInvalidArgument,
                  "the model has " + std::to_string(classes) + " classes but the default labels (Fashion-MNIST's) have " +
                      std::to_string(kFashionMnistClasses) + ": give its own data (--images with --labels), or --images "
                      "alone for predictions without accuracy");
  }
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] >= classes) {
      return Status(StatusCode::kInvalidArgument, "label " + std::to_string(labels[i]) + " (image " + std::to_string(i) +
                                                      ") is not one of the model's " + std::to_string(classes) +
                                                      " classes: are --labels for this model's dataset?");
    }
  }
  return Status::ok();
}

namespace {
sigset_t stop_signal_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}
}  // namespace

void block_stop_signals() {
  const sigset_t set = stop_signal_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void on_stop_signal(std::function<void(int signal)> stop) {
  std::thread([stop = std::move(stop)] {
    const sigset_t set = stop_signal_set();
    int signal = 0;
    sigwait(&set, &signal);
    stop(signal);
  }).detach();
}

}  // namespace shoal::cli
