// Fashion-MNIST as tensors for training: the training set without its validation split,
// the validation split (the last 5000 training images, as everywhere in shoal) and the test
// set; batches in a seeded order; the VIP paper's diversity (augmentations, class imbalance).
#ifndef SHOAL_TRAIN_DATA_H_
#define SHOAL_TRAIN_DATA_H_

#include <torch/torch.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "shoal/status.h"

namespace shoal::train {

struct Split {
  torch::Tensor images;  // N x 1 x H x W, normalized with the model's mean and std
  torch::Tensor labels;  // N, int64
  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
};

struct DataSets {
  Split train, validation, test;
};

// `train_limit` > 0 keeps only the first `train_limit` training images (smoke runs);
// validation and test are always whole.
Result<DataSets> load_fashion_mnist(const std::string& dir, float mean, float std, uint32_t train_limit);

// A seeded random order of `n` indices: the same for (seed, epoch) on every machine.
std::vector<int64_t> shuffled(int64_t n, uint64_t seed, uint32_t epoch);

// Class-imbalanced subset (VIP): every image of `target` classes, `keep` of each other class.
constexpr double kImbalanceKeep = 0.7;  // the VIP paper's share of the other classes
Split imbalanced(const Split& split, const std::vector<int64_t>& target, double keep, uint64_t seed);

// Augmentations a VIP variant or slimmable member may be assigned; applied per batch with a
// seeded generator. `shift2` moves every image by -2..2 pixels each way (the usual
// Fashion-MNIST translation); `erase` blanks a random rectangle (2-20 % of the image).
enum class Augment : uint32_t {
  kFlip = 1, kRotate = 2, kContrast = 4, kBrightness = 8, kCrop6 = 16, kCrop12 = 32, kCrop20 = 64,
  kShift2 = 128, kErase = 256
};
std::string augment_names(uint32_t mask);
// "flip+shift2" (or comma-separated, or "none") -> mask; an unknown name is an error naming
// the known ones.
Result<uint32_t> parse_augment(const std::string& names);
// Applies the augmentations in `mask` to a batch: shift2 to every image, the others each to a
// random half of the images.
torch::Tensor augment(const torch::Tensor& batch, uint32_t mask, std::mt19937_64& rng);

}  // namespace shoal::train

#endif  // SHOAL_TRAIN_DATA_H_
