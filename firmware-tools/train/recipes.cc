#include "recipes.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "shoal/architectures.h"

namespace shoal::train {
namespace {

// `nested_only` keeps the subnets that start at channel 0 (slimmable widths): fluid-cnn's
// upper subnets are the fluid recipe's.
SlimNet make_net(const std::string& arch, const std::vector<float>& widths, uint64_t seed, bool nested_only = false) {
  Result<ModelSpec> spec = build_architecture(arch, widths);
  if (!spec.is_ok()) throw std::invalid_argument(spec.status().message());
  if (nested_only) {
    std::vector<SubnetSpec> kept;
    for (const SubnetSpec& s : spec->subnets) {
      if (s.name.rfind("upper", 0) != 0) kept.push_back(s);
    }
    spec->subnets = kept;
  }
  torch::manual_seed(seed);
  SlimNet net(std::move(spec).value());
  net->initialize();
  return net;
}

std::vector<std::string> subnet_names(const ModelSpec& spec) {
  std::vector<std::string> names;
  for (const SubnetSpec& s : spec.subnets) names.push_back(s.name);
  return names;
}

// A job that trains `net` on the whole training split and reports every subnet's validation
// accuracy; recipes add their losses (phases) and what else differs.
Job make_job(std::string name, SlimNet net, uint32_t epochs, uint64_t seed, const Context& ctx) {
  Job job;
  job.name = std::move(name);
  job.net = net;
  job.train = &ctx.data->train;
  job.epochs = epochs;
  job.seed = seed;
  job.report = subnet_names(net->spec());
  return job;
}

void print_row(const std::string& label, const std::vector<std::pair<std::string, double>>& cells) {
  std::printf("  %-28s", label.c_str());
  for (const auto& [name, acc] : cells) std::printf("  %s %6.2f%%", name.c_str(), 100.0 * acc);
  std::printf("\n");
}

std::vector<std::pair<std::string, double>> test_row(SlimNet& net, const Context& ctx) {
  std::vector<std::pair<std::string, double>> row;
  for (size_t s = 0; s < net->spec().subnets.size(); ++s) {
    row.emplace_back(net->spec().subnets[s].name, accuracy(net, static_cast<uint32_t>(s), ctx.data->test, ctx));
  }
  return row;
}

double mean_validation(SlimNet& net, const Context& ctx) {
  double sum = 0;
  for (size_t s = 0; s < net->spec().subnets.size(); ++s) {
    sum += accuracy(net, static_cast<uint32_t>(s), ctx.data->validation, ctx);
  }
  return sum / static_cast<double>(net->spec().subnets.size());
}

// Cross-entropy on the labels at one subnet, the batch augmented by `mask` (data.h) first.
LossFn cross_entropy(SlimNet net, uint32_t subnet, uint32_t mask = 0) {
  return [net, subnet, mask](const torch::Tensor& x, const torch::Tensor& y, std::mt19937_64& rng) mutable {
    return torch::cross_entropy_loss(net->forward(mask ? augment(x, mask, rng) : x, subnet, true), y);
  };
}

}  // namespace

std::vector<Trained> train_slimmable(const RecipeOptions& o, const Context& ctx) {
  if (o.diversity != "seed" && o.diversity != "augment" && o.diversity != "imbalance") {
    throw std::invalid_argument("slimmable --diversity is seed, augment or imbalance, not '" + o.diversity + "'");
  }
  // Besides its seed S (initial weights and data order), by S % 4 (so members trained in
  // separate runs get the same as in one): --diversity augment adds kExtras[S % 4] to the
  // augmentations every member gets; --diversity imbalance trains on all of the garment class
  // kHardClasses[S % 4] and 70 % of every other class (VIP's class imbalance, aimed at the
  // four classes Fashion-MNIST's members confuse most: T-shirt, pullover, coat, shirt).
  const uint32_t kExtras[] = {0, uint32_t(Augment::kContrast) | uint32_t(Augment::kBrightness), uint32_t(Augment::kCrop12),
                              uint32_t(Augment::kErase)};
  const int64_t kHardClasses[] = {0, 2, 4, 6};
  std::vector<Split> subsets(o.members);
  struct Candidate {
    SlimNet net{nullptr};
    uint64_t seed;
    double val;
    uint32_t augment;
    int64_t favoured;  // --diversity imbalance: the class seen whole
  };
  std::vector<Candidate> candidates;
  for (uint32_t m = 0; m < o.members; ++m) {
    const uint64_t seed = o.seed + m;
    SlimNet net = make_net(o.arch, {}, seed, true);
    const std::vector<std::string> widths = subnet_names(net->spec());
    const uint32_t widest = static_cast<uint32_t>(widths.size() - 1);
    Job job = make_job(o.arch + "-slim-s" + std::to_string(seed), net, o.epochs, seed, ctx);
    const uint32_t mask = o.augment | (o.diversity == "augment" ? kExtras[seed % 4] : 0u);
    if (!ctx.quiet && mask != 0) std::fprintf(stderr, "[%s] augment %s\n", job.name.c_str(), augment_names(mask).c_str());
    int64_t favoured = -1;
    if (o.diversity == "imbalance") {
      favoured = kHardClasses[seed % 4];
      subsets[m] = imbalanced(ctx.data->train, {favoured}, kImbalanceKeep, seed);
      job.train = &subsets[m];
      if (!ctx.quiet) {
        std::fprintf(stderr, "[%s] all of class %lld, 70%% of the rest\n", job.name.c_str(), static_cast<long long>(favoured));
      }
    }
    // Sandwich rule with inplace distillation: the widest learns from the labels, every
    // narrower width from the widest's (detached) predictions, in one step.
    job.phases.push_back([net, widest, mask](const torch::Tensor& batch, const torch::Tensor& y, std::mt19937_64& rng) mutable {
      const torch::Tensor x = augment(batch, mask, rng);
      const torch::Tensor full = net->forward(x, widest, true);
      torch::Tensor loss = torch::cross_entropy_loss(full, y);
      for (uint32_t s = 0; s < widest; ++s) loss = loss + distillation_loss(net->forward(x, s, true), full);
      return loss;
    });
    run_job(job, ctx);
    candidates.push_back({net, seed, mean_validation(net, ctx), mask, favoured});
  }
  std::vector<size_t> order(candidates.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return candidates[a].val > candidates[b].val; });
  std::printf("slimmable %s: %u members trained, best %u kept by mean validation accuracy over widths\n",
              o.arch.c_str(), o.members, std::min(o.keep, o.members));
  std::vector<Trained> paths;
  for (size_t rank = 0; rank < order.size(); ++rank) {
    Candidate& c = candidates[order[rank]];
    const bool kept = rank < o.keep;
    const std::string name = o.arch + "-slim-s" + std::to_string(c.seed);
    char label[96];
    std::snprintf(label, sizeof(label), "%s%s (val %.2f%%) test", kept ? "" : "dropped ", name.c_str(), 100.0 * c.val);
    print_row(label, test_row(c.net, ctx));
    const std::string recipe = "slimmable (sandwich rule, inplace distillation, switchable BN" +
                               (c.augment != 0 ? "; augment " + augment_names(c.augment) : std::string()) +
                               (c.favoured >= 0 ? "; all of class " + std::to_string(c.favoured) + ", 70% of the rest"
                                                : std::string()) +
                               ")";
    if (kept) paths.push_back({export_model(c.net, name, recipe, c.seed, o.epochs, ctx), c.net});
  }
  return paths;
}

std::vector<Trained> train_fluid(const RecipeOptions& o, const Context& ctx) {
  SlimNet net = make_net(o.arch, {}, o.seed);
  for (const char* needed : {"lower25", "lower50", "w0.75", "w1.0", "upper25", "upper50"}) {
    net->subnet_index(needed);  // throws for an architecture without the Fluid subnets
  }
  Job job = make_job(o.arch + "-fluid-s" + std::to_string(o.seed), net, o.epochs, o.seed, ctx);
  // Algorithm 1, one iteration per epoch: the nested models grow 25 -> 50 -> 75 -> 100 %,
  // then the upper 25 % and upper 50 % models are re-trained on their own channels. All of
  // them are slices of one weight tensor, so "copy the weights" is sharing them.
  for (const char* s : {"lower25", "lower50", "w0.75", "w1.0", "upper25", "upper50"}) {
    job.phases.push_back(cross_entropy(net, net->subnet_index(s)));
  }
  run_job(job, ctx);
  std::printf("fluid %s (Algorithm 1, %u iterations):\n", o.arch.c_str(), o.epochs);
  std::vector<std::pair<std::string, double>> row = test_row(net, ctx);
  const torch::Tensor both = (probabilities(net, net->subnet_index("lower50"), ctx.data->test, ctx) +
                              probabilities(net, net->subnet_index("upper50"), ctx.data->test, ctx)) / 2;
  row.emplace_back("lower50+upper50 averaged", accuracy(both, ctx.data->test));
  print_row(job.name + " test", row);
  return {{export_model(net, job.name, "fluid (nested incremental training, Algorithm 1)", o.seed, o.epochs, ctx), net}};
}

std::vector<Trained> train_vip(const RecipeOptions& o, const Context& ctx) {
  if (o.diversity != "augment" && o.diversity != "imbalance") {
    throw std::invalid_argument("--diversity is augment or imbalance, not '" + o.diversity + "'");
  }
  std::vector<Trained> paths;
  // The teacher: the full architecture at full width only, trained on the labels, with the
  // augmentations every model of the run gets (--augment).
  const std::string base = o.augment ? " (augment " + augment_names(o.augment) + ")" : "";
  SlimNet teacher = make_net(o.arch, {1.0f}, o.seed);
  Job tj = make_job(o.arch + "-vip-teacher-s" + std::to_string(o.seed), teacher, o.epochs, o.seed, ctx);
  tj.phases.push_back(cross_entropy(teacher, 0, o.augment));
  run_job(tj, ctx);
  paths.push_back({export_model(teacher, tj.name, "vip teacher" + base, o.seed, o.epochs, ctx), teacher});
  teacher->eval();

  // A diverse set of augmentations, one combination per variant (the paper's assignment of
  // photometric, geometric and crop transformations to variants), on top of --augment. No
  // rotation: Fashion-MNIST's garments are upright, and a variant trained on quarter turns
  // was 4 points below the others.
  const uint32_t kAugments[] = {
      uint32_t(Augment::kFlip), uint32_t(Augment::kCrop12), uint32_t(Augment::kContrast) | uint32_t(Augment::kBrightness),
      uint32_t(Augment::kErase), uint32_t(Augment::kCrop6) | uint32_t(Augment::kFlip), uint32_t(Augment::kCrop20),
      uint32_t(Augment::kBrightness) | uint32_t(Augment::kCrop6), uint32_t(Augment::kContrast) | uint32_t(Augment::kFlip)};
  // Only the combinations that add something to --augment: with flip in every model's batches, a
  // flip variant would be a second baseline with another seed.
  std::vector<uint32_t> extra;
  for (uint32_t a : kAugments) {
    if ((a & ~o.augment) != 0) extra.push_back(a);
  }
  if (o.diversity == "augment" && extra.empty()) {
    throw std::invalid_argument("--augment already gives every model every augmentation; --diversity augment has none left");
  }
  std::vector<Split> subsets(o.variants);
  std::vector<SlimNet> students;
  std::vector<std::string> names;
  for (uint32_t v = 0; v <= o.variants; ++v) {  // v == variants: the baseline, no diversity
    const bool baseline = v == o.variants;
    const uint64_t seed = o.seed + 1 + v;
    SlimNet student = make_net(o.student, {1.0f}, seed);
    const std::vector<std::string> shared = student->copy_matching(*teacher);
    // Names say the diversity, so augment and imbalance runs can share an output directory
    // (and the teacher and baseline, which they train identically).
    const std::string kind = o.diversity == "augment" ? "aug" : "imb";
    Job job = make_job(o.student + (baseline ? "-vip-baseline-s" : "-vip-" + kind + std::to_string(v) + "-s") +
                           std::to_string(seed),
                       student, o.epochs, seed, ctx);
    uint32_t mask = o.augment;
    std::string what = "baseline" + base;
    if (!baseline && o.diversity == "augment") {
      mask |= extra[v % extra.size()];
      what = "augment " + augment_names(mask);
    } else if (!baseline) {
      const int64_t target = v % 10;
      subsets[v] = imbalanced(ctx.data->train, {target}, kImbalanceKeep, seed);
      job.train = &subsets[v];
      what = "imbalance: all of class " + std::to_string(target) + ", 70% of the rest" + base;
    }
    job.frozen_epochs = o.frozen_epochs;
    job.frozen = student->parameters_of(shared);  // the teacher's layers wait while the new head learns
    const double alpha = o.alpha;
    job.phases.push_back([student, teacher, mask, alpha](const torch::Tensor& x, const torch::Tensor& y,
                                                         std::mt19937_64& rng) mutable {
      const torch::Tensor in = augment(x, mask, rng);
      torch::Tensor t;
      {
        torch::NoGradGuard no_grad;
        t = teacher->forward(in, 0, false);
      }
      const torch::Tensor s = student->forward(in, 0, true);
      return alpha * torch::cross_entropy_loss(s, y) + (1 - alpha) * distillation_loss(s, t);
    });
    if (!ctx.quiet) std::fprintf(stderr, "[%s] %s; %zu layers from the teacher\n", job.name.c_str(), what.c_str(), shared.size());
    run_job(job, ctx);
    char recipe[160];
    std::snprintf(recipe, sizeof(recipe), "vip student (%s, alpha %.2f)", what.c_str(), alpha);
    paths.push_back({export_model(student, job.name, recipe, seed, o.epochs, ctx), student});
    students.push_back(student);
    names.push_back(job.name);
  }
  std::printf("vip %s -> %s, diversity %s:\n", o.arch.c_str(), o.student.c_str(), o.diversity.c_str());
  print_row("teacher (T) test", test_row(teacher, ctx));
  print_row("baseline (B) test", test_row(students.back(), ctx));
  torch::Tensor sum;
  for (uint32_t v = 0; v < o.variants; ++v) {
    const torch::Tensor p = probabilities(students[v], 0, ctx.data->test, ctx);
    sum = v == 0 ? p : sum + p;
    print_row(names[v] + " test", {{"w1.0", accuracy(p, ctx.data->test)}});
  }
  if (o.variants > 0) print_row("ensemble (E) test", {{"avg", accuracy(sum, ctx.data->test)}});
  return paths;
}

}  // namespace shoal::train
