#include "trainer.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "shoal/model.h"

namespace shoal::train {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kCalibrationImages = 5000;

std::string duration_text(double seconds) {
  char text[32];
  const long s = std::lround(seconds);
  if (s >= 3600) std::snprintf(text, sizeof(text), "%ldh%02ldm", s / 3600, (s / 60) % 60);
  else if (s >= 60) std::snprintf(text, sizeof(text), "%ldm%02lds", s / 60, s % 60);
  else std::snprintf(text, sizeof(text), "%lds", s);
  return text;
}

std::string checkpoint_path(const Context& ctx, const std::string& name) {
  return ctx.out_dir + "/checkpoints/" + name + ".pt";
}

void save_checkpoint(const std::string& path, SlimNet& net, torch::optim::Optimizer& opt, uint32_t epoch) {
  torch::serialize::OutputArchive archive;
  net->save(archive);
  torch::serialize::OutputArchive opt_archive;
  opt.save(opt_archive);
  archive.write("optimizer", opt_archive);
  archive.write("epoch", torch::tensor(static_cast<int64_t>(epoch)));
  const std::string tmp = path + ".tmp";
  archive.save_to(tmp);
  std::filesystem::rename(tmp, path);  // a run killed while saving keeps the previous checkpoint
}

uint32_t load_checkpoint(const std::string& path, SlimNet& net, torch::optim::Optimizer& opt,
                         const torch::Device& device) {
  torch::serialize::InputArchive archive;
  archive.load_from(path, device);
  net->load(archive);
  torch::serialize::InputArchive opt_archive;
  archive.read("optimizer", opt_archive);
  opt.load(opt_archive);
  torch::Tensor epoch;
  archive.read("epoch", epoch);
  return static_cast<uint32_t>(epoch.item<int64_t>());
}

}  // namespace

torch::Tensor distillation_loss(const torch::Tensor& student_logits, const torch::Tensor& teacher_logits) {
  return torch::kl_div(torch::log_softmax(student_logits, 1), torch::softmax(teacher_logits.detach(), 1),
                       at::Reduction::Mean) * student_logits.size(1);  // batchmean
}

double run_job(Job& job, const Context& ctx) {
  job.net->to(ctx.device);
  std::vector<torch::Tensor> params = job.net->parameters();
  torch::optim::SGD opt(params, torch::optim::SGDOptions(ctx.lr).momentum(0.9).nesterov(true).weight_decay(ctx.weight_decay));
  std::filesystem::create_directories(ctx.out_dir + "/checkpoints");
  const std::string ckpt = checkpoint_path(ctx, job.name);
  uint32_t start = 0;
  if (std::filesystem::exists(ckpt)) {
    start = load_checkpoint(ckpt, job.net, opt, ctx.device);
    if (!ctx.quiet) std::fprintf(stderr, "[%s] resuming after epoch %u of %u (%s)\n", job.name.c_str(), start, job.epochs, ckpt.c_str());
  }
  const Split& data = *job.train;
  const int64_t n = data.size(), batches = (n + ctx.batch - 1) / ctx.batch;
  const int64_t total_steps = int64_t{job.epochs} * static_cast<int64_t>(job.phases.size()) * batches;
  const bool tty = isatty(STDERR_FILENO);
  double last_loss = 0;
  const auto t0 = Clock::now();
  const uint32_t end = ctx.stop_after > 0 ? std::min(job.epochs, start + ctx.stop_after) : job.epochs;
  for (uint32_t epoch = start; epoch < end; ++epoch) {
    for (torch::Tensor& p : job.frozen) p.set_requires_grad(epoch >= job.frozen_epochs);
    std::mt19937_64 rng(job.seed * 7919 + epoch);
    double loss_sum = 0;
    int64_t steps = 0;
    for (size_t phase = 0; phase < job.phases.size(); ++phase) {
      const std::vector<int64_t> order = shuffled(n, job.seed + phase * 101, epoch);
      const torch::Tensor index = torch::tensor(order, torch::kLong);
      for (int64_t b = 0; b < batches; ++b) {
        const int64_t step = (int64_t{epoch} * static_cast<int64_t>(job.phases.size()) + static_cast<int64_t>(phase)) * batches + b;
        const double lr = 0.5 * ctx.lr * (1.0 + std::cos(M_PI * static_cast<double>(step) / static_cast<double>(total_steps)));
        for (auto& group : opt.param_groups()) static_cast<torch::optim::SGDOptions&>(group.options()).lr(lr);
        const torch::Tensor idx = index.slice(0, b * ctx.batch, std::min(n, (b + 1) * ctx.batch));
        const torch::Tensor x = data.images.index_select(0, idx).to(ctx.device);
        const torch::Tensor y = data.labels.index_select(0, idx).to(ctx.device);
        opt.zero_grad();
        torch::Tensor loss = job.phases[phase](x, y, rng);
        loss.backward();
        opt.step();
        loss_sum += loss.item<double>();
        ++steps;
        if (tty && !ctx.quiet && b % 20 == 0) {
          std::fprintf(stderr, "\r[%s] epoch %u/%u  phase %zu/%zu  %3.0f%%  loss %.3f   ", job.name.c_str(), epoch + 1,
                       job.epochs, phase + 1, job.phases.size(), 100.0 * b / batches, loss_sum / steps);
        }
      }
    }
    last_loss = loss_sum / std::max<int64_t>(1, steps);
    save_checkpoint(ckpt, job.net, opt, epoch + 1);
    if (!ctx.quiet) {
      std::string val;
      for (const std::string& s : job.report) {
        char text[64];
        std::snprintf(text, sizeof(text), " %s %.2f%%", s.c_str(),
                      100.0 * accuracy(job.net, job.net->subnet_index(s), ctx.data->validation, ctx));
        val += text;
      }
      const double per_epoch = std::chrono::duration<double>(Clock::now() - t0).count() / (epoch + 1 - start);
      std::fprintf(stderr, "%s[%s] epoch %u/%u  loss %.4f  val%s  %s/epoch  %s left\n", tty ? "\r" : "",
                   job.name.c_str(), epoch + 1, job.epochs, last_loss, val.c_str(), duration_text(per_epoch).c_str(),
                   duration_text(per_epoch * (job.epochs - epoch - 1)).c_str());
    }
  }
  for (torch::Tensor& p : job.frozen) p.set_requires_grad(true);
  if (end == job.epochs) {
    // Every subnet's statistics for the final weights, from the first training images (the
    // same ones every time, so the result stays reproducible).
    const torch::Tensor calib = data.images.slice(0, 0, std::min<int64_t>(data.size(), kCalibrationImages)).to(ctx.device);
    for (uint32_t s = 0; s < job.net->spec().subnets.size(); ++s) job.net->recalibrate_batch_norm(s, calib, ctx.batch);
  }
  return last_loss;
}

torch::Tensor probabilities(SlimNet& net, uint32_t subnet, const Split& split, const Context& ctx) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  for (int64_t b = 0; b < split.size(); b += 500) {
    const torch::Tensor x = split.images.slice(0, b, std::min(split.size(), b + 500)).to(ctx.device);
    parts.push_back(torch::softmax(net->forward(x, subnet, false), 1).to(torch::kCPU));
  }
  return torch::cat(parts);
}

double accuracy(const torch::Tensor& probabilities, const Split& split) {
  return probabilities.argmax(1).eq(split.labels).to(torch::kDouble).mean().item<double>();
}

double accuracy(SlimNet& net, uint32_t subnet, const Split& split, const Context& ctx) {
  return accuracy(probabilities(net, subnet, split, ctx), split);
}

std::string export_model(SlimNet& net, const std::string& name, const std::string& recipe, uint64_t seed,
                         uint32_t epochs, const Context& ctx) {
  ModelSpec spec = net->export_spec();
  spec.name = name;
  spec.metadata.recipe = recipe;
  spec.metadata.seed = seed;
  spec.metadata.epochs = epochs;
  for (size_t s = 0; s < spec.subnets.size(); ++s) {
    spec.subnets[s].val_accuracy = static_cast<float>(accuracy(net, static_cast<uint32_t>(s), ctx.data->validation, ctx));
    spec.subnets[s].test_accuracy = static_cast<float>(accuracy(net, static_cast<uint32_t>(s), ctx.data->test, ctx));
  }
  const std::vector<uint8_t> bytes = serialize_model(spec);
  Result<Model> check = Model::from_bytes(bytes.data(), bytes.size());
  if (!check.is_ok()) throw std::runtime_error("export of " + name + " does not load: " + check.status().message());
  const std::string path = ctx.out_dir + "/" + name + ".shoal";
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
  return path;
}

}  // namespace shoal::train
