#include "data.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "shoal/dataset.h"

namespace shoal::train {
namespace {

Result<Split> read_split(const std::string& dir, const std::string& prefix, float mean, float std,
                         uint32_t limit) {
  Result<Images> images = read_idx_images(dir + "/" + prefix + "-images-idx3-ubyte.gz", limit);
  if (!images.is_ok()) return images.status();
  Result<std::vector<uint8_t>> labels = read_idx_labels(dir + "/" + prefix + "-labels-idx1-ubyte.gz", limit);
  if (!labels.is_ok()) return labels.status();
  const Images& im = images.value();
  if (labels->size() != im.count) {
    return Status(StatusCode::kInvalidArgument, prefix + ": " + std::to_string(im.count) + " images but " +
                                                    std::to_string(labels->size()) + " labels");
  }
  Split s;
  s.images = torch::from_blob(const_cast<uint8_t*>(im.pixels.data()),
                              {int64_t{im.count}, int64_t{im.h}, int64_t{im.w}, int64_t{im.c}}, torch::kUInt8)
                 .permute({0, 3, 1, 2})
                 .to(torch::kFloat)
                 .div(255.0)
                 .sub(mean)
                 .div(std)
                 .contiguous();
  s.labels = torch::from_blob(labels->data(), {int64_t(labels->size())}, torch::kUInt8).to(torch::kLong);
  return s;
}

Split rows(const Split& s, int64_t lo, int64_t hi) {
  return {s.images.slice(0, lo, hi).contiguous(), s.labels.slice(0, lo, hi).contiguous()};
}

}  // namespace

Result<DataSets> load_fashion_mnist(const std::string& dir, float mean, float std, uint32_t train_limit) {
  Result<Split> all = read_split(dir, "train", mean, std, 0);
  if (!all.is_ok()) return all.status();
  Result<Split> test = read_split(dir, "t10k", mean, std, 0);
  if (!test.is_ok()) return test.status();
  const int64_t first = validation_first(static_cast<uint32_t>(all->size()));
  DataSets d;
  d.train = rows(all.value(), 0, train_limit > 0 ? std::min<int64_t>(train_limit, first) : first);
  d.validation = rows(all.value(), first, all->size());
  d.test = test.value();
  return d;
}

std::vector<int64_t> shuffled(int64_t n, uint64_t seed, uint32_t epoch) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed * 1000003ULL + epoch);
  for (int64_t i = n - 1; i > 0; --i) {  // Fisher-Yates with our own draws: portable
    const int64_t j = static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1));
    std::swap(order[i], order[j]);
  }
  return order;
}

Split imbalanced(const Split& split, const std::vector<int64_t>& target, double keep, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int64_t> chosen;
  const auto labels = split.labels.accessor<int64_t, 1>();
  for (int64_t i = 0; i < split.size(); ++i) {
    const bool is_target = std::find(target.begin(), target.end(), labels[i]) != target.end();
    const double draw = static_cast<double>(rng() >> 11) * 0x1.0p-53;
    if (is_target || draw < keep) chosen.push_back(i);
  }
  const torch::Tensor index = torch::tensor(chosen, torch::kLong);
  return {split.images.index_select(0, index), split.labels.index_select(0, index)};
}

namespace {

const std::pair<Augment, const char*> kAugmentNames[] = {
    {Augment::kFlip, "flip"},     {Augment::kRotate, "rotate90"}, {Augment::kContrast, "contrast"},
    {Augment::kBrightness, "brightness"}, {Augment::kCrop6, "crop6"}, {Augment::kCrop12, "crop12"},
    {Augment::kCrop20, "crop20"}, {Augment::kShift2, "shift2"},  {Augment::kErase, "erase"}};

}  // namespace

std::string augment_names(uint32_t mask) {
  std::string out;
  for (const auto& [bit, name] : kAugmentNames) {
    if (mask & static_cast<uint32_t>(bit)) out += std::string(out.empty() ? "" : "+") + name;
  }
  return out.empty() ? "none" : out;
}

Result<uint32_t> parse_augment(const std::string& names) {
  uint32_t mask = 0;
  size_t at = 0;
  while (at <= names.size()) {
    const size_t end = std::min(names.find_first_of("+,", at), names.size());
    const std::string name = names.substr(at, end - at);
    at = end + 1;
    if (name.empty() || name == "none") continue;
    bool known = false;
    for (const auto& [bit, text] : kAugmentNames) {
      if (name == text) mask |= static_cast<uint32_t>(bit), known = true;
    }
    if (!known) {
      std::string all;
      for (const auto& entry : kAugmentNames) all += std::string(all.empty() ? "" : ", ") + entry.second;
      return Status(StatusCode::kInvalidArgument, "unknown augmentation '" + name + "'; known: " + all + ", none");
    }
  }
  return mask;
}

torch::Tensor augment(const torch::Tensor& batch, uint32_t mask, std::mt19937_64& rng) {
  if (mask == 0) return batch;
  torch::Tensor x = batch.clone();
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
  const auto coin = [&] { return (rng() >> 63) != 0; };
  const auto uniform = [&](double lo, double hi) { return lo + (hi - lo) * (static_cast<double>(rng() >> 11) * 0x1.0p-53); };
  const auto has = [&](Augment a) { return (mask & static_cast<uint32_t>(a)) != 0; };
  const double background = batch.min().item<double>();  // a black pixel, normalized
  for (int64_t i = 0; i < n; ++i) {
    torch::Tensor img = x[i];  // 1 x H x W view
    if (has(Augment::kFlip) && coin()) img.copy_(img.flip({2}));
    if (has(Augment::kRotate) && coin()) img.copy_(img.rot90(coin() ? 1 : 3, {1, 2}));
    if (has(Augment::kContrast) && coin()) {
      const double f = uniform(0.6, 1.4);
      img.copy_((img - img.mean()) * f + img.mean());
    }
    if (has(Augment::kBrightness) && coin()) img.add_(uniform(-0.4, 0.4));
    if (has(Augment::kShift2)) {  // every image: -2..2 pixels each way, the border filled with background
      const int64_t dy = static_cast<int64_t>(rng() % 5) - 2, dx = static_cast<int64_t>(rng() % 5) - 2;
      if (dy != 0 || dx != 0) {
        const torch::Tensor moved = torch::full_like(img, background);
        moved.slice(1, std::max<int64_t>(0, dy), h + std::min<int64_t>(0, dy))
            .slice(2, std::max<int64_t>(0, dx), w + std::min<int64_t>(0, dx))
            .copy_(img.slice(1, std::max<int64_t>(0, -dy), h + std::min<int64_t>(0, -dy))
                       .slice(2, std::max<int64_t>(0, -dx), w + std::min<int64_t>(0, -dx)));
        img.copy_(moved);
      }
    }
    if (has(Augment::kErase) && coin()) {  // random erasing: 2-20 % of the area, aspect 0.3-3.3
      const double area = uniform(0.02, 0.2) * static_cast<double>(h * w), aspect = std::exp(uniform(std::log(0.3), std::log(3.3)));
      const int64_t eh = std::clamp<int64_t>(std::lround(std::sqrt(area * aspect)), 1, h);
      const int64_t ew = std::clamp<int64_t>(std::lround(std::sqrt(area / aspect)), 1, w);
      const int64_t y0 = static_cast<int64_t>(rng() % static_cast<uint64_t>(h - eh + 1));
      const int64_t x0 = static_cast<int64_t>(rng() % static_cast<uint64_t>(w - ew + 1));
      img.slice(1, y0, y0 + eh).slice(2, x0, x0 + ew).fill_(background);
    }
    double crop = 0;
    if (has(Augment::kCrop6)) crop = 0.06;
    if (has(Augment::kCrop12)) crop = 0.12;
    if (has(Augment::kCrop20)) crop = 0.20;
    if (crop > 0 && coin()) {  // a random crop of (1 - crop) of each side, scaled back up
      const int64_t ch = std::max<int64_t>(1, std::lround(h * (1 - crop))), cw = std::max<int64_t>(1, std::lround(w * (1 - crop)));
      const int64_t y0 = static_cast<int64_t>(rng() % static_cast<uint64_t>(h - ch + 1));
      const int64_t x0 = static_cast<int64_t>(rng() % static_cast<uint64_t>(w - cw + 1));
      const torch::Tensor part = img.slice(1, y0, y0 + ch).slice(2, x0, x0 + cw).unsqueeze(0);
      img.copy_(torch::upsample_bilinear2d(part, {h, w}, false).squeeze(0));
    }
  }
  return x;
}

}  // namespace shoal::train
