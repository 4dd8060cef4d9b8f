#include "command.h"

#include "image_files.h"

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

Result<LabelledImages> images_option(const Args& args, uint32_t limit, const Model* model) {
  const std::string dir = kFashionMnistDir;
  TensorShape in;
  std::vector<std::string> class_names;
  if (model) {
    in = model->shape(model->fb().input());
    const fb::Metadata* md = model->fb().metadata();
    if (md && md->class_names()) {
      for (const auto* n : *md->class_names()) class_names.push_back(n->str());
    }
  }
  auto crop = args.number("--center-crop", 0.0);
  if (!crop.is_ok()) return crop.status();
  auto read = read_images(args.get("--images", dir + "/t10k-images-idx3-ubyte.gz"), limit, in.h, in.w, in.c, class_names,
                          static_cast<float>(crop.value()));
  if (!read.is_ok()) return read.status();
  LabelledImages out;
  out.images = std::move(read->images);
  if (out.images.count == 0) return Status(StatusCode::kInvalidArgument, "the image file holds no images");
  if (read->labelled) {
    if (args.has("--labels")) return Status(StatusCode::kInvalidArgument, "--labels with a folder of class folders: give one or the other");
    out.labels = std::move(read->labels);
    out.labelled = true;
  } else if (args.has("--labels") || !args.has("--images")) {
    auto labels = read_idx_labels(args.get("--labels", dir + "/t10k-labels-idx1-ubyte.gz"), limit);
    if (!labels.is_ok()) return labels.status();
    out.labels = std::move(labels.value());
    out.labelled = true;
  }
  if (out.labelled && out.labels.size() != out.images.count) {
    return Status(StatusCode::kInvalidArgument, "there are " + std::to_string(out.images.count) + " images but " +
                                                    std::to_string(out.labels.size()) + " labels; pass matching files");
  }
  return out;
}

Result<std::vector<std::string>> class_names_option(const Args& args, const Model& model) {
  std::vector<std::string> names;
  if (args.has("--classes")) {
    std::FILE* f = std::fopen(args.get("--classes").c_str(), "r");
    if (!f) return Status(StatusCode::kNotFound, "cannot open the class names file " + args.get("--classes"));
    char line[1024];
    while (std::fgets(line, sizeof line, f)) {
      std::string name(line);
      while (!name.empty() && (name.back() == '\n' || name.back() == '\r')) name.pop_back();
      if (!name.empty()) names.push_back(name);
    }
    std::fclose(f);
    return names;
  }
  const fb::Metadata* md = model.fb().metadata();
  if (md && md->class_names()) {
    for (const auto* n : *md->class_names()) names.push_back(n->str());
  }
  return names;
}

Result<LabelledImages> labelled_images_option(const Args& args, uint32_t limit, const Model* model) {
  auto set = images_option(args, limit, model);
  if (set.is_ok() && !set->labelled) {
    return Status(StatusCode::kInvalidArgument, "these images have no labels: give --labels FILE (IDX), or a folder of class folders");
  }
  return set;
}

Status labels_fit(const std::vector<uint8_t>& labels, uint32_t classes, const Args& args) {
  if (uses_default_test_set(args) && classes != kFashionMnistClasses) {
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
