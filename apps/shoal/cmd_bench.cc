// shoal bench: per-layer and whole-model latency of shoal's kernels at every width and thread
// count, with XNNPACK timed in the same run as the peer; weight and arena bytes per backend;
// the cost of switching width.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "command.h"
#include "shoal/json.h"
#include "shoal/bench_layers.h"
#include "shoal/engine.h"
#include "shoal/machine.h"

namespace shoal::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct Contender {
  std::string backend;
  unsigned threads;
  std::unique_ptr<Engine> engine;
};

struct Row {
  std::string kind, model, layer, shape, width, backend;
  unsigned threads = 1;
  double us = 0, gflops = 0;
  double vs_xnnpack = 0;  // XNNPACK's time over this row's; 0 when not compared
  size_t model_weight_bytes = 0, backend_weight_bytes = 0, arena_bytes = 0;
};

struct Settings {
  int repeat = 5;
  double min_ms = 20;
  bool quiet = false;
};

// Microseconds per call: calls for at least `min_ms` (and 3 calls), after 2 ms of warm-up
// (thread pools that went to sleep wake up, caches fill).
template <typename Fn>
double sample_us(Fn& fn, double min_ms) {
  for (const auto warm = Clock::now(); std::chrono::duration<double, std::milli>(Clock::now() - warm).count() < 2;) fn();
  uint64_t calls = 0;
  const auto t0 = Clock::now();
  double elapsed_ms = 0;
  do {
    fn();
    ++calls;
    elapsed_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  } while (elapsed_ms < min_ms || calls < 3);
  return elapsed_ms * 1000.0 / calls;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// The median of `repeat` samples of every contender's `fn`, the contenders taking turns
// within each round so that a noisy moment hits them alike. With threads, each sample waits
// until the previous contender's idle workers have gone to sleep: XNNPACK's pthreadpool
// spins for milliseconds after a job and would take the core the next contender's threads
// need (measured: shoal's 2-thread resnet18 lost its whole 1.8x speed-up to it).
template <typename MakeFn>
std::vector<double> compare(std::vector<Contender*>& cs, const Settings& s, MakeFn make_fn) {
  std::vector<std::vector<double>> samples(cs.size());
  for (int r = 0; r < s.repeat; ++r) {
    for (size_t i = 0; i < cs.size(); ++i) {
      if (cs[i]->threads > 1 && cs.size() > 1) std::this_thread::sleep_for(std::chrono::milliseconds(30));
      auto fn = make_fn(*cs[i]->engine);
      samples[i].push_back(sample_us(fn, s.min_ms));
    }
  }
  std::vector<double> out;
  for (auto& v : samples) out.push_back(median(v));
  return out;
}

void add_rows(std::vector<Row>& rows, const Row& base, const std::vector<Contender*>& cs,
              const std::vector<double>& us, uint64_t macs) {
  double xnn = 0;
  for (size_t i = 0; i < cs.size(); ++i) xnn = cs[i]->backend == "xnnpack" ? us[i] : xnn;
  for (size_t i = 0; i < cs.size(); ++i) {
    Row r = base;
    r.backend = cs[i]->backend;
    r.us = us[i];
    r.gflops = macs ? 2.0 * macs / (us[i] * 1e3) : 0;
    r.vs_xnnpack = xnn > 0 && r.backend != "xnnpack" ? xnn / us[i] : 0;
    rows.push_back(r);
  }
}

void bench_model(const std::string& arch, const Model& model, std::vector<Contender>& all,
                 const std::vector<unsigned>& threads, const Settings& s, bool layers, std::vector<Row>& rows) {
  const fb::Model& m = model.fb();
  const uint32_t subnets = m.subnets()->size();
  auto subnet_name = [&](uint32_t i) { return m.subnets()->Get(i)->name()->str(); };
  auto with_threads = [&](unsigned t) {
    std::vector<Contender*> cs;
    for (Contender& c : all) if (c.threads == t) cs.push_back(&c);
    return cs;
  };
  // Inputs and outputs sized for the largest subnet serve every subnet.
  std::vector<float> x(all[0].engine->arena_bytes() / sizeof(float), 0.5f), y(x.size());
  auto run = [&](Engine& e, uint32_t sub, const Segment& seg) {
    if (!e.run(sub, seg, x.data(), e.packed_size(sub, seg.from), y.data(), e.packed_size(sub, seg.to)).is_ok()) {
      std::fprintf(stderr, "shoal bench: %s failed on %s\n", arch.c_str(), e.backend().name());
    }
  };
  if (layers) {
    const std::vector<BenchLayer> ls = bench_layers(model);
    for (size_t li = 0; li < ls.size(); ++li) {
      const BenchLayer& l = ls[li];
      if (!s.quiet) std::fprintf(stderr, "  %s layer %zu/%zu: %s\n", arch.c_str(), li + 1, ls.size(), l.name.c_str());
      for (uint32_t sub = 0; sub < subnets; ++sub) {
        for (unsigned t : threads) {
          std::vector<Contender*> cs = with_threads(t);
          const auto us = compare(cs, s, [&](Engine& e) {
            return [&, ep = &e] {
              if (!run_layer(*ep, sub, l, x.data(), y.data()).is_ok()) {
                std::fprintf(stderr, "shoal bench: %s layer %s failed on %s\n", arch.c_str(), l.name.c_str(),
                             ep->backend().name());
              }
            };
          });
          Row base{"layer", arch, l.name, l.shape, subnet_name(sub), ""};
          base.threads = t;
          add_rows(rows, base, cs, us, model.node_cost(sub, l.node).macs);
        }
      }
    }
  }
  if (!s.quiet) std::fprintf(stderr, "  %s whole model and width switching\n", arch.c_str());
  const Segment whole = all[0].engine->whole();
  for (unsigned t : threads) {
    std::vector<Contender*> cs = with_threads(t);
    for (uint32_t sub = 0; sub < subnets; ++sub) {
      const auto us = compare(cs, s, [&](Engine& e) { return [&, ep = &e] { run(*ep, sub, whole); }; });
      Row base{"model", arch, "(whole model)", "", subnet_name(sub), ""};
      base.threads = t;
      add_rows(rows, base, cs, us, model.cost(sub).macs);
      for (size_t i = 0; i < cs.size(); ++i) {
        Row& r = rows[rows.size() - cs.size() + i];
        r.model_weight_bytes = model.weight_bytes();
        r.backend_weight_bytes = cs[i]->engine->packed_weight_bytes();
        r.arena_bytes = cs[i]->engine->arena_bytes();
      }
    }
    // Switching: the narrowest and the widest subnet alternating, against each alone.
    const uint32_t a = 0, b = subnets - 1;
    const auto ua = compare(cs, s, [&](Engine& e) { return [&, ep = &e] { run(*ep, a, whole); }; });
    const auto ub = compare(cs, s, [&](Engine& e) { return [&, ep = &e] { run(*ep, b, whole); }; });
    const auto uab = compare(cs, s, [&](Engine& e) {
      return [&, ep = &e] {
        run(*ep, a, whole);
        run(*ep, b, whole);
      };
    });
    std::vector<double> cost;
    for (size_t i = 0; i < cs.size(); ++i) cost.push_back((uab[i] - ua[i] - ub[i]) / 2);
    Row base{"switch", arch, "(width switch)", "", subnet_name(a) + "<->" + subnet_name(b), ""};
    base.threads = t;
    add_rows(rows, base, cs, cost, 0);
    for (size_t i = 0; i < cs.size(); ++i) rows[rows.size() - cs.size() + i].vs_xnnpack = 0;
  }
}

// A chart of every layer and whole model against XNNPACK: one row per layer, one cell per
// width and thread count, green where shoal is faster, red where slower.
std::string plot(const std::vector<Row>& rows) {
  struct Line {
    std::string model, layer;
    std::vector<std::string> widths;
    std::map<std::pair<std::string, unsigned>, double> ratio;
  };
  std::vector<Line> lines;
  std::vector<unsigned> threads;
  for (const Row& r : rows) {
    if (r.vs_xnnpack <= 0) continue;
    if (lines.empty() || lines.back().model != r.model || lines.back().layer != r.layer) {
      auto same = [&](const Line& l) { return l.model == r.model && l.layer == r.layer; };
      if (std::find_if(lines.begin(), lines.end(), same) == lines.end()) lines.push_back({r.model, r.layer, {}, {}});
    }
    Line& l = *std::find_if(lines.begin(), lines.end(), [&](const Line& x) { return x.model == r.model && x.layer == r.layer; });
    if (std::find(l.widths.begin(), l.widths.end(), r.width) == l.widths.end()) l.widths.push_back(r.width);
    if (std::find(threads.begin(), threads.end(), r.threads) == threads.end()) threads.push_back(r.threads);
    l.ratio[{r.width, r.threads}] = r.vs_xnnpack;
  }
  size_t columns = 0;
  for (const Line& l : lines) columns = std::max(columns, l.widths.size() * threads.size());
  const double left = 250, cell_w = 68, cell_h = 20, top = 70;
  const double width = left + cell_w * static_cast<double>(columns) + 20;
  size_t models = 0;
  for (size_t i = 0; i < lines.size(); ++i) models += i == 0 || lines[i].model != lines[i - 1].model;
  const double height = top + cell_h * static_cast<double>(lines.size() + models) + 20;
  char buf[512];
  std::snprintf(buf, sizeof(buf),
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" "
                "font-size=\"11\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
                "<text x=\"10\" y=\"22\" font-size=\"14\">shoal vs XNNPACK: XNNPACK's time / shoal's (green: shoal "
                "faster)</text>\n",
                width, height);
  std::string s = buf;
  std::string model;
  double y = top - cell_h;
  for (size_t i = 0; i < lines.size(); ++i, y += cell_h) {
    const Line& l = lines[i];
    if (l.model != model) {  // a gap, then column heads for this model's widths
      model = l.model;
      y += cell_h;
      for (size_t t = 0; t < threads.size(); ++t)
        for (size_t w = 0; w < l.widths.size(); ++w) {
          std::snprintf(buf, sizeof(buf), "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#555\">%s %ut</text>\n",
                        left + cell_w * (t * l.widths.size() + w + 0.5), y - 4, l.widths[w].c_str(), threads[t]);
          s += buf;
        }
    }
    std::snprintf(buf, sizeof(buf), "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s %s</text>\n", left - 6,
                  y + cell_h * 0.7, l.model.c_str(), l.layer.c_str());
    s += buf;
    for (size_t t = 0; t < threads.size(); ++t)
      for (size_t w = 0; w < l.widths.size(); ++w) {
        auto it = l.ratio.find({l.widths[w], threads[t]});
        if (it == l.ratio.end()) continue;
        const double r = it->second, strength = std::min(1.0, std::fabs(std::log2(r)));
        const int fade = static_cast<int>(255 - 150 * strength);
        std::snprintf(buf, sizeof(buf),
                      "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"rgb(%d,%d,%d)\"/>"
                      "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.2f</text>\n",
                      left + cell_w * (t * l.widths.size() + w), y + 2, cell_w - 2, cell_h - 2,
                      r >= 1 ? fade : 255, r >= 1 ? 255 : fade, fade, left + cell_w * (t * l.widths.size() + w + 0.5),
                      y + cell_h * 0.7, r);
        s += buf;
      }
  }
  return s + "</svg>\n";
}

// What the figures were measured on and how: the block a report or a comparison needs.
void context_json(Json& j, const Settings& s, const std::vector<std::string>& backends,
                  const std::vector<unsigned>& threads) {
  const MachineInfo m = describe_machine();
  j.key("context").begin_object().field("shoal_version", m.version).field("date", m.date).field("host", m.host)
      .field("cpu", m.cpu).field("board", m.board).field("cpus", m.cpus).key("available_backends").begin_array();
  for (const std::string& b : m.backends) j.value(b);
  j.end_array().key("backends").begin_array();
  for (const std::string& b : backends) j.value(b);
  j.end_array().key("threads").begin_array();
  for (unsigned t : threads) j.value(t);
  j.end_array().field("compiler", m.compiler).field("repeat", s.repeat).field("min_ms", s.min_ms)
      .field("statistic", "median").end_object();
}

void print_json(const std::vector<Row>& rows, const Settings& s, const std::vector<std::string>& backends,
                const std::vector<unsigned>& threads) {
  Json j;
  j.begin_object();
  context_json(j, s, backends, threads);
  j.key("benchmarks").begin_array();
  for (const Row& r : rows) {
    j.begin_object().field("kind", r.kind).field("model", r.model).field("layer", r.layer).field("width", r.width)
        .field("threads", r.threads).field("backend", r.backend).field("us", r.us).field("gflops", r.gflops);
    if (!r.shape.empty()) j.field("shape", r.shape);
    if (r.vs_xnnpack > 0) j.field("vs_xnnpack", r.vs_xnnpack);
    if (r.kind == "model") {
      j.field("model_weight_bytes", uint64_t{r.model_weight_bytes})
          .field("backend_weight_bytes", uint64_t{r.backend_weight_bytes})
          .field("arena_bytes", uint64_t{r.arena_bytes});
    }
    j.end_object();
  }
  j.end_array().end_object();
  std::printf("%s\n", j.str().c_str());
}

// One line per (layer, width, threads): every backend's time and GFLOP/s side by side.
void print_table(const std::vector<Row>& rows, const Settings& s) {
  const MachineInfo m = describe_machine();
  std::printf("shoal %s on %s%s%s (%u CPUs), %s\n", m.version.c_str(), m.cpu.c_str(), m.board.empty() ? "" : ", ",
              m.board.c_str(), m.cpus, m.date.c_str());
  int mw = 10;  // the model column: as wide as the longest name
  for (const Row& r : rows) mw = std::max(mw, static_cast<int>(r.model.size()));
  std::printf("median of %d samples of >= %.0f ms each; 'vs xnnpack' = XNNPACK's time / shoal's (above 1: shoal "
              "is faster)\n",
              s.repeat, s.min_ms);
  std::string kind;
  for (size_t i = 0; i < rows.size();) {
    size_t end = i;
    while (end < rows.size() && rows[end].kind == rows[i].kind && rows[end].model == rows[i].model &&
           rows[end].layer == rows[i].layer && rows[end].width == rows[i].width &&
           rows[end].threads == rows[i].threads) {
      ++end;
    }
    if (rows[i].kind != kind) {
      kind = rows[i].kind;
      std::printf("\n%s\n%-*s %-14s %-28s %-14s %3s", kind == "layer" ? "layers (us per run)"
                                                     : kind == "model" ? "whole model (us per inference)"
                                                                       : "width switch (extra us per switch)",
                  mw, "model", "layer", "shape", "width", "thr");
      for (size_t k = i; k < end; ++k) {
        std::printf(" %10s", (rows[k].backend + (kind == "switch" ? "" : " us")).c_str());
        if (kind != "switch") std::printf(" %8s", "GFLOP/s");
      }
      for (size_t k = i; k < end; ++k) {
        if (kind != "switch" && rows[k].backend != "xnnpack" && end - i > 1) std::printf(" %14s", "vs xnnpack");
      }
      std::printf("\n");
    }
    std::printf("%-*s %-14s %-28s %-14s %3u", mw, rows[i].model.c_str(), rows[i].layer.c_str(), rows[i].shape.c_str(),
                rows[i].width.c_str(), rows[i].threads);
    for (size_t k = i; k < end; ++k) {
      std::printf(" %10.1f", rows[k].us);
      if (kind != "switch") std::printf(" %8.1f", rows[k].gflops);
    }
    for (size_t k = i; k < end; ++k) {
      if (rows[k].vs_xnnpack > 0) std::printf(" %13.2fx", rows[k].vs_xnnpack);
    }
    std::printf("\n");
    i = end;
  }
  std::printf("\nmemory: the model's weights, what each backend holds besides them, and the activation arena\n");
  std::printf("%-*s %-10s %3s %14s %14s %14s\n", mw, "model", "backend", "thr", "model KiB", "backend KiB", "arena KiB");
  std::set<std::string> shown;
  for (const Row& r : rows) {
    if (r.kind != "model" || !shown.insert(r.model + "/" + r.backend + "/" + std::to_string(r.threads)).second) continue;
    std::printf("%-*s %-10s %3u %14.1f %14.1f %14.1f\n", mw, r.model.c_str(), r.backend.c_str(), r.threads,
                r.model_weight_bytes / 1024.0, r.backend_weight_bytes / 1024.0, r.arena_bytes / 1024.0);
  }
}

int run_bench(const Args& args) {
  Settings s;
  auto repeat = args.number("--repeat", 5);
  auto min_ms = args.number("--min-ms", 20);
  if (!repeat.is_ok() || repeat.value() < 1 || repeat.value() > 1000) {
    return fail("bench", "--repeat takes a whole number of samples from 1 to 1000");
  }
  if (!min_ms.is_ok() || min_ms.value() <= 0) return fail("bench", "--min-ms takes a positive number of milliseconds");
  s.repeat = static_cast<int>(repeat.value());
  s.min_ms = min_ms.value();
  s.quiet = args.has("--quiet");
  auto thread_list = parse_numbers(args.get("--threads", "1,2"), "--threads");
  if (!thread_list.is_ok()) return fail("bench", thread_list.status());
  std::vector<unsigned> threads;
  for (double t : thread_list.value()) {
    if (t < 1 || t > 256 || t != static_cast<unsigned>(t)) return fail("bench", "--threads takes whole numbers from 1 to 256");
    threads.push_back(static_cast<unsigned>(t));
  }
  if (args.has("--plot") && !args.has("--compare")) {
    return fail("bench", "--plot draws the ratio to XNNPACK: add --compare xnnpack");
  }
  std::vector<std::string> backends = split_list(args.get("--backends", best_backend().name()));
  if (args.has("--compare")) {
    if (args.get("--compare") != "xnnpack") return fail("bench", "--compare takes 'xnnpack', the only peer");
    if (!find_backend("xnnpack")) {
      return fail("bench", "this build has no XNNPACK backend: configure with -DSHOAL_WITH_XNNPACK=ON "
                           "(Debian libxnnpack-dev), as the default preset does");
    }
    backends.push_back("xnnpack");
  }
  for (const std::string& b : backends) {

    if (!find_backend(b)) {
      return fail("bench", "no backend '" + b + "' on this CPU; choose from: " + backend_names());
    }
  }
  // Model files as given, and architectures with random weights (the default without files).
  std::vector<std::pair<std::string, Result<Model>>> models;
  for (const std::string& path : args.positional()) {
    Result<Model> model = Model::from_file(path);
    if (!model.is_ok()) return fail("bench", model.status());
    const size_t slash = path.rfind('/') + 1, dot = path.rfind('.');
    models.emplace_back(path.substr(slash, dot > slash && dot != std::string::npos ? dot - slash : std::string::npos),
                        std::move(model));
  }
  if (args.has("--arch") || models.empty()) {
    for (const std::string& arch : split_list(args.get("--arch", "fluid-cnn,resnet8,resnet18"))) {
      Result<Model> model = synth_model(arch);
      if (!model.is_ok()) return fail("bench", model.status());
      models.emplace_back(arch, std::move(model));
    }
  }
  std::vector<Row> rows;
  for (auto& [name, model] : models) {
    std::vector<Contender> contenders;
    for (unsigned t : threads) {
      for (const std::string& b : backends) {
        auto e = Engine::create(model.value(), *find_backend(b), t);
        if (!e.is_ok()) return fail("bench", e.status());
        contenders.push_back({b, t, std::move(e.value())});
      }
    }
    bench_model(name, model.value(), contenders, threads, s, !args.has("--models-only"), rows);
  }
  if (args.has("--plot")) {
    const std::string picture = plot(rows);
    Status written = write_file(args.get("--plot"), picture.data(), picture.size());
    if (!written.is_ok()) return fail("bench", written);
  }
  if (args.has("--json")) {
    print_json(rows, s, backends, threads);
  } else {
    print_table(rows, s);
  }
  return 0;
}

}  // namespace

const Command kBench = {
    "bench",
    "time models per layer, per subnet and per width switch, against XNNPACK",
    "shoal bench [MODEL...] [--compare xnnpack] [--arch A[,A...]] [--threads N[,N...]] [--json]",
    "Times the convolution layers (one per distinct shape) and the whole network of each\n"
    "MODEL file, or of each architecture with random weights (--arch; the default without\n"
    "files), at every subnet, on shoal's fastest kernels for this CPU\n"
    "(or --backends), with 1 and 2 threads. With --compare xnnpack, XNNPACK runs the same\n"
    "layers in the same run (one operator per layer and subnet), taking turns with shoal so\n"
    "that noise hits both alike; each figure is the median of --repeat samples. Also prints\n"
    "the bytes of weights and activations each backend holds and the extra time a switch\n"
    "between the narrowest and the widest subnet costs. The report starts with its context:\n"
    "shoal's version, the date, the host, CPU and board, the backends this CPU runs.",
    {{"--compare", "PEER", "time a peer in the same run: xnnpack"},
     {"--arch", "LIST", "architectures with random weights (default without MODEL files: fluid-cnn,resnet8,resnet18)"},
     {"--backends", "LIST", "shoal backends to time (default: the fastest this CPU runs)"},
     {"--threads", "LIST", "thread counts (default 1,2)"},
     {"--repeat", "N", "samples per figure; the median is reported (default 5)"},
     {"--min-ms", "MS", "minimum time per sample (default 20)"},
     {"--models-only", nullptr, "skip the per-layer figures"},
     {"--json", nullptr, "{\"context\": {...}, \"benchmarks\": [{kind, model, layer, width, threads, backend, us, ...}]}"},
     {"--plot", "FILE", "an SVG chart of every layer's ratio to XNNPACK (needs --compare xnnpack)"},
     {"--quiet", nullptr, "no progress on stderr"}},
    run_bench,
    0,
    16};

}  // namespace shoal::cli
