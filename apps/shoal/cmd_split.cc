// shoal split: one network split between this device and a worker, at every cut (or those
// named): what crosses the link, the time on each side, and whether the answers stay those
// of the whole network run here (f16 and int8 trade a little of that for bytes).
#include <cstdio>

#include "command.h"
#include "shoal/json.h"
#include "link_scenario.h"
#include "shoal/dataset.h"
#include "shoal/engine.h"
#include "shoal/net/handshake.h"
#include "shoal/net/key_file.h"
#include "shoal/net/split_runner.h"
#include "shoal/net/transport.h"
#include "shoal/split_planner.h"
#include "shoal/stats.h"

namespace shoal::cli {
namespace {

struct Row {
  std::string subnet, cut, encoding;
  size_t bytes = 0;
  uint32_t images = 0, correct = 0, agree = 0;
  float worst_error = 0;
  std::vector<double> total, head, round_trip, worker;
  std::vector<std::pair<std::string, uint32_t>> chosen;  // auto: how often each cut was taken

  // One image's answer (its class `top`) and timing.
  void add(const net::SplitTiming& t, uint32_t top, uint32_t label, uint32_t whole_here) {
    correct += top == label;
    agree += top == whole_here;
    worst_error = std::max(worst_error, t.encoding_error);
    total.push_back(t.head_ms + t.round_trip_ms);
    head.push_back(t.head_ms);
    round_trip.push_back(t.round_trip_ms);
    worker.push_back(t.worker_ms);
    ++images;
  }
};

// What a row calls the tensor that crosses: the model's input means the worker runs it all,
// its output that this device does.
std::string cut_label(const Model& model, uint32_t tensor) {
  if (tensor == model.fb().input()) return "(all on worker)";
  if (tensor == model.fb().output()) return "(all here)";
  return model.fb().tensors()->Get(tensor)->name()->str();
}

int run_split(const Args& args) {
  auto model = Model::from_file(args.positional()[0]);
  if (!model.is_ok()) return fail("split", model.status());
  const fb::Model& m = model->fb();
  if (!args.has("--worker")) return fail("split", "--worker HOST:PORT is required: a `shoal worker` serving the same model file");
  auto limit = args.count("--limit", 200);
  if (!limit.is_ok()) return fail("split", limit.status());
  // What to try: subnets, cuts, encodings.
  std::vector<uint32_t> subnets;
  const std::string subnet_spec = args.get("--subnet", m.subnets()->Get(m.subnets()->size() - 1)->name()->str());
  for (const std::string& name : subnet_spec == "all" ? std::vector<std::string>{} : split_list(subnet_spec)) {
    auto s = model->find_subnet(name);
    if (!s.is_ok()) return fail("split", s.status());
    subnets.push_back(s.value());
  }
  for (uint32_t s = 0; subnet_spec == "all" && s < m.subnets()->size(); ++s) subnets.push_back(s);
  std::vector<uint32_t> cuts;
  bool planned = false;
  for (const std::string& name : split_list(args.get("--at", "all,auto"))) {
    if (name == "auto") {
      planned = true;
    } else if (name == "all") {
      cuts.push_back(m.input());
      for (uint32_t t : model->cut_tensors()) cuts.push_back(t);
    } else {
      auto t = model->find_tensor(name);
      if (!t.is_ok()) return fail("split", t.status().message() + "; `shoal inspect MODEL --splits` lists the cuts");
      cuts.push_back(t.value());
    }
  }
  std::vector<wire::TensorEncoding> encodings;
  for (const std::string& name : split_list(args.get("--encoding", "f32"))) {
    auto e = net::parse_tensor_encoding(name);
    if (!e.is_ok()) return fail("split", e.status());
    encodings.push_back(e.value());
  }
  auto test_set = labelled_images_option(args, limit.value(), &model.value());
  if (!test_set.is_ok()) return fail("split", test_set.status());
  const Images* images = &test_set->images;
  const std::vector<uint8_t>* labels = &test_set->labels;
  const Status classes_fit = labels_fit(*labels, model->shape(model->fb().output()).c, args);
  if (!classes_fit.is_ok()) return fail("split", classes_fit);

  auto kernels = backend_option(args);
  if (!kernels.is_ok()) return fail("split", kernels.status());
  auto threads = threads_option(args);
  if (!threads.is_ok()) return fail("split", threads.status());
  auto engine = Engine::create(model.value(), *kernels.value(), threads.value());
  if (!engine.is_ok()) return fail("split", engine.status());

  auto transport = net::parse_transport(args.get("--transport", "tcp"));
  if (!transport.is_ok()) return fail("split", transport.status());
  auto key = key_option(args);
  if (!key.is_ok()) return fail("split", key.status());
  const std::string address = args.get("--worker");
  // --local-slowdown and --link-kbps, in phases for auto's images; the fixed cuts run at the first.
  auto scenario = LinkScenario::from_args(args, transport.value());
  if (!scenario.is_ok()) return fail("split", scenario.status());
  auto worker = net::dial_worker(scenario->dialer(), address, key.value(), "shoal split");
  if (!worker.is_ok()) return fail("split", worker.status());
  auto runner = net::SplitRunner::create(model.value(), *engine.value(), std::move(worker->connection), worker->info);
  if (!runner.is_ok()) return fail("split", runner.status());
  const double first_slowdown = scenario->phases().front().slowdown;

  const bool json = args.has("--json");
  Progress progress(json);
  std::vector<Row> rows;
  std::vector<std::pair<std::string, std::vector<LinkPhase>>> phase_reports;  // per subnet
  std::vector<float> local_out, got;
  for (uint32_t s : subnets) {
    // The whole network here: the answers a split must keep, and the time it must beat.
    scenario->enter(0, 1);
    runner.value()->set_local_slowdown(first_slowdown);
    Row local;
    local.subnet = m.subnets()->Get(s)->name()->str();
    local.cut = cut_label(model.value(), m.output());
    std::vector<uint32_t> local_top(images->count);
    local_out.resize(engine.value()->packed_size(s, m.output()));
    for (uint32_t i = 0; i < images->count; ++i) {
      net::SplitTiming t;  // cut at the output: all here, the slowdown included
      const Status st = runner.value()->run(s, m.output(), *images, i, encodings.front(), &local_out, &t);
      if (!st.is_ok()) return fail("split", st);
      local_top[i] = top_class(local_out);
      local.add(t, local_top[i], (*labels)[i], local_top[i]);
    }
    rows.push_back(local);
    for (uint32_t cut : cuts) {
      for (wire::TensorEncoding e : encodings) {
        if (cut == m.input() && e != encodings.front()) continue;  // the image goes as it is
        Row r;
        r.subnet = local.subnet;
        r.cut = cut_label(model.value(), cut);
        r.encoding = cut == m.input() ? "u8" : net::tensor_encoding_name(e);
        for (uint32_t i = 0; i < images->count; ++i) {
          net::SplitTiming t;
          const Status st = runner.value()->run(s, cut, *images, i, e, &got, &t);
          if (!st.is_ok()) return fail("split", r.cut + " at " + r.subnet + ": " + st.message());
          r.add(t, top_class(got), (*labels)[i], local_top[i]);
          r.bytes = t.bytes_sent;
          progress.update(r.subnet + " " + r.cut + " " + r.encoding, r.images, images->count);
        }
        rows.push_back(std::move(r));
      }
    }
    if (planned) {
      // The cut chosen per image by the planner, from what it has seen so far: this device's
      // speed (the run above), the link (heartbeats), then every split it runs.
      const wire::TensorEncoding e = encodings.front();
      SplitPlanner planner(model.value(), s, static_cast<double>(net::encoded_bytes(e, 1)));
      for (double ms : local.total) planner.observe(planner.all_local(), ms);
      for (int k = 0; k < 3; ++k) {
        auto probe = runner.value()->probe_round_trip();
        if (!probe.is_ok()) return fail("split", address + ": " + probe.status().message());
        planner.observe_probe(probe->ms, probe->bytes);
      }
      Row r;
      r.subnet = local.subnet;
      r.cut = "(auto)";
      r.encoding = net::tensor_encoding_name(e);
      std::vector<uint32_t> taken(planner.candidates());
      std::vector<LinkPhase> phases = scenario->phases();
      for (uint32_t i = 0; i < images->count; ++i) {
        LinkPhase& phase = phases[scenario->enter(i, images->count)];
        runner.value()->set_local_slowdown(phase.slowdown);
        net::SplitTiming t;
        auto ran = runner.value()->run_planned(planner, *images, i, e, scenario->deadline_ms(), &got, &t);
        if (!ran.is_ok()) return fail("split", "auto at " + r.subnet + ": " + ran.status().message());
        const size_t c = ran.value();
        ++taken[c];
        const std::string cut_name = cut_label(model.value(), planner.tensor(c));
        ++phase.chosen[cut_name];
        scenario->record(phase, t.head_ms + t.round_trip_ms);
        r.add(t, top_class(got), (*labels)[i], local_top[i]);
        r.bytes += t.bytes_sent;
        progress.update(r.subnet + " auto", r.images, images->count);
      }
      r.bytes /= images->count;  // the mean
      for (size_t c = 0; c < taken.size(); ++c) {
        if (!taken[c]) continue;
        r.chosen.emplace_back(cut_label(model.value(), planner.tensor(c)), taken[c]);
      }
      rows.push_back(std::move(r));
      if (scenario->phased()) phase_reports.emplace_back(local.subnet, std::move(phases));
    }
  }
  progress.done();
  auto p50 = [](std::vector<double> v) { return v.empty() ? 0.0 : summarize(v).p50; };
  if (json) {
    Json j;
    j.begin_object().field("model", args.positional()[0]).field("worker", address).field("images", images->count)
        .field("transport", net::transport_name(transport.value())).key("rows").begin_array();
    for (const Row& r : rows) {
      j.begin_object().field("subnet", r.subnet).field("cut", r.cut).field("encoding", r.encoding)
          .field("bytes_sent", uint64_t{r.bytes}).field("accuracy", double(r.correct) / r.images)
          .field("agreement", double(r.agree) / r.images).field("max_encoding_error", double(r.worst_error))
          .field("p50_ms", p50(r.total)).field("head_p50_ms", p50(r.head)).field("round_trip_p50_ms", p50(r.round_trip))
          .field("worker_p50_ms", p50(r.worker));
      if (!r.chosen.empty()) {
        j.key("chosen").begin_object();
        for (const auto& [cut, times] : r.chosen) j.field(cut, times);
        j.end_object();
      }
      j.end_object();
    }
    j.end_array().key("auto_phases").begin_array();
    for (const auto& [subnet, phases] : phase_reports) {
      for (const LinkPhase& ph : phases) {
        j.begin_object().field("subnet", subnet);
        scenario->json_fields(ph, j);
        j.end_object();
      }
    }
    j.end_array().end_object();
    std::printf("%s\n", j.str().c_str());
    return 0;
  }
  std::printf("%s split with %s over %s, %u images; agreement: the same class as the whole network here\n",
              args.positional()[0].c_str(), address.c_str(), net::transport_name(transport.value()), images->count);
  std::printf("  %-8s %-18s %-5s %9s %9s %9s %10s %9s %9s %9s %9s\n", "subnet", "cut after", "enc", "bytes", "accuracy",
              "agreement", "max error", "p50 ms", "here ms", "link+wkr", "worker");
  for (const Row& r : rows) {
    std::printf("  %-8s %-18s %-5s %9zu %8.2f%% %8.2f%% %10.3g %9.3f %9.3f %9.3f %9.3f\n", r.subnet.c_str(),
                r.cut.c_str(), r.encoding.c_str(), r.bytes, 100.0 * r.correct / r.images, 100.0 * r.agree / r.images,
                double(r.worst_error), p50(r.total), p50(r.head), p50(r.round_trip), p50(r.worker));
    if (r.chosen.empty()) continue;
    std::printf("  %-8s   auto chose:", "");
    for (const auto& [cut, times] : r.chosen) std::printf(" %s %u,", cut.c_str(), times);
    std::printf(" of %u images\n", r.images);
  }
  for (const auto& [subnet, phases] : phase_reports) {
    std::printf("auto at %s, in turn:\n", subnet.c_str());
    scenario->print(phases, "  ");
  }
  return 0;
}

}  // namespace

const Command kSplit{
    "split",
    "run a network split between this device and a worker, at every cut or the one predicted fastest",
    "shoal split MODEL --worker HOST:PORT [--at CUTS|all|auto] [--subnet S|all] [--encoding f32,f16,int8] [--json]",
    "Runs MODEL here up to a cut tensor, sends the tensor to a `shoal worker` serving the same\n"
    "model file, which runs the rest; for every cut (`shoal inspect MODEL --splits` lists them),\n"
    "the whole network on the worker, and the whole network here. Reports the bytes sent per\n"
    "image, accuracy, agreement with the whole network run here, the most the encoding moved\n"
    "any value, and median latency split into this device's part and the link plus the worker's.\n"
    "auto chooses the cut per image where the predicted latency is least, from this device's\n"
    "and the worker's measured times and the link's round trip and bandwidth, learned as it goes\n"
    "by the same latency model as `shoal master --policy split` (runtime/segments.h); its bytes\n"
    "are the mean per image.",
    {{"--worker", "HOST:PORT", "a `shoal worker` serving the same model file"},
     {"--at", "CUTS", "cut tensors, all (every one), auto (chosen per image), comma-separated (default all,auto)"},
     {"--subnet", "S", "a subnet, a comma-separated list, or all (default: the last, usually the widest)"},
     {"--encoding", "LIST", "how the cut tensor travels: f32 (default), f16, int8, or a list"},
     {"--transport", "NAME", "tcp (default) or udp, as the worker's"},
     {"--local-slowdown", "F[,...]", "stretch this device's compute F times (a loaded device); a list: one per phase of auto's images"},
     {"--link-kbps", "K[,...]", "limit the link to K kbit/s through a relay (0: as it is); a list: one per phase of auto's images; fixed cuts get the first"},
     {"--deadline", "MS", "count auto's answers later than MS"},
     {"--key-file", "FILE", "pre-shared key, the same as the worker's"},
     {"--backend", "NAME", "kernels of this device's engine (default: the fastest this CPU runs)"},
     {"--threads", "N", "threads of this device's engine (default 1)"},
     {"--images", "FILE", "IDX images (default: Fashion-MNIST t10k)"},
     {"--labels", "FILE", "IDX labels (default: Fashion-MNIST t10k)"},
     {"--limit", "N", "the first N images (default 200)"},
     {"--json", nullptr, "print one JSON object"}},
    run_split,
    1,
    1,
};

}  // namespace shoal::cli
