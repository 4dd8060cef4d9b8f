// shoal inspect: what a model file holds.
#include <cstdio>
#include <string>

#include "command.h"
#include "shoal/json.h"
#include "shoal/engine.h"
#include "shoal/model.h"
#include "shoal/net/tensor_encoding.h"
#include "shoal/split_planner.h"

namespace shoal::cli {
namespace {

std::string str(const flatbuffers::String* s) { return s ? s->str() : ""; }

std::string shape_text(const Model& m, uint32_t t) {
  const TensorShape s = m.shape(t);
  return std::to_string(s.h) + "x" + std::to_string(s.w) + "x" + std::to_string(s.c);
}

std::string ranges_text(const fb::Model& m, const fb::Subnet* s) {
  // One range for the sliceable groups when they all agree, as slimmable models have.
  std::string text;
  for (uint32_t g = 0; g < m.groups()->size(); ++g) {
    if (!m.groups()->Get(g)->sliceable()) continue;
    const fb::GroupRange* r = s->ranges()->Get(g);
    const uint32_t cap = m.groups()->Get(g)->capacity();
    char item[64];
    std::snprintf(item, sizeof(item), "[%.0f%%,%.0f%%)", 100.0 * r->lo() / cap, 100.0 * r->hi() / cap);
    if (text.find(item) == std::string::npos) text += (text.empty() ? "" : " ") + std::string(item);
  }
  return text;
}

std::string accuracy_text(float a) {
  if (a < 0) return "-";
  char text[16];
  std::snprintf(text, sizeof(text), "%.2f%%", 100.0 * a);
  return text;
}

void print_json(const Model& model) {
  const fb::Model& m = model.fb();
  const fb::Metadata* md = m.metadata();
  Json j;
  j.begin_object().field("name", str(m.name())).field("version", m.version()).field("bytes", uint64_t{model.size()});
  j.key("metadata").begin_object();
  if (md) {
    j.field("architecture", str(md->architecture())).field("dataset", str(md->dataset()))
        .field("recipe", str(md->recipe())).field("seed", md->seed()).field("epochs", md->epochs())
        .field("description", str(md->description()));
    j.key("class_names").begin_array();
    if (md->class_names()) for (const auto* c : *md->class_names()) j.value(c->str());
    j.end_array();
  }
  j.end_object();
  j.field("input", str(m.tensors()->Get(m.input())->name()));
  j.field("output", str(m.tensors()->Get(m.output())->name()));
  j.key("groups").begin_array();
  for (const fb::ChannelGroup* g : *m.groups()) {
    j.begin_object().field("name", g->name()->str()).field("capacity", g->capacity()).field("sliceable", g->sliceable()).end_object();
  }
  j.end_array().key("layers").begin_array();
  for (const fb::Node* n : *m.nodes()) {
    j.begin_object().field("name", str(n->name())).field("op", fb::EnumNameOpType(n->op()));
    j.key("inputs").begin_array();
    for (uint32_t t : *n->inputs()) j.value(m.tensors()->Get(t)->name()->str());
    j.end_array();
    j.field("output", m.tensors()->Get(n->outputs()->Get(0))->name()->str());
    j.field("shape", shape_text(model, n->outputs()->Get(0))).end_object();
  }
  j.end_array().key("subnets").begin_array();
  for (uint32_t i = 0; i < m.subnets()->size(); ++i) {
    const fb::Subnet* s = m.subnets()->Get(i);
    const SubnetCost cost = model.cost(i);
    j.begin_object().field("name", s->name()->str()).field("width", static_cast<double>(s->width()))
        .field("affine_set", s->affine_set()).field("trained", !s->untrained()).field("params", cost.params)
        .field("macs", cost.macs);
    j.key("ranges").begin_array();
    for (const fb::GroupRange* r : *s->ranges()) j.begin_array().value(r->lo()).value(r->hi()).end_array();
    j.end_array();
    if (s->val_accuracy() >= 0) j.field("val_accuracy", static_cast<double>(s->val_accuracy()));
    if (s->test_accuracy() >= 0) j.field("test_accuracy", static_cast<double>(s->test_accuracy()));
    j.end_object();
  }
  j.end_array().field("weight_block", m.weight_block()).key("engine_bytes").begin_object();
  for (const Backend* k : available_backends()) {
    auto need = Engine::required_bytes(model, *k);
    if (k->cpu_kernels() && need.is_ok()) j.field(k->name(), uint64_t{need.value()});
  }
  j.end_object().end_object();
  std::printf("%s\n", j.str().c_str());
}

void print_text(const Model& model) {
  const fb::Model& m = model.fb();
  const fb::Metadata* md = m.metadata();
  std::printf("model      %s (format version %u, %.1f KiB)\n", str(m.name()).c_str(), m.version(), model.size() / 1024.0);
  if (md) {
    std::printf("arch       %s\n", str(md->architecture()).c_str());
    if (md->dataset() && md->dataset()->size()) std::printf("dataset    %s\n", md->dataset()->c_str());
    if (md->recipe() && md->recipe()->size()) {
      std::printf("recipe     %s (seed %llu, %u epochs)\n", md->recipe()->c_str(),
                  static_cast<unsigned long long>(md->seed()), md->epochs());
    }
    if (md->description() && md->description()->size()) std::printf("about      %s\n", md->description()->c_str());
    if (md->class_names() && md->class_names()->size()) {
      std::printf("classes    ");
      for (uint32_t i = 0; i < md->class_names()->size(); ++i) {
        std::printf("%s%s", i ? ", " : "", md->class_names()->Get(i)->c_str());
      }
      std::printf("\n");
    }
    std::string norm;
    if (md->input_means() && md->input_stds()) {
      auto list = [](const flatbuffers::Vector<float>* v) {
        std::string t;
        for (float f : *v) t += (t.empty() ? "" : ",") + std::to_string(f).substr(0, 6);
        return t;
      };
      norm = "(pixel/255 - [" + list(md->input_means()) + "]) / [" + list(md->input_stds()) + "] per channel";
    } else {
      char buf[96];
      std::snprintf(buf, sizeof buf, "(pixel/255 - %.4f) / %.4f", md->input_mean(), md->input_std());
      norm = buf;
    }
    std::printf("input      %s %s, x = %s\n", str(m.tensors()->Get(m.input())->name()).c_str(),
                shape_text(model, m.input()).c_str(), norm.c_str());
  }
  std::printf("\nchannel groups (%u)\n", m.groups()->size());
  for (const fb::ChannelGroup* g : *m.groups()) {
    std::printf("  %-20s %6u%s\n", g->name()->c_str(), g->capacity(), g->sliceable() ? "" : "  (never sliced)");
  }
  std::printf("\nlayers (%u)\n  %-22s %-14s %-14s %s\n", m.nodes()->size(), "name", "op", "output", "kernel");
  for (const fb::Node* n : *m.nodes()) {
    std::string kernel;
    if (const fb::Window* w = n->window()) {
      kernel = std::to_string(w->kernel_h()) + "x" + std::to_string(w->kernel_w()) + " s" + std::to_string(w->stride_h()) +
               (n->depthwise() ? " depthwise" : "") + (n->exclude_padding() ? " excl. padding" : "");
    }
    if (n->activation() != fb::Activation::None) kernel += std::string(kernel.empty() ? "" : " ") + "+" + fb::EnumNameActivation(n->activation());
    std::printf("  %-22s %-14s %-14s %s\n", str(n->name()).c_str(), fb::EnumNameOpType(n->op()),
                shape_text(model, n->outputs()->Get(0)).c_str(), kernel.c_str());
  }
  std::printf("\nsubnets (%u)\n  %-10s %6s %-18s %12s %14s %9s %9s  %s\n", m.subnets()->size(), "name", "width",
              "channels", "params", "MACs", "val acc", "test acc", "trained");
  for (uint32_t i = 0; i < m.subnets()->size(); ++i) {
    const fb::Subnet* s = m.subnets()->Get(i);
    const SubnetCost cost = model.cost(i);
    std::printf("  %-10s %6.3g %-18s %12llu %14llu %9s %9s  %s\n", s->name()->c_str(), s->width(),
                ranges_text(m, s).c_str(), static_cast<unsigned long long>(cost.params),
                static_cast<unsigned long long>(cost.macs), accuracy_text(s->val_accuracy()).c_str(),
                accuracy_text(s->test_accuracy()).c_str(), s->untrained() ? "no (sliced from other widths)" : "yes");
  }
  // What Engine::required_bytes says: the memory a firmware author hands create_in.
  std::printf("\nengine memory (arena + packed weights; weights %s)\n",
              m.weight_block() ? ("packed in the file for blocks of " + std::to_string(m.weight_block())).c_str()
                               : "not packed in the file: shoal pack");
  for (const Backend* k : available_backends()) {
    auto need = Engine::required_bytes(model, *k);
    if (k->cpu_kernels() && need.is_ok()) std::printf("  %-10s %10zu bytes\n", k->name(), need.value());
  }
}

// Two devices and the link between them, as --splits takes them: the planner predicts every
// cut's latency from these and picks one (runtime/split_planner.h), as `shoal split --at
// auto` does from measurements.
struct LinkModel {
  double here_gmacs = 0, there_gmacs = 0, link_mbps = 0, rtt_ms = 1;
  wire::TensorEncoding encoding = wire::TensorEncoding::F32;
  bool given() const { return here_gmacs > 0; }
};

// --splits: where the graph can be cut between two devices (Model::cut_tensors), with what
// crosses the link and the work on each side, at one subnet; with a link model, each cut's
// predicted latency and the planner's choice.
void print_splits(const Model& model, uint32_t subnet, const LinkModel& link, bool json) {
  const fb::Model& m = model.fb();
  const uint64_t total = model.cost(subnet).macs;
  const std::string name = m.subnets()->Get(subnet)->name()->str();
  LatencyOptions as_measured;  // the times themselves, without the margins a deadline plan adds
  as_measured.margin_ms = 0;
  as_measured.margin_fraction = 0;
  SplitPlanner planner(model, subnet, static_cast<double>(net::encoded_bytes(link.encoding, 1)), as_measured);
  size_t best = 0;
  if (link.given()) {
    // Every candidate run once as it would go on these devices and this link: what the
    // planner would have measured.
    planner.observe_probe(link.rtt_ms);
    for (size_t c = 0; c < planner.candidates(); ++c) {
      const double here_ms = static_cast<double>(planner.macs_here(c)) * 1e-6 / link.here_gmacs;
      const double there_ms = static_cast<double>(planner.macs_there(c)) * 1e-6 / link.there_gmacs;
      const double link_ms = link.rtt_ms + static_cast<double>(planner.bytes(c)) * 8 / (link.link_mbps * 1e3);
      planner.observe(c, here_ms, link_ms + there_ms, there_ms, planner.bytes(c));
    }
    best = planner.choose(0);
  }
  auto where = [&](size_t c) -> std::string {
    if (c == planner.all_remote()) return "(all there: send the image)";
    if (c == planner.all_local()) return "(all here)";
    return str(m.nodes()->Get(planner.point(c).node)->name());
  };
  Json j;
  j.begin_object().field("subnet", name).field("macs", total)
      .field("input_bytes", uint64_t{model.packed_size(subnet, m.input()) * sizeof(float)}).key("cuts").begin_array();
  if (!json) {
    std::printf("cuts of %s (%zu of them; %llu MACs in all; the input is %zu bytes as f32)\n", name.c_str(),
                planner.candidates() - 2, static_cast<unsigned long long>(total),
                model.packed_size(subnet, m.input()) * sizeof(float));
    std::printf("  %-28s %-12s %12s %14s %14s%s\n", "after", "shape",
                (std::string("bytes (") + net::tensor_encoding_name(link.encoding) + ")").c_str(), "MACs before", "MACs after",
                link.given() ? "   predicted ms" : "");
  }
  for (size_t c = 0; c < planner.candidates(); ++c) {
    const bool cut = c != planner.all_remote() && c != planner.all_local();
    if (!cut && !link.given()) continue;
    const uint64_t bytes = planner.bytes(c);
    const std::string shape = cut ? shape_text(model, planner.tensor(c)) : "";
    if (json) {
      if (!cut) continue;
      j.begin_object().field("after", where(c)).field("tensor", str(m.tensors()->Get(planner.tensor(c))->name()))
          .field("shape", shape).field("bytes", bytes).field("macs_before", planner.macs_here(c))
          .field("macs_after", planner.macs_there(c));
      if (link.given()) j.field("predicted_ms", planner.predicted_ms(c));
      j.end_object();
    } else {
      std::printf("  %-28s %-12s %12llu %14llu %14llu", where(c).c_str(), shape.c_str(),
                  static_cast<unsigned long long>(bytes), static_cast<unsigned long long>(planner.macs_here(c)),
                  static_cast<unsigned long long>(planner.macs_there(c)));
      if (link.given()) std::printf(" %14.3f%s", planner.predicted_ms(c), c == best ? "  <- best" : "");
      std::printf("\n");
    }
  }
  j.end_array();
  if (link.given()) {
    j.key("link").begin_object().field("here_gmacs", link.here_gmacs).field("there_gmacs", link.there_gmacs)
        .field("link_mbps", link.link_mbps).field("rtt_ms", link.rtt_ms).end_object();
    j.key("best").begin_object().field("after", where(best)).field("bytes", uint64_t{planner.bytes(best)})
        .field("predicted_ms", planner.predicted_ms(best)).end_object();
  }
  j.end_object();
  if (json) std::printf("%s\n", j.str().c_str());
}

Result<LinkModel> link_model(const Args& args) {
  LinkModel link;
  const char* names[] = {"--here-gmacs", "--there-gmacs", "--link-mbps"};
  double* values[] = {&link.here_gmacs, &link.there_gmacs, &link.link_mbps};
  int given = 0;
  for (int i = 0; i < 3; ++i) {
    Result<double> v = args.number(names[i], 0);
    if (!v.is_ok()) return v.status();
    if (args.has(names[i]) && !(v.value() > 0)) {
      return Status(StatusCode::kInvalidArgument, std::string(names[i]) + " must be above 0");
    }
    *values[i] = v.value();
    given += args.has(names[i]);
  }
  Result<double> rtt = args.number("--rtt-ms", 1);
  if (!rtt.is_ok()) return rtt.status();
  if (rtt.value() < 0) return Status(StatusCode::kInvalidArgument, "--rtt-ms must be 0 or more");
  link.rtt_ms = rtt.value();
  if (args.has("--encoding")) {
    Result<wire::TensorEncoding> e = net::parse_tensor_encoding(args.get("--encoding"));
    if (!e.is_ok()) return e.status();
    link.encoding = e.value();
  }
  if (given != 0 && given != 3) {
    return Status(StatusCode::kInvalidArgument, "give --here-gmacs, --there-gmacs and --link-mbps together");
  }
  if ((given || args.has("--rtt-ms") || args.has("--encoding")) && !args.has("--splits")) {
    return Status(StatusCode::kInvalidArgument, "the link model goes with --splits");
  }
  return link;
}

int run_inspect(const Args& args) {
  auto model = Model::from_file(args.positional()[0]);
  if (!model.is_ok()) return fail("inspect", model.status());
  Result<LinkModel> link = link_model(args);
  if (!link.is_ok()) return fail("inspect", link.status());
  if (args.has("--splits")) {
    const uint32_t widest = model->fb().subnets()->size() - 1;
    auto subnet = args.has("--subnet") ? model->find_subnet(args.get("--subnet")) : Result<uint32_t>(widest);
    if (!subnet.is_ok()) return fail("inspect", subnet.status());
    print_splits(model.value(), subnet.value(), link.value(), args.has("--json"));
    return 0;
  }
  if (args.has("--subnet")) return fail("inspect", "--subnet goes with --splits");
  if (args.has("--json")) {
    print_json(model.value());
  } else {
    print_text(model.value());
  }
  return 0;
}

}  // namespace

const Command kInspect = {
    "inspect",
    "show a model's channel groups, layers, subnets (params, MACs, accuracy) and metadata",
    "shoal inspect MODEL [--splits [--subnet S] [--encoding E] [--here-gmacs G --there-gmacs G --link-mbps M [--rtt-ms R]]] [--json]",
    "Loads and checks MODEL, then describes it. Channels are given as the share of each\n"
    "sliceable group a subnet uses: [50%,100%) is the upper half. --splits lists instead\n"
    "every place the graph can be cut between two devices (after a layer whose output is\n"
    "all that later layers need; never inside a residual block): the tensor that would\n"
    "cross the link, its bytes as f32, and the MACs on each side, at one subnet. Given both\n"
    "devices' speed and the link's, it also predicts each cut's latency and marks the one\n"
    "shoal split --at auto would start from (the same planner, runtime/split_planner.h).",
    {{"--splits", nullptr, "list the legal cuts between two devices"},
     {"--subnet", "S", "with --splits: the subnet (default: the last, usually the widest)"},
     {"--here-gmacs", "G", "with --splits: this device's speed, billions of multiply-adds a second"},
     {"--there-gmacs", "G", "with --splits: the worker's speed"},
     {"--link-mbps", "M", "with --splits: the link's bandwidth in Mbit/s"},
     {"--rtt-ms", "R", "with --splits: the link's round trip in ms (default 1)"},
     {"--encoding", "E", "with --splits: how a cut tensor travels, f32 (default), f16 or int8"},
     {"--json", nullptr, "print one JSON object instead of tables"}},
    run_inspect,
    1,
    1,
};

}  // namespace shoal::cli
