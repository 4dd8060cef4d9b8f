// shoal profile accuracy: AdaEnsemble's profiling database for a set of members, its file,
// and the paper's Fig. 3 view (total width x number of members -> accuracy) as SVG.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>

#include "command.h"
#include "json.h"
#include "shoal/dataset.h"
#include "shoal/engine.h"
#include "shoal/profile_file.h"

namespace shoal::cli {
namespace {

struct Point {  // the best configuration with `members` members and this total width
  uint32_t members = 0;
  double total_width = 0, accuracy = 0;
  std::string config;
};

std::string describe(const AccuracyProfile& p, const int8_t* choice) {
  std::string text;
  for (size_t m = 0; m < p.members.size(); ++m) {
    if (choice[m] < 0) continue;
    text += (text.empty() ? "" : " + ") + p.members[m].name + "@" + p.members[m].subnets[static_cast<size_t>(choice[m])];
  }
  return text;
}

// Fig. 3: for each number of members and total width, the most accurate configuration.
std::vector<Point> fig3(const AccuracyProfile& p) {
  std::map<std::pair<uint32_t, long>, Point> best;
  const EnsembleProfile& t = p.table;
  for (size_t r = t.size(); r-- > 0;) {  // least accurate first, so better ones overwrite
    const int8_t* c = t.ranked_choices(r);
    Point pt;
    for (size_t m = 0; m < p.members.size(); ++m) {
      if (c[m] < 0) continue;
      ++pt.members;
      pt.total_width += p.members[m].widths[static_cast<size_t>(c[m])];
    }
    pt.accuracy = t.ranked_accuracy(r);
    pt.config = describe(p, c);
    best[{pt.members, std::lround(pt.total_width * 100)}] = pt;
  }
  std::vector<Point> out;
  for (auto& [key, pt] : best) out.push_back(pt);
  return out;
}

std::string svg(const std::vector<Point>& points, uint32_t members, const std::string& title) {
  const double w = 640, h = 400, left = 60, right = 150, top = 40, bottom = 50;
  double lo = 1, hi = 0, xmax = 0;
  for (const Point& p : points) lo = std::min(lo, p.accuracy), hi = std::max(hi, p.accuracy), xmax = std::max(xmax, p.total_width);
  // Grid lines every 1 % for a narrow spread, every 5 % otherwise.
  const double step = hi - lo <= 0.10 ? 0.01 : 0.05;
  lo = std::floor(lo / step) * step;
  hi = std::ceil(hi / step) * step + 1e-9;
  if (hi - lo < step) lo = hi - step;
  xmax = std::ceil(xmax);
  const auto X = [&](double v) { return left + v / xmax * (w - left - right); };
  const auto Y = [&](double a) { return h - bottom - (a - lo) / (hi - lo) * (h - top - bottom); };
  const char* colors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};
  char buf[512];
  std::string s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"400\" font-family=\"sans-serif\" font-size=\"12\">\n"
                  "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  std::snprintf(buf, sizeof(buf), "<text x=\"%g\" y=\"22\" font-size=\"14\">%s</text>\n", left, title.c_str());
  s += buf;
  for (double a = lo; a <= hi + 1e-9; a += step) {
    std::snprintf(buf, sizeof(buf), "<line x1=\"%g\" x2=\"%g\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/><text x=\"%g\" y=\"%.1f\" text-anchor=\"end\">%.0f%%</text>\n",
                  left, w - right, Y(a), Y(a), left - 6, Y(a) + 4, a * 100);
    s += buf;
  }
  for (double x = 0; x <= xmax + 1e-9; x += 0.5) {
    std::snprintf(buf, sizeof(buf), "<text x=\"%.1f\" y=\"%g\" text-anchor=\"middle\">%g</text>\n", X(x), h - bottom + 18, x);
    s += buf;
  }
  std::snprintf(buf, sizeof(buf), "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">total width of the members used</text>\n"
                "<text transform=\"translate(16 %g) rotate(-90)\" text-anchor=\"middle\">ensemble accuracy</text>\n",
                (left + w - right) / 2, h - 12, (top + h - bottom) / 2);
  s += buf;
  for (uint32_t k = 1; k <= members; ++k) {
    const char* color = colors[(k - 1) % 8];
    std::string line;
    for (const Point& p : points) {
      if (p.members != k) continue;
      std::snprintf(buf, sizeof(buf), "%.1f,%.1f ", X(p.total_width), Y(p.accuracy));
      line += buf;
      std::snprintf(buf, sizeof(buf), "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"><title>%s: %.2f%%</title></circle>\n",
                    X(p.total_width), Y(p.accuracy), color, p.config.c_str(), p.accuracy * 100);
      s += buf;
    }
    std::snprintf(buf, sizeof(buf), "<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"/>\n"
                  "<rect x=\"%g\" y=\"%g\" width=\"12\" height=\"12\" fill=\"%s\"/><text x=\"%g\" y=\"%g\">%u member%s</text>\n",
                  line.c_str(), color, w - right + 15, top + 20.0 * k, color, w - right + 32, top + 20.0 * k + 10, k, k > 1 ? "s" : "");
    s += buf;
  }
  return s + "</svg>\n";
}

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
  auto limit = args.number("--limit", 0);
  if (!limit.is_ok()) return fail(name, limit.status());
  uint32_t count = images.value().count - first;
  if (limit.value() > 0) count = std::min(count, static_cast<uint32_t>(limit.value()));
  const bool json = args.has("--json");

  AccuracyProfile p;
  p.images = images_path + (split == "validation" ? " (validation split: last 5000)" : "");
  p.count = count;
  std::vector<std::vector<std::vector<float>>> probs;
  std::vector<std::vector<uint64_t>> macs;
  uint32_t classes = 0;
  Progress progress(json || args.has("--quiet"));
  std::vector<Model> models;
  models.reserve(files.size());
  for (const std::string& file : files) {
    auto model = Model::from_file(file);
    if (!model.is_ok()) return fail(name, model.status());
    models.push_back(std::move(model.value()));
    const Model& m = models.back();
    auto engine = Engine::create(m);
    if (!engine.is_ok()) return fail(name, engine.status());
    ProfileMember member;
    member.name = m.fb().name() ? m.fb().name()->str() : file;
    for (const ProfileMember& other : p.members) {
      if (other.name == member.name) return fail(name, "two members are named '" + member.name + "'; each must be distinct");
    }
    member.file = file;
    const uint32_t out_tensor = m.fb().output();
    probs.emplace_back();
    std::vector<float> in;
    for (uint32_t s = 0; s < m.fb().subnets()->size(); ++s) {
      const fb::Subnet* sub = m.fb().subnets()->Get(s);
      member.subnets.push_back(sub->name()->str());
      member.widths.push_back(sub->width());
      member.macs.push_back(m.cost(s).macs);
      const size_t n = engine.value()->packed_size(s, out_tensor);
      if (classes == 0) classes = static_cast<uint32_t>(n);
      if (n != classes) return fail(name, file + " has " + std::to_string(n) + " classes, not " + std::to_string(classes));
      std::vector<float> out(size_t{count} * classes);
      for (uint32_t i = 0; i < count; ++i) {
        Status st = image_to_input(images.value(), first + i, m, Fit::kExact, &in);
        if (!st.is_ok()) return fail(name, st);
        st = engine.value()->run(s, in.data(), in.size(), out.data() + size_t{i} * classes, classes);
        if (!st.is_ok()) return fail(name, st);
        progress.update(member.name + " " + member.subnets.back(), i + 1, count);
      }
      probs.back().push_back(std::move(out));
    }
    macs.push_back(member.macs);
    p.members.push_back(std::move(member));
  }
  progress.done();
  const std::vector<uint8_t> truth(labels.value().begin() + first, labels.value().begin() + first + count);
  auto table = EnsembleProfile::measure(probs, macs, truth, classes);
  if (!table.is_ok()) return fail(name, table.status());
  p.table = std::move(table.value());

  const std::string out_path = args.get("--out", "profile.shoalprof");
  const std::vector<uint8_t> bytes = serialize_profile(p);
  Status st = write_file(out_path, bytes.data(), bytes.size());
  if (!st.is_ok()) return fail(name, st);
  const std::vector<Point> points = fig3(p);
  std::string plot_path = args.get("--plot", out_path.substr(0, out_path.rfind('.')) + ".svg");
  const std::string picture = svg(points, static_cast<uint32_t>(p.members.size()),
                                  "AdaEnsemble Fig. 3: " + std::to_string(count) + " images, " +
                                      std::to_string(p.members.size()) + " members");
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
    if (!mixed && slot.second.empty()) slot = {p.table.ranked_accuracy(r), describe(p, c)};
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
    for (const Point& pt : points) {
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
  std::printf("\nbest configuration: %s  %.2f%%  (%zu configurations)\n", describe(p, p.table.ranked_choices(0)).c_str(),
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
