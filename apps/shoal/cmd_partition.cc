// shoal partition: one network computed by this device and its workers together, each
// computing its own channels of every layer (paper 001's edge-to-edge partition; Fluid's
// high-accuracy mode), checked against the whole network run here.
#include <cmath>
#include <cstdio>

#include "command.h"
#include "shoal/json.h"
#include "link_scenario.h"
#include "shoal/channel_partition.h"
#include "shoal/dataset.h"
#include "shoal/engine.h"
#include "shoal/net/handshake.h"
#include "shoal/net/key_file.h"
#include "shoal/net/partition_runner.h"
#include "shoal/net/transport.h"
#include "shoal/stats.h"

namespace shoal::cli {
namespace {

// What adapting did in one phase (link_scenario.h has the rest).
struct Adapting {
  uint32_t reshares = 0, alone = 0;
  std::vector<double> shares;  // at the phase's end
};

// A reshare: after which image, and the shares from then on (or this device alone).
struct Change {
  uint32_t image = 0;
  std::vector<double> shares;
  bool alone = false;
};

std::string shares_text(const std::vector<double>& shares) {
  std::string text;
  char buf[16];
  for (double s : shares) {
    std::snprintf(buf, sizeof(buf), "%s%.3f", text.empty() ? "" : "/", s);
    text += buf;
  }
  return text;
}

float max_difference(const std::vector<float>& a, const std::vector<float>& b) {
  float worst = a.size() == b.size() ? 0.0f : INFINITY;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
  return worst;
}

int run_partition(const Args& args) {
  auto model = Model::from_file(args.positional()[0]);
  if (!model.is_ok()) return fail("partition", model.status());
  const fb::Model& m = model->fb();
  if (!args.has("--workers")) {
    return fail("partition", "--workers HOST:PORT[,...] is required: `shoal worker`s serving the same model file");
  }
  const std::vector<std::string> addresses = split_list(args.get("--workers"));
  auto subnet = model->find_subnet(args.get("--subnet", m.subnets()->Get(m.subnets()->size() - 1)->name()->str()));
  if (!subnet.is_ok()) return fail("partition", subnet.status());
  std::vector<double> shares(addresses.size() + 1, 1.0);
  if (args.has("--shares")) {
    auto given = parse_numbers(args.get("--shares"), "--shares");
    if (!given.is_ok()) return fail("partition", given.status());
    if (given->size() != shares.size()) {
      return fail("partition", "--shares takes one weight for this device and one per worker (" +
                                   std::to_string(shares.size()) + ")");
    }
    shares = given.value();
  }
  // A first share of 0: this device computes no channels, only gathers and classifies.
  const bool gather_only = shares.front() == 0;
  if (gather_only) shares.erase(shares.begin());
  if (shares.size() < 2) return fail("partition", "a partition needs two devices that compute channels");
  auto plan = plan_channel_partition(model.value(), subnet.value(), shares);
  if (!plan.is_ok()) return fail("partition", plan.status());
  auto encoding = net::parse_tensor_encoding(args.get("--encoding", "f32"));
  if (!encoding.is_ok()) return fail("partition", encoding.status());
  auto limit = args.count("--limit", 200);
  if (!limit.is_ok()) return fail("partition", limit.status());
  auto test_set = labelled_images_option(args, limit.value(), &model.value());
  if (!test_set.is_ok()) return fail("partition", test_set.status());
  const Images* images = &test_set->images;
  const std::vector<uint8_t>* labels = &test_set->labels;
  const Status classes_fit = labels_fit(*labels, model->shape(model->fb().output()).c, args);
  if (!classes_fit.is_ok()) return fail("partition", classes_fit);

  auto kernels = backend_option(args);
  if (!kernels.is_ok()) return fail("partition", kernels.status());
  auto threads = threads_option(args);
  if (!threads.is_ok()) return fail("partition", threads.status());
  auto engine = Engine::create(model.value(), *kernels.value(), threads.value());
  if (!engine.is_ok()) return fail("partition", engine.status());
  auto transport = net::parse_transport(args.get("--transport", "tcp"));
  if (!transport.is_ok()) return fail("partition", transport.status());
  auto key = key_option(args);
  if (!key.is_ok()) return fail("partition", key.status());
  auto timeout = args.number("--timeout", 2000);
  if (!timeout.is_ok() || timeout.value() < 1) return fail("partition", "--timeout takes milliseconds");
  auto scenario = LinkScenario::from_args(args, transport.value());
  if (!scenario.is_ok()) return fail("partition", scenario.status());
  std::vector<LinkPhase> phases = scenario->phases();
  std::vector<Adapting> adapting_in(phases.size());
  const bool adapt = args.has("--adapt");
  net::Dialer& dialer = scenario->dialer();
  std::vector<std::unique_ptr<net::Connection>> connections;
  std::vector<net::WorkerInfo> infos;
  for (const std::string& address : addresses) {
    auto worker = net::dial_worker(dialer, address, key.value(), "shoal partition");
    if (!worker.is_ok()) return fail("partition", worker.status());
    connections.push_back(std::move(worker->connection));
    infos.push_back(std::move(worker->info));
  }
  const ChannelPartition layout = plan.value();
  auto runner = net::PartitionRunner::create(model.value(), *engine.value(), plan.value(), std::move(connections), infos,
                                             static_cast<int>(timeout.value()));
  if (!runner.is_ok()) return fail("partition", runner.status());
  const Fit fit = args.has("--resize") ? Fit::kResize : Fit::kExact;
  runner.value()->set_fit(fit);
  if (adapt) {
    const Status adapting = runner.value()->adapt(shares);
    if (!adapting.is_ok()) return fail("partition", adapting);
  }
  std::vector<Change> trace;

  // The whole network here, for the answers and logits a partition must keep.
  const uint32_t s = subnet.value();
  const PartitionStage& last = layout.stages.back();
  std::vector<uint32_t> ends{m.output()};
  if (!last.split && last.outputs.size() > 1) ends.push_back(last.outputs.back());  // the logits
  std::vector<std::vector<float>> here(ends.size());
  std::vector<TensorOut> here_out;
  for (size_t i = 0; i < ends.size(); ++i) {
    here[i].resize(model->packed_size(s, ends[i]));
    here_out.push_back({ends[i], here[i].data(), here[i].size()});
  }
  const uint32_t end_node = last.end_node;
  std::vector<float> input;
  const bool json = args.has("--json");
  Progress progress(json);
  uint32_t correct = 0, agree = 0, recomputed = 0;
  float worst_prob = 0, worst_logit = 0, worst_encoding = 0;
  std::vector<double> total, alone, local, wait;
  size_t sent = 0, received = 0;
  for (uint32_t i = 0; i < images->count; ++i) {
    const size_t k = scenario->enter(i, images->count);
    LinkPhase& phase = phases[k];
    Adapting& adapting = adapting_in[k];
    runner.value()->set_local_slowdown(phase.slowdown);
    Status st = image_to_input(*images, i, model.value(), fit, &input);
    const auto t0 = std::chrono::steady_clock::now();
    const TensorIn in{m.input(), input.data(), input.size()};
    if (st.is_ok()) st = engine.value()->run_nodes(s, 0, end_node, model->ranges(s), &in, 1, here_out.data(), here_out.size());
    alone.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    if (!st.is_ok()) return fail("partition", st);
    net::PartitionTiming t;
    st = runner.value()->run(*images, i, encoding.value(), &t);
    if (!st.is_ok()) return fail("partition", st);
    const net::PartitionRunner& r = *runner.value();
    const uint32_t top = top_class(r.executor().output());
    correct += top == (*labels)[i];
    agree += top == top_class(here[0]);
    worst_prob = std::max(worst_prob, max_difference(r.executor().output(), here[0]));
    if (ends.size() > 1) worst_logit = std::max(worst_logit, max_difference(r.executor().logits(), here[1]));
    worst_encoding = std::max(worst_encoding, t.encoding_error);
    total.push_back(t.total_ms), local.push_back(t.local_ms), wait.push_back(t.wait_ms);
    scenario->record(phase, t.total_ms);
    adapting.alone += t.alone;
    if (t.reshared) {
      ++adapting.reshares;
      trace.push_back({i, r.shares(), r.alone()});
    }
    adapting.shares = r.shares();
    sent += t.bytes_sent, received += t.bytes_received, recomputed += t.recomputed;
    progress.update("partition", i + 1, images->count);
  }
  progress.done();
  const net::PartitionRunner& r = *runner.value();
  const double count = images->count;
  const std::string subnet_name = m.subnets()->Get(s)->name()->str();
  size_t split_stages = 0;
  for (const PartitionStage& st : layout.stages) split_stages += st.split;
  if (json) {
    Json j;
    j.begin_object().field("model", args.positional()[0]).field("subnet", subnet_name)
        .field("parts", uint64_t{layout.parts}).field("stages", uint64_t{split_stages})
        .field("encoding", net::tensor_encoding_name(encoding.value())).field("images", images->count)
        .field("accuracy", correct / count).field("agreement", agree / count)
        .field("max_probability_difference", double(worst_prob)).field("max_logit_difference", double(worst_logit))
        .field("max_encoding_error", double(worst_encoding))
        .field("p50_ms", summarize(total).p50).field("whole_here_p50_ms", summarize(alone).p50)
        .field("local_p50_ms", summarize(local).p50).field("wait_p50_ms", summarize(wait).p50)
        .field("bytes_sent_per_image", sent / count).field("bytes_received_per_image", received / count)
        .field("parts_recomputed", recomputed).field("workers_down", uint64_t{r.workers_down()});
    if (!r.first_failure().empty()) j.field("first_failure", r.first_failure());
    j.key("workers").begin_array();
    for (size_t w = 0; w < addresses.size(); ++w) {
      const uint32_t part = static_cast<uint32_t>(w + (gather_only ? 0 : 1));
      j.begin_object().field("address", addresses[w]).field("part", uint64_t{part})
          .field("floats_to_per_image", uint64_t{layout.floats_to(model.value(), part)})
          .field("floats_from_per_image", uint64_t{layout.floats_from(model.value(), part)}).end_object();
    }
    j.end_array();
    if (adapt || phases.size() > 1) {
      j.key("phases").begin_array();
      for (size_t k = 0; k < phases.size(); ++k) {
        j.begin_object();
        scenario->json_fields(phases[k], j);
        j.field("reshares", adapting_in[k].reshares).field("alone", adapting_in[k].alone).key("shares").begin_array();
        for (double x : adapting_in[k].shares) j.value(x);
        j.end_array().end_object();
      }
      j.end_array().key("trace").begin_array();
      for (const Change& c : trace) {
        j.begin_object().field("after_image", c.image).field("alone", c.alone).key("shares").begin_array();
        for (double x : c.shares) j.value(x);
        j.end_array().end_object();
      }
      j.end_array();
    }
    j.end_object();
    std::printf("%s\n", j.str().c_str());
    return 0;
  }
  std::printf("%s at %s across %s%zu worker(s): %zu stages exchange activations, the last runs here\n",
              args.positional()[0].c_str(), subnet_name.c_str(), gather_only ? "" : "this device and ", addresses.size(),
              split_stages);
  std::printf("  %u images: accuracy %.2f%%, the same class as the whole network here for %.2f%%\n", images->count,
              100.0 * correct / count, 100.0 * agree / count);
  std::printf("  largest difference from the whole network here: logits %.3g, probabilities %.3g (%s)\n",
              double(worst_logit), double(worst_prob), net::tensor_encoding_name(encoding.value()));
  std::printf("  p50 %.3f ms per image (whole network here %.3f ms): computing here %.3f ms, waiting for workers %.3f ms\n",
              summarize(total).p50, summarize(alone).p50, summarize(local).p50, summarize(wait).p50);
  std::printf("  per image: %.0f bytes sent, %.0f received\n", sent / count, received / count);
  if (adapt || phases.size() > 1) {
    std::printf("%s, in turn:\n", adapt ? "adapting the shares (this device first)" : "at fixed shares");
    scenario->print(phases, "  ", [&](size_t k) {
      if (!adapt) return std::string();
      const Adapting& a = adapting_in[k];
      return "; " + std::to_string(a.reshares) + " change(s), shares " + shares_text(a.shares) + " at its end, " +
             std::to_string(a.alone) + " images here alone";
    });
    for (const Change& c : trace) {
      if (c.alone) {
        std::printf("  after image %u: this device alone, the partition retried after %u images, then less often\n",
                    c.image, net::PartitionRunner::kRetryAlone);
      } else {
        std::printf("  after image %u: shares %s\n", c.image, shares_text(c.shares).c_str());
      }
    }
  }
  if (r.workers_down()) {
    std::printf("  %zu worker(s) failed and their parts ran here (%u parts): %s\n", r.workers_down(), recomputed,
                r.first_failure().c_str());
  }
  return 0;
}

}  // namespace

const Command kPartition{
    "partition",
    "compute a network across this device and workers, each its own channels of every layer",
    "shoal partition MODEL --workers HOST:PORT[,...] [--subnet S] [--shares W,...] [--adapt] [--encoding f32|f16|int8] [--json]",
    "Splits every layer's channels between this device (part 0) and the workers, each a\n"
    "`shoal worker` serving the same model file: a convolution's output channels are computed\n"
    "where they belong, and the devices exchange activations before each layer that reads all\n"
    "of them (runtime/channel_partition.h); the classifier runs here. At a Fluid model's w1.0\n"
    "with one worker this is the Fluid paper's high-accuracy mode: lower50 here, upper50 there.\n"
    "Every image also runs whole here, and the report gives accuracy, agreement, the largest\n"
    "difference in logits and probabilities (0 up to rounding with f32), latency and bytes.\n"
    "A worker that fails is given up on and its channels are computed here from then on.\n"
    "--adapt re-chooses the shares as it goes from each device's measured compute and link\n"
    "time (runtime/share_balancer.h), and computes alone while the links cost more than the\n"
    "workers save; --local-slowdown and --link-kbps with a list make a\n"
    "scenario, one value per equal share of the images, and the report traces the shares.",
    {{"--workers", "LIST", "`shoal worker`s serving the same model file, comma-separated"},
     {"--subnet", "S", "the subnet to compute (default: the last, usually the widest)"},
     {"--shares", "W,...", "each device's share of every layer's channels, this one first (default: equal); 0 first: this device only gathers"},
     {"--adapt", nullptr, "re-choose the shares from measured speeds and links as the run goes"},
     {"--local-slowdown", "F[,...]", "stretch this device's compute F times (a loaded device); a list: one per phase"},
     {"--link-kbps", "K[,...]", "limit every link to K kbit/s through a relay (0: as it is); a list: one per phase"},
     {"--deadline", "MS", "count the images slower than MS, per phase"},
     {"--encoding", "NAME", "how activations travel: f32 (default), f16 or int8"},
     {"--timeout", "MS", "give a worker up when it has not answered in MS (default 2000)"},
     {"--transport", "NAME", "tcp (default) or udp, as the workers'"},
     {"--key-file", "FILE", "pre-shared key, the same as the workers'"},
     {"--backend", "NAME", "kernels of this device's engine (default: the fastest this CPU runs; not xnnpack)"},
     {"--threads", "N", "threads of this device's engine (default 1)"},
     {"--images", "FILE", "IDX images (default: Fashion-MNIST t10k)"},
     {"--labels", "FILE", "IDX labels (default: Fashion-MNIST t10k)"},
     {"--limit", "N", "the first N images (default 200)"},
     {"--resize", nullptr, "scale images of another size to the model's input (nearest neighbour)"},
     {"--json", nullptr, "print one JSON object"}},
    run_partition,
    1,
    1,
};

}  // namespace shoal::cli
