// shoal run: accuracy and latency of one or every subnet on an image set, labelled or not,
// and optionally every image's prediction.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>

#include "command.h"
#include "shoal/json.h"
#include "shoal/dataset.h"
#include "shoal/engine.h"
#include "shoal/stats.h"

namespace shoal::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct SubnetReport {
  std::string name;
  uint32_t images = 0, correct = 0;
  LatencySummary latency;  // milliseconds
  uint64_t macs = 0;
};

Result<std::vector<uint32_t>> pick_subnets(const Model& model, const std::string& spec) {
  std::vector<uint32_t> picked;
  if (spec == "all") {
    for (uint32_t i = 0; i < model.fb().subnets()->size(); ++i) picked.push_back(i);
    return picked;
  }
  for (const std::string& item : split_list(spec)) {
    auto s = model.find_subnet(item);
    if (!s.is_ok()) return s.status();
    picked.push_back(s.value());
  }
  return picked;
}

// --predictions FILE: one CSV row per subnet and image.
class PredictionsFile {
 public:
  // `names`: the class names (the model's, or --classes), or none.
  static Result<std::unique_ptr<PredictionsFile>> open(const std::string& path, std::vector<std::string> names,
                                                       bool all_probabilities, uint32_t classes) {
    FILE* f = std::fopen(path.c_str(), "w");
    if (!f) return Status(StatusCode::kIo, "cannot write " + path + "; check the directory exists and is writable");
    auto p = std::unique_ptr<PredictionsFile>(new PredictionsFile(f, all_probabilities));
    if (names.size() == classes) p->names_ = std::move(names);
    std::fprintf(f, "subnet,image,label,predicted,class,probability");
    for (uint32_t c = 0; all_probabilities && c < classes; ++c) std::fprintf(f, ",p%u", c);
    std::fprintf(f, "\n");
    return p;
  }
  ~PredictionsFile() {
    if (f_) std::fclose(f_);
  }
  // label < 0: unlabelled.
  void write(const std::string& subnet, uint32_t image, int label, const std::vector<float>& probabilities) {
    const uint32_t top = top_class(probabilities);
    std::fprintf(f_, "%s,%u,", subnet.c_str(), image);
    if (label >= 0) std::fprintf(f_, "%d", label);
    std::fprintf(f_, ",%u,%s,%.6g", top, csv_field(top).c_str(), probabilities[top]);
    for (size_t c = 0; all_ && c < probabilities.size(); ++c) std::fprintf(f_, ",%.6g", probabilities[c]);
    std::fprintf(f_, "\n");
  }
  Status close(const std::string& path) {
    const bool ok = !std::ferror(f_) && std::fclose(f_) == 0;
    f_ = nullptr;
    return ok ? Status::ok() : Status(StatusCode::kIo, "writing " + path + " failed (disk full?)");
  }

 private:
  PredictionsFile(FILE* f, bool all) : f_(f), all_(all) {}
  // A class name as one CSV field: quoted when it holds a comma or a quote.
  std::string csv_field(uint32_t c) const {
    if (c >= names_.size()) return "";
    const std::string& name = names_[c];
    if (name.find_first_of(",\"\n") == std::string::npos) return name;
    std::string quoted = "\"";
    for (char ch : name) quoted += ch == '"' ? std::string("\"\"") : std::string(1, ch);
    return quoted + "\"";
  }
  FILE* f_;
  bool all_;
  std::vector<std::string> names_;
};

int run_run(const Args& args) {
  auto model = Model::from_file(args.positional()[0]);
  if (!model.is_ok()) return fail("run", model.status());
  auto limit = args.count("--limit", 0);
  if (!limit.is_ok()) return fail("run", limit.status());
  auto warmup = args.number("--warmup", 3);
  if (!warmup.is_ok() || warmup.value() < 0) return fail("run", "--warmup takes a whole number of images");
  auto subnets = pick_subnets(model.value(), args.get("--subnet", "all"));
  if (!subnets.is_ok()) return fail("run", subnets.status());
  const uint32_t n_limit = limit.value();
  auto set = images_option(args, n_limit, &model.value());
  if (!set.is_ok()) return fail("run", set.status());
  const Images* images = &set->images;
  bool labelled = set->labelled;
  const std::vector<uint8_t>& labels = set->labels;
  const uint32_t classes = model->shape(model->fb().output()).c;
  if (labelled && uses_default_test_set(args) && classes != kFashionMnistClasses) {
    // Timing a model of other classes on Fashion-MNIST's images is fine; scoring it is not.
    std::fprintf(stderr, "note: the model has %u classes, Fashion-MNIST's labels 10: no accuracy (give --images and --labels "
                         "of its own data for one)\n", classes);
    labelled = false;
  }
  if (labelled) {
    const Status classes_fit = labels_fit(labels, model->shape(model->fb().output()).c, args);
    if (!classes_fit.is_ok()) return fail("run", classes_fit);
  }
  const Fit fit = args.has("--resize") ? Fit::kResize : Fit::kExact;
  std::vector<float> input;
  Status fits = image_to_input(*images, 0, model.value(), fit, &input);
  if (!fits.is_ok()) return fail("run", fits);

  auto kernels = backend_option(args);
  if (!kernels.is_ok()) return fail("run", kernels.status());
  auto threads = threads_option(args);
  if (!threads.is_ok()) return fail("run", threads.status());
  auto engine = Engine::create(model.value(), *kernels.value(), threads.value());
  if (!engine.is_ok()) return fail("run", engine.status());
  Engine& e = *engine.value();
  std::unique_ptr<PredictionsFile> predictions;
  if (args.has("--predictions")) {
    auto names = class_names_option(args, model.value());
    if (!names.is_ok()) return fail("run", names.status());
    auto opened = PredictionsFile::open(args.get("--predictions"), std::move(names.value()), args.has("--all-probabilities"),
                                        e.packed_size(0, model->fb().output()));
    if (!opened.is_ok()) return fail("run", opened.status());
    predictions = std::move(opened.value());
  } else if (args.has("--all-probabilities")) {
    return fail("run", "--all-probabilities goes with --predictions FILE");
  }
  const bool json = args.has("--json");
  Progress progress(json);
  std::vector<SubnetReport> reports;
  std::vector<float> output;
  for (uint32_t s : subnets.value()) {
    SubnetReport r;
    r.name = model->fb().subnets()->Get(s)->name()->str();
    r.macs = model->cost(s).macs;
    output.resize(e.packed_size(s, model->fb().output()));
    std::vector<double> ms;
    ms.reserve(images->count);
    for (uint32_t i = 0; i < images->count + static_cast<uint32_t>(warmup.value()); ++i) {
      const bool warm = i < warmup.value();
      const uint32_t index = warm ? i % images->count : i - static_cast<uint32_t>(warmup.value());
      Status st = image_to_input(*images, index, model.value(), fit, &input);
      const auto t0 = Clock::now();
      if (st.is_ok()) st = e.run(s, input.data(), input.size(), output.data(), output.size());
      const auto t1 = Clock::now();
      if (!st.is_ok()) return fail("run", st);
      if (warm) continue;
      ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      if (labelled) r.correct += top_class(output) == labels[index];
      if (predictions) predictions->write(r.name, index, labelled ? labels[index] : -1, output);
      progress.update(r.name, ++r.images, images->count);
    }
    r.latency = summarize(ms);
    reports.push_back(r);
  }
  progress.done();
  if (predictions) {
    const Status closed = predictions->close(args.get("--predictions"));
    if (!closed.is_ok()) return fail("run", closed);
  }

  const fb::Metadata* md = model->fb().metadata();
  const bool random = md && md->recipe() && md->recipe()->string_view().rfind("synth", 0) == 0;
  if (json) {
    Json j;
    j.begin_object().field("model", args.positional()[0]).field("images", images->count).field("backend", e.backend().name()).field("threads", e.threads())
        .field("labelled", labelled).field("random_weights", random).key("subnets").begin_array();
    for (const SubnetReport& r : reports) {
      j.begin_object().field("subnet", r.name);
      if (labelled) j.field("accuracy", double(r.correct) / r.images);
      j.field("p50_ms", r.latency.p50).field("p95_ms", r.latency.p95).field("mean_ms", r.latency.mean)
          .field("throughput_per_s", 1000.0 / r.latency.mean).field("macs", r.macs).end_object();
    }
    j.end_array().end_object();
    std::printf("%s\n", j.str().c_str());
    return 0;
  }
  std::printf("%s: %u %simages, %s kernels, %u thread(s), arena %.1f KiB, backend's weights %.1f KiB%s\n",
              args.positional()[0].c_str(), images->count, labelled ? "" : "unlabelled ", e.backend().name(), e.threads(), e.arena_bytes() / 1024.0,
              e.packed_weight_bytes() / 1024.0,
              random ? "\n(random weights from 'shoal synth': accuracy is chance level)" : "");
  std::printf("  %-10s %9s %10s %10s %12s %12s\n", "subnet", "accuracy", "p50 ms", "p95 ms", "images/s", "MMACs");
  for (const SubnetReport& r : reports) {
    char accuracy[16] = "-";
    if (labelled) std::snprintf(accuracy, sizeof(accuracy), "%.2f%%", 100.0 * r.correct / r.images);
    std::printf("  %-10s %9s %10.3f %10.3f %12.1f %12.2f\n", r.name.c_str(), accuracy, r.latency.p50, r.latency.p95, 1000.0 / r.latency.mean, r.macs / 1e6);
  }
  return 0;
}

}  // namespace

const Command kRun = {
    "run",
    "run subnets on images (Fashion-MNIST by default): accuracy, latency, predictions",
    "shoal run MODEL [--subnet S[,S...]|all] [--images FILE|DIR [--labels IDX.gz]] [--limit N] [--predictions FILE] [--json]",
    "Runs every image through each chosen subnet, one image at a time as a device would,\n"
    "and reports top-1 accuracy, latency percentiles (engine time only) and throughput.\n"
    "Images are IDX files (gzipped or not), .npy arrays or folders of PNG and JPEG files\n"
    "(resized to the model's input; a folder of class folders is labelled by them, named\n"
    "as the model's classes); labels are IDX files. The default is the Fashion-MNIST\n"
    "test set from Debian's dataset-fashion-mnist. --images without labels runs\n"
    "unlabelled images: everything but accuracy. --predictions writes a CSV row per subnet\n"
    "and image: subnet, image index, label (empty when unlabelled), predicted class index\n"
    "and name, its probability, and with --all-probabilities every class's (p0, p1, ...).",
    {{"--subnet", "S", "subnet names or widths, comma-separated, or 'all' (default)"},
     {"--images", "FILE|DIR", "IDX (grey or colour), .npy (uint8 N,H,W[,C]) or a folder of PNG/JPEG files (class folders label them); default Fashion-MNIST t10k"},
     {"--labels", "FILE", "IDX labels (default: Fashion-MNIST t10k labels with its images; none otherwise)"},
     {"--predictions", "FILE", "write each image's prediction as CSV"},
     {"--classes", "FILE", "class names, one per line, for --predictions (default: the model's)"},
     {"--center-crop", "F", "a folder's images: shorter side to the input's / F, then the centre (0.875: torchvision's 256 -> 224)"},
     {"--all-probabilities", nullptr, "with --predictions: every class's probability too"},
     {"--limit", "N", "use only the first N images"},
     {"--warmup", "N", "untimed runs before measuring each subnet (default 3)"},
     {"--resize", nullptr, "scale images to the model's input size (nearest neighbour)"},
     {"--backend", "NAME", "ref, avx2, avx512, neon or xnnpack, as this CPU and build have (default: shoal's fastest)"},
     {"--threads", "N", "threads per inference (default 1)"},
     {"--json", nullptr, "print one JSON object instead of a table"}},
    run_run,
    1,
    1,
};

}  // namespace shoal::cli
