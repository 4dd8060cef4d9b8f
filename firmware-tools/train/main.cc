// shoal-train: makes ensemble members for shoal from Fashion-MNIST (see recipes.h).
#include <malloc.h>

#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "command_line.h"
#include "recipes.h"
#include "shoal/architectures.h"
#include "shoal/dataset.h"

namespace {

using shoal::cli::Args;

int train(const Args& args) {
  using namespace shoal::train;
  const std::string recipe = args.positional()[0];
  RecipeOptions o;
  Context ctx;
  const auto number = [&](const char* name, double fallback) {
    shoal::Result<double> v = args.number(name, fallback);
    if (!v.is_ok()) throw std::invalid_argument(v.status().message());
    if (v.value() < 0) throw std::invalid_argument(std::string(name) + " cannot be negative");
    return v.value();
  };
  o.arch = args.get("--arch", recipe == "fluid" ? "fluid-cnn" : "resnet8");
  o.seed = static_cast<uint64_t>(number("--seed", 1));
  o.epochs = static_cast<uint32_t>(number("--epochs", 10));
  o.members = static_cast<uint32_t>(number("--members", 1));
  o.keep = static_cast<uint32_t>(number("--keep", o.members));
  o.student = args.get("--student", "resnet8-s2");
  o.diversity = args.get("--diversity", recipe == "slimmable" ? "seed" : "augment");
  shoal::Result<uint32_t> augment = shoal::train::parse_augment(args.get("--augment", "none"));
  if (!augment.is_ok()) throw std::invalid_argument("--augment: " + augment.status().message());
  o.augment = augment.value();
  o.variants = static_cast<uint32_t>(number("--variants", 4));
  o.alpha = number("--alpha", 0.5);
  o.frozen_epochs = static_cast<uint32_t>(number("--frozen-epochs", 1));
  ctx.batch = static_cast<int64_t>(number("--batch", 128));
  ctx.lr = number("--lr", 0.1);
  ctx.quiet = args.has("--quiet");
  ctx.out_dir = args.get("--out", "trained");
  const int threads = static_cast<int>(number("--threads", 0));
  if (o.epochs == 0 || o.members == 0 || ctx.batch == 0) throw std::invalid_argument("--epochs, --members and --batch must be at least 1");
  if (o.alpha > 1) throw std::invalid_argument("--alpha is a weight in [0, 1]");
  // Debian's libtorch 1.13 otherwise returns freed tensors to the kernel and faults them back
  // in every step (epoch times swing 3x), and picks its own thread count.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  torch::set_num_threads(threads > 0 ? threads : 1);
  torch::set_num_interop_threads(1);
  const std::string device = args.get("--device", "auto");
  if (device == "cuda" || (device == "auto" && torch::cuda::is_available())) {
    if (!torch::cuda::is_available()) throw std::invalid_argument("--device cuda: this libtorch sees no CUDA GPU");
    ctx.device = torch::kCUDA;
  } else if (device != "cpu" && device != "auto") {
    throw std::invalid_argument("--device is auto, cpu or cuda, not '" + device + "'");
  }
  shoal::Result<shoal::ModelSpec> arch = shoal::build_architecture(o.arch, o.arch == "fluid-cnn" ? std::vector<float>{} : std::vector<float>{1.0f});
  if (!arch.is_ok()) throw std::invalid_argument(arch.status().message());
  const std::string data_dir = args.get("--data", shoal::kFashionMnistDir);
  shoal::Result<DataSets> data = load_fashion_mnist(data_dir, arch->metadata.input_mean, arch->metadata.input_std,
                                                    static_cast<uint32_t>(number("--train-limit", 0)));
  if (!data.is_ok()) {
    throw std::invalid_argument(data.status().message() + " (install Debian's dataset-fashion-mnist, or pass --data DIR)");
  }
  ctx.data = &data.value();
  std::filesystem::create_directories(ctx.out_dir);
  if (!ctx.quiet) {
    std::fprintf(stderr, "shoal-train %s: %s, %lld training / %lld validation / %lld test images, %d thread(s), %s\n",
                 recipe.c_str(), o.arch.c_str(), static_cast<long long>(data->train.size()),
                 static_cast<long long>(data->validation.size()), static_cast<long long>(data->test.size()),
                 torch::get_num_threads(), ctx.device.is_cuda() ? "CUDA" : "CPU");
  }
  std::vector<Trained> trained;
  if (recipe == "slimmable") trained = train_slimmable(o, ctx);
  else if (recipe == "fluid") trained = train_fluid(o, ctx);
  else if (recipe == "vip") trained = train_vip(o, ctx);
  else throw std::invalid_argument("unknown recipe '" + recipe + "'; choose slimmable, fluid or vip");
  for (const Trained& t : trained) std::printf("wrote %s\n", t.path.c_str());
  return 0;
}

int run_train(const Args& args) {
  try {
    return train(args);
  } catch (const c10::Error& e) {  // libtorch's own, without its backtrace
    std::fprintf(stderr, "shoal-train: libtorch: %s\n", e.what_without_backtrace());
    return 1;
  } catch (const std::exception& e) {  // bad options, unreadable data, libtorch errors
    std::fprintf(stderr, "shoal-train: %s\n", e.what());
    return 1;
  }
}

const shoal::cli::Command kTrain = {
    "",
    "train ensemble members",
    "shoal-train RECIPE [--arch A] [--epochs N] [--seed S] [--out DIR] [options]",
    "Trains members for shoal on Fashion-MNIST and writes .shoal files with their recipe, seed,\n"
    "epochs and per-subnet validation and test accuracy. The last 5000 training images are\n"
    "held out for validation; the test set is only used for the final numbers. A run is\n"
    "reproducible for a given seed and --threads, writes a checkpoint to DIR/checkpoints after\n"
    "every epoch, and resumes from it when started again with the same options.\n\n"
    "recipes:\n"
    "  slimmable  switchable batch-norm, sandwich rule with inplace distillation, widths\n"
    "             0.25/0.5/0.75/1.0 (resnet8, fluid-cnn); --members M --keep K trains M seeds\n"
    "             and keeps the K best on validation (the AdaEnsemble paper's members)\n"
    "  fluid      the Fluid paper's nested incremental training (fluid-cnn): lower25, lower50,\n"
    "             w0.75, w1.0, then upper25 and upper50, each usable alone; one iteration per epoch\n"
    "  vip        a teacher (--arch, full width), then --variants students (--student, sliced after\n"
    "             a ReLU and initialized from the teacher) trained with alpha*CE + (1-alpha)*KL,\n"
    "             made diverse by --diversity augment|imbalance, and one baseline student without\n"
    "             diversity",
    {{"--arch", "NAME", "architecture (resnet8, fluid-cnn, ...; default resnet8, fluid-cnn for fluid)"},
     {"--epochs", "N", "epochs (fluid: iterations of Algorithm 1); default 10"},
     {"--seed", "S", "seed of the first member; default 1"},
     {"--out", "DIR", "where models and checkpoints go; default ./trained"},
     {"--members", "M", "slimmable: members to train, seeds S..S+M-1; default 1"},
     {"--keep", "K", "slimmable: members kept (best mean validation accuracy); default M"},
     {"--student", "ARCH", "vip: student architecture; default resnet8-s2"},
     {"--diversity", "HOW", "vip: augment or imbalance (default augment); slimmable: seed (default), augment or\n"
                            "imbalance (the member with seed S also gets none / contrast+brightness / crop12 /\n"
                            "erase, or sees all of class 0 / 2 / 4 / 6 and 70% of the rest, by S mod 4)"},
     {"--augment", "LIST", "slimmable, vip: augmentations every model gets, e.g. flip+shift2 (flip, shift2, erase,\n"
                           "crop6/12/20, contrast, brightness, rotate90); default none"},
     {"--variants", "N", "vip: diverse students; default 4"},
     {"--alpha", "A", "vip: weight of the label loss against distillation; default 0.5"},
     {"--frozen-epochs", "N", "vip: epochs training only the student's new head; default 1"},
     {"--batch", "N", "batch size; default 128"},
     {"--lr", "LR", "peak learning rate (SGD, Nesterov, cosine); default 0.1"},
     {"--threads", "N", "CPU threads; default 1 (results depend on it)"},
     {"--device", "DEV", "auto, cpu or cuda; default auto (a CUDA GPU when libtorch sees one)"},
     {"--train-limit", "N", "train on the first N training images only (smoke runs)"},
     {"--data", "DIR", "Fashion-MNIST IDX files; default /usr/share/datasets/fashion-mnist"},
     {"--quiet", nullptr, "no progress on stderr"}},
    run_train,
    1,
    1,
    "shoal-train"};

}  // namespace

int main(int argc, char** argv) { return shoal::cli::run_command(kTrain, argc - 1, argv + 1); }
