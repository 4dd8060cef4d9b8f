// shoal profile accuracy: AdaEnsemble's profiling database for a set of members, its file,
// and the paper's Fig. 3 view (total width x number of members -> accuracy) as SVG.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>

#include "command.h"
#include "shoal/json.h"
#include "member_outputs.h"
#include "svg_chart.h"
#include "shoal/dataset.h"
#include "shoal/engine.h"
#include "shoal/profile_file.h"

namespace shoal::cli {
namespace {

int profile(const Args& args) {
  const char* name = "profile";
  if (args.positional()[0] != "accuracy") return fail(name, "the only profile is 'accuracy' (shoal profile accuracy --members ...)");
  if (!args.has("--members")) return fail(name, "--members FILES is required (comma-separated .shoal files)");
  const std::vector<std::string> files = split_list(args.get("--members"));
  if (files.empty() || files.size() > 12) return fail(name, "--members takes 1 to 12 model files");
  const std::string dir = kFashionMnistDir;
  const std::string images_path = args.get("--images", dir + "/train-images-idx3-ubyte.gz");
  const std::string labels_path = args.get("--labels", dir + "/train-labels-idx1-ubyte.gz");
  const std::string split = args.get("--split", "validation");
  if (split != "validation" && split != "all") return fail(name, "--split is validation or all, not '" + split + "'");
  auto images = read_idx_images(images_path);
  if (!images.is_ok()) return fail(name, images.status());
  auto labels = read_idx_labels(labels_path);
  if (!labels.is_ok()) return fail(name, labels.status());
  if (labels.value().size() != images.value().count) return fail(name, "the image and label files hold different counts");
  const uint32_t first = split == "validation" ? validation_first(images.value().count) : 0;
  auto limit = args.count("--limit", 0);
  if (!limit.is_ok()) return fail(name, limit.status());
  uint32_t count = images.value().count - first;
  if (limit.value() > 0) count = std::min(count, limit.value());
  const bool json = args.has("--json");

  auto outputs = run_members(files, images.value(), first, count, json || args.has("--quiet"));
  if (!outputs.is_ok()) return fail(name, outputs.status());
  AccuracyProfile p;
  p.images = images_path + (split == "validation" ? " (validation split: last 5000)" : "");
  p.count = count;
  p.members = outputs->members;
  const std::vector<uint8_t> truth(labels.value().begin() + first, labels.value().begin() + first + count);
  auto table = EnsembleProfile::measure(outputs->probabilities, outputs->macs(), truth, outputs->classes);
  if (!table.is_ok()) return fail(name, table.status());
  p.table = std::move(table.value());

  const std::string out_path = args.get("--out", "profile.shoalprof");
  const std::vector<uint8_t> bytes = serialize_profile(p);
  Status st = write_file(out_path, bytes.data(), bytes.size());
  if (!st.is_ok()) return fail(name, st);
  const std::vector<Fig3Point> points = fig3_points(p);
  std::string plot_path = args.get("--plot", out_path.substr(0, out_path.rfind('.')) + ".svg");
  const std::string picture = line_chart(fig3_chart(points, static_cast<uint32_t>(p.members.size()), 0,
                                                   "AdaEnsemble Fig. 3: " + std::to_string(count) + " images, " +
                                                       std::to_string(p.members.size()) + " members"));
  st = write_file(plot_path, picture.data(), picture.size());
  if (!st.is_ok()) return fail(name, st);

  // Homogeneous ensembles: k members all at the same subnet, the best such k-subset.
  std::map<std::pair<std::string, uint32_t>, std::pair<double, std::string>> same;
  for (size_t r = 0; r < p.table.size(); ++r) {
    const int8_t* c = p.table.ranked_choices(r);
    std::string subnet;
    uint32_t k = 0;
    bool mixed = false;
    for (size_t m = 0; m < p.members.size(); ++m) {
      if (c[m] < 0) continue;
      const std::string& sn = p.members[m].subnets[static_cast<size_t>(c[m])];
      mixed |= !subnet.empty() && sn != subnet;
      subnet = sn;
      ++k;
    }
    auto& slot = same[{subnet, k}];
    if (!mixed && slot.second.empty()) slot = {p.table.ranked_accuracy(r), describe_config(p, c)};
  }
  if (json) {
    Json j;
    j.begin_object().field("images", p.images).field("count", count).field("profile", out_path).field("plot", plot_path);
    j.key("members").begin_array();
    for (size_t m = 0; m < p.members.size(); ++m) {
      j.begin_object().field("name", p.members[m].name).field("file", p.members[m].file).key("subnets").begin_array();
      for (uint32_t s = 0; s < p.members[m].subnets.size(); ++s) {
        j.begin_object().field("name", p.members[m].subnets[s]).field("accuracy", p.table.single(static_cast<uint32_t>(m), s)).end_object();
      }
      j.end_array().end_object();
    }
    j.end_array().key("same_subnet").begin_array();
    for (const auto& [key, v] : same) {
      if (v.second.empty()) continue;
      j.begin_object().field("subnet", key.first).field("members", key.second).field("accuracy", v.first).field("config", v.second).end_object();
    }
    j.end_array().key("best_by_members_and_width").begin_array();
    for (const Fig3Point& pt : points) {
      j.begin_object().field("members", pt.members).field("total_width", pt.total_width).field("accuracy", pt.accuracy).field("config", pt.config).end_object();
    }
    j.end_array().end_object();
    std::printf("%s\n", j.str().c_str());
    return 0;
  }
  std::printf("accuracy profile: %u images of %s\n\nmembers alone:\n", count, p.images.c_str());
  for (size_t m = 0; m < p.members.size(); ++m) {
    std::printf("  %-28s", p.members[m].name.c_str());
    for (uint32_t s = 0; s < p.members[m].subnets.size(); ++s) {
      std::printf("  %s %6.2f%%", p.members[m].subnets[s].c_str(), 100 * p.table.single(static_cast<uint32_t>(m), s));
    }
    std::printf("\n");
  }
  std::printf("\nensembles of k members at the same subnet (best k-subset):\n  %-10s", "subnet");
  for (size_t k = 1; k <= p.members.size(); ++k) std::printf("  %7zu", k);
  std::printf("\n");
  std::string last;
  for (const auto& [key, v] : same) {
    if (key.first == last) continue;
    last = key.first;
    std::printf("  %-10s", key.first.c_str());
    for (uint32_t k = 1; k <= p.members.size(); ++k) {
      const auto it = same.find({key.first, k});
      if (it == same.end() || it->second.second.empty()) std::printf("  %7s", "-");
      else std::printf("  %6.2f%%", 100 * it->second.first);
    }
    std::printf("\n");
  }
  std::printf("\nbest configuration: %s  %.2f%%  (%zu configurations)\n", describe_config(p, p.table.ranked_choices(0)).c_str(),
              100 * p.table.ranked_accuracy(0), p.table.size());
  std::printf("wrote %s (for 'shoal master --profile') and %s\n", out_path.c_str(), plot_path.c_str());
  return 0;
}

}  // namespace

const Command kProfile = {
    "profile",
    "accuracy of every ensemble configuration of a set of members",
    "shoal profile accuracy --members A.shoal,B.shoal,... [--images F --labels F] [--split validation|all] [--out FILE] [--json]",
    "Runs every subnet of every member on labelled images and measures the accuracy of every\n"
    "ensemble configuration (each member at one subnet or unused; probabilities averaged):\n"
    "AdaEnsemble's profiling database. Writes it for 'shoal master --profile', and draws the\n"
    "paper's Fig. 3 view (best accuracy per number of members and total width) as an SVG.\n"
    "By default it measures on the validation split of Fashion-MNIST (the last 5000 training\n"
    "images, which the trainer holds out); --split all uses every image given (the test set).",
    {{"--members", "FILES", "comma-separated .shoal files (1 to 12), each with a distinct model name"},
     {"--images", "FILE", "IDX images (default: Fashion-MNIST training images)"},
     {"--labels", "FILE", "IDX labels (default: Fashion-MNIST training labels)"},
     {"--split", "WHICH", "validation (the last 5000 images; default) or all"},
     {"--limit", "N", "use only the first N images of the split"},
     {"--out", "FILE", "profile to write (default profile.shoalprof)"},
     {"--plot", "FILE", "SVG to write (default: the profile's name with .svg)"},
     {"--json", nullptr, "machine-readable output on stdout"},
     {"--quiet", nullptr, "no progress on stderr"}},
    profile,
    1,
    1};

}  // namespace shoal::cli
