// import_onnx: reads the files, lowers each graph (lower_graph.cc) and makes one model of
// them: one weight copy (the widest graph's), one subnet and affine set per file.
#include "onnx_import.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <cstring>
#include <sstream>

#include "lowered.h"
#include "shoal/architectures.h"

namespace shoal::onnx_import {
namespace {

Result<onnx::ModelProto> read_model(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(StatusCode::kNotFound, "cannot open " + path);
  onnx::ModelProto model;
  if (!model.ParseFromIstream(&in) || !model.has_graph()) {
    return Status(StatusCode::kCorrupt, path + " is not an ONNX model (it does not parse as onnx.ModelProto)");
  }
  return model;
}

// One merged width: its lowered graph and, per class of the widest graph, its channels.
struct Width {
  const Lowered* graph;
  std::vector<uint32_t> channels;  // per class of the widest graph (roots only)
  float width = 1.0f;
};

size_t total_channels(const Lowered& g) {
  size_t n = 0;
  for (uint32_t c = 0; c < g.parent.size(); ++c) n += g.find(c) == c ? g.channels[c] : 0;
  return n;
}

Status differs(const Lowered& narrow, const std::string& what) {
  return Status(StatusCode::kInvalidArgument, narrow.file + " is not a narrower copy of the widest network: " + what);
}

// Checks that `n` has the widest graph's layers and maps its classes onto the widest's.
Status match_structure(const Lowered& wide, const Lowered& n, Width& out) {
  if (n.nodes.size() != wide.nodes.size() || n.tensors.size() != wide.tensors.size()) {
    return differs(n, std::to_string(n.nodes.size()) + " layers against " + std::to_string(wide.nodes.size()));
  }
  for (size_t i = 0; i < n.nodes.size(); ++i) {
    const NodeSpec &a = wide.nodes[i].node, &b = n.nodes[i].node;
    const bool same_window = a.window.has_value() == b.window.has_value() &&
                             (!a.window || std::memcmp(&*a.window, &*b.window, sizeof(fb::Window)) == 0);
    if (a.op != b.op || a.depthwise != b.depthwise || a.activation != b.activation || a.inputs != b.inputs ||
        a.outputs != b.outputs || !same_window) {
      return differs(n, "layer '" + wide.nodes[i].onnx_name + "' is '" + n.nodes[i].onnx_name + "' of another kind, window or place");
    }
  }
  out.channels.assign(wide.parent.size(), 0);
  std::vector<int64_t> seen(wide.parent.size(), -1);
  for (size_t t = 0; t < wide.tensors.size(); ++t) {
    if (wide.tensors[t].h != n.tensors[t].h || wide.tensors[t].w != n.tensors[t].w) {
      return differs(n, "tensor '" + wide.tensors[t].name + "' has another height or width");
    }
    const uint32_t wc = wide.find(wide.tensors[t].group), nc = n.find(n.tensors[t].group);
    const uint32_t ch = n.channels[nc];
    if (seen[wc] >= 0 && seen[wc] != ch) return differs(n, "tensor '" + wide.tensors[t].name + "' is sliced unlike its group");
    seen[wc] = ch;
    out.channels[wc] = ch;
    if (ch > wide.channels[wc]) return differs(n, "tensor '" + wide.tensors[t].name + "' is wider than in the widest file");
    if (wide.fixed[wc] && ch != wide.channels[wc]) {
      return differs(n, "tensor '" + wide.tensors[t].name + "' (the input or the output) has another channel count");
    }
  }
  return Status::ok();
}

// The affine set of width `n` for layer i: its weights must be the widest's leading slice up
// to a factor per output channel (folded batch-norm); the factor goes into its scale.
Status match_weights(const Lowered& wide, const Lowered& n, size_t i, std::vector<float>& scale,
                     std::vector<float>& shift) {
  const LoweredNode &W = wide.nodes[i], &N = n.nodes[i];
  const std::string layer = "layer '" + W.onnx_name + "'";
  std::map<std::pair<uint32_t, uint32_t>, uint32_t> narrow_in;  // origin -> stored channel
  for (uint32_t k = 0; k < N.in_origin.size(); ++k) narrow_in[{N.in_origin[k].source, N.in_origin[k].index}] = k;
  // Wide stored input channel k (k < the narrow's count) is narrow stored channel in_map[k].
  std::vector<uint32_t> in_map;
  for (uint32_t k = 0; k < N.in_origin.size(); ++k) {
    auto it = narrow_in.find({W.in_origin[k].source, W.in_origin[k].index});
    if (it == narrow_in.end()) {
      return differs(n, layer + ": its input channels are not the leading channels of the widest network's (input channel " +
                            std::to_string(k) + ")");
    }
    in_map.push_back(it->second);
  }
  const bool dw = N.node.depthwise;
  const uint32_t outs = static_cast<uint32_t>(N.scale.size()), wide_outs = static_cast<uint32_t>(W.scale.size());
  const size_t n_row = N.weights.size() / outs, w_row = W.weights.size() / wide_outs;
  const uint32_t n_in = dw ? 1 : static_cast<uint32_t>(N.in_origin.size()), w_in = dw ? 1 : static_cast<uint32_t>(W.in_origin.size());
  const size_t taps = n_row / n_in;  // kernel taps (Conv2d) or pixels (Linear)
  scale = W.scale, shift = W.shift;
  for (uint32_t o = 0; o < outs; ++o) {
    const uint32_t no = dw ? in_map[o] : o;  // the narrow's stored output channel
    double vw = 0, ww = 0, vmax = 0;
    auto wide_at = [&](size_t t, uint32_t k) { return W.weights[size_t{o} * w_row + t * w_in + k]; };
    auto narrow_at = [&](size_t t, uint32_t k) { return N.weights[size_t{no} * n_row + t * n_in + (dw ? 0 : in_map[k])]; };
    for (size_t t = 0; t < taps; ++t) {
      for (uint32_t k = 0; k < n_in; ++k) {
        const double a = wide_at(t, k), b = narrow_at(t, k);
        vw += a * b, ww += a * a, vmax = std::max(vmax, std::fabs(b));
      }
    }
    const double r = ww > 0 ? vw / ww : 1.0;
    for (size_t t = 0; t < taps; ++t) {
      for (uint32_t k = 0; k < n_in; ++k) {
        if (std::fabs(narrow_at(t, k) - r * wide_at(t, k)) > 1e-4 * vmax + 1e-30) {
          std::ostringstream s;
          s << layer << ": output channel " << o << " is not the widest network's up to a factor (weight " << narrow_at(t, k)
            << " against " << wide_at(t, k) << " x " << r << ")";
          return differs(n, s.str());
        }
      }
    }
    scale[o] = static_cast<float>(r * N.scale[no]);
    shift[o] = N.shift[no];
  }
  return Status::ok();
}

// The class names of the model: the largest class of each tensor's root.
std::vector<GroupSpec> make_groups(const Lowered& g, std::vector<uint32_t>& group_of) {
  std::vector<GroupSpec> groups;
  group_of.assign(g.parent.size(), UINT32_MAX);
  std::vector<bool> fixed(g.parent.size(), false);
  for (uint32_t c = 0; c < g.parent.size(); ++c) fixed[g.find(c)] = fixed[g.find(c)] || g.fixed[c];
  for (const TensorSpec& t : g.tensors) {
    const uint32_t root = g.find(t.group);
    if (group_of[root] != UINT32_MAX) continue;
    group_of[root] = static_cast<uint32_t>(groups.size());
    groups.push_back({t.name, g.channels[root], !fixed[root]});
  }
  return groups;
}

bool all_equal(const std::vector<float>& v, float x) {
  return std::all_of(v.begin(), v.end(), [x](float y) { return y == x; });
}

}  // namespace

Result<ModelSpec> import_onnx(const std::vector<std::string>& files, const ImportOptions& options,
                              std::vector<std::string>* subnet_of_file) {
  if (files.empty()) return Status(StatusCode::kInvalidArgument, "no ONNX file to import");
  std::vector<Lowered> graphs;
  for (const std::string& f : files) {
    Result<onnx::ModelProto> m = read_model(f);
    if (!m.is_ok()) return m.status();
    Result<Lowered> g = lower_graph(m.value(), options, f);
    if (!g.is_ok()) return g.status();
    graphs.push_back(std::move(g.value()));
  }
  // The widest graph holds the weights; the others are its slices.
  size_t widest = 0;
  for (size_t i = 1; i < graphs.size(); ++i) widest = total_channels(graphs[i]) > total_channels(graphs[widest]) ? i : widest;
  const Lowered& wide = graphs[widest];
  std::vector<Width> widths(graphs.size());
  for (size_t i = 0; i < graphs.size(); ++i) {
    widths[i].graph = &graphs[i];
    SHOAL_RETURN_IF_ERROR(match_structure(wide, graphs[i], widths[i]));
  }
  ModelSpec spec;
  std::vector<uint32_t> group_of;
  spec.groups = make_groups(wide, group_of);
  double wide_sliced = 0;
  for (uint32_t c = 0; c < wide.parent.size(); ++c) {
    if (group_of[c] != UINT32_MAX && spec.groups[group_of[c]].sliceable) wide_sliced += wide.channels[c];
  }
  for (Width& w : widths) {
    double sliced = 0;
    for (uint32_t c = 0; c < wide.parent.size(); ++c) {
      if (group_of[c] != UINT32_MAX && spec.groups[group_of[c]].sliceable) sliced += w.channels[c];
    }
    w.width = wide_sliced > 0 ? static_cast<float>(std::round(sliced / wide_sliced * 100.0) / 100.0) : 1.0f;
  }
  std::sort(widths.begin(), widths.end(), [](const Width& a, const Width& b) { return a.width < b.width; });
  for (size_t i = 1; i < widths.size(); ++i) {
    if (widths[i].width == widths[i - 1].width) {
      return Status(StatusCode::kInvalidArgument, widths[i].graph->file + " and " + widths[i - 1].graph->file +
                                                      " are the same width; give each width once");
    }
  }
  const uint32_t sets = static_cast<uint32_t>(widths.size());
  spec.affine_sets = sets;
  for (const TensorSpec& t : wide.tensors) {
    TensorSpec s = t;
    s.group = group_of[wide.find(t.group)];
    spec.tensors.push_back(s);
  }
  spec.input = wide.input, spec.output = wide.output;
  for (size_t i = 0; i < wide.nodes.size(); ++i) {
    const LoweredNode& ln = wide.nodes[i];
    NodeSpec n = ln.node;
    if (!ln.weights.empty()) {
      std::vector<std::vector<float>> scales, shifts;
      for (const Width& w : widths) {
        std::vector<float> scale, shift;
        SHOAL_RETURN_IF_ERROR(match_weights(wide, *w.graph, i, scale, shift));
        scales.push_back(std::move(scale)), shifts.push_back(std::move(shift));
      }
      bool ones = true, zeros = true, shared_shift = true;
      for (size_t s = 0; s < sets; ++s) {
        ones = ones && all_equal(scales[s], 1.0f);
        zeros = zeros && all_equal(shifts[s], 0.0f);
        shared_shift = shared_shift && shifts[s] == shifts[0];
      }
      spec.buffers.push_back(ln.weights);
      n.weights = static_cast<int32_t>(spec.buffers.size() - 1);
      auto rows = [&](const std::vector<std::vector<float>>& v, bool one_row) {
        std::vector<float> all;
        for (size_t s = 0; s < (one_row ? 1 : sets); ++s) all.insert(all.end(), v[s].begin(), v[s].end());
        spec.buffers.push_back(std::move(all));
        return static_cast<int32_t>(spec.buffers.size() - 1);
      };
      // A row shared by every subnet where one will do (a bias without batch-norm).
      if (!ones) n.scale = rows(scales, false);
      if (!zeros) n.shift = rows(shifts, shared_shift);
    }
    spec.nodes.push_back(std::move(n));
  }
  for (uint32_t s = 0; s < sets; ++s) {
    SubnetSpec sub;
    sub.width = widths[s].width;
    sub.name = width_subnet_name(sub.width);
    sub.affine_set = s;
    sub.ranges.assign(spec.groups.size(), fb::GroupRange(0, 0));
    for (uint32_t c = 0; c < wide.parent.size(); ++c) {
      if (group_of[c] != UINT32_MAX) sub.ranges[group_of[c]] = fb::GroupRange(0, widths[s].channels[c]);
    }
    if (subnet_of_file) {
      subnet_of_file->resize(files.size());
      const size_t file = static_cast<size_t>(widths[s].graph - graphs.data());
      (*subnet_of_file)[file] = sub.name;
    }
    spec.subnets.push_back(std::move(sub));
  }
  // Untrained widths: every sliceable group cut at the fraction, a Concat's at its inputs' sum.
  for (float f : options.extra_widths) {
    if (!(f > 0.0f && f <= 1.0f)) return Status(StatusCode::kInvalidArgument, "a width must be in (0, 1]");
    SubnetSpec sub;
    sub.width = f;
    sub.name = width_subnet_name(f);
    for (const SubnetSpec& s : spec.subnets) {
      if (s.name == sub.name) return Status(StatusCode::kInvalidArgument, "width " + sub.name + " is already a trained subnet");
    }
    sub.affine_set = sets - 1;  // the widest's statistics
    sub.untrained = true;
    for (const GroupSpec& g : spec.groups) {
      const uint32_t hi = g.sliceable ? std::max<uint32_t>(1, static_cast<uint32_t>(std::lround(f * g.capacity))) : g.capacity;
      sub.ranges.push_back(fb::GroupRange(0, hi));
    }
    for (const NodeSpec& n : spec.nodes) {
      if (n.op != fb::OpType::Concat) continue;
      uint32_t sum = 0;
      for (uint32_t t : n.inputs) sum += sub.ranges[spec.tensors[t].group].hi();
      sub.ranges[spec.tensors[n.outputs[0]].group] = fb::GroupRange(0, sum);
    }
    spec.subnets.push_back(std::move(sub));
  }
  std::string stem = files[0].substr(files[0].find_last_of('/') + 1);
  stem = stem.substr(0, stem.rfind('.'));
  spec.name = options.name.empty() ? stem : options.name;
  spec.metadata.architecture = "onnx";
  spec.metadata.description = "imported from " + files[0] + (files.size() > 1 ? " and " + std::to_string(files.size() - 1) + " narrower files" : "") +
                              " (ONNX opset " + std::to_string(wide.opset) + ")";
  spec.metadata.class_names = options.class_names;
  const uint32_t channels = spec.groups[spec.tensors[spec.input].group].capacity;
  for (const auto* v : {&options.mean, &options.std}) {
    if (!v->empty() && v->size() != 1 && v->size() != channels) {
      return Status(StatusCode::kInvalidArgument, "give one mean and std, or one per input channel (" + std::to_string(channels) + ")");
    }
  }
  if (std::any_of(options.std.begin(), options.std.end(), [](float s) { return !(s > 0.0f); })) {
    return Status(StatusCode::kInvalidArgument, "a std must be above 0");
  }
  // One value for every channel goes in the scalar fields; per channel, in the lists.
  const bool per_channel = options.mean.size() > 1 || options.std.size() > 1;
  if (per_channel) {
    spec.metadata.input_means = options.mean.size() > 1 ? options.mean : std::vector<float>(channels, options.mean.empty() ? 0.0f : options.mean[0]);
    spec.metadata.input_stds = options.std.size() > 1 ? options.std : std::vector<float>(channels, options.std.empty() ? 1.0f : options.std[0]);
  } else {
    spec.metadata.input_mean = options.mean.empty() ? 0.0f : options.mean[0];
    spec.metadata.input_std = options.std.empty() ? 1.0f : options.std[0];
  }
  return spec;
}

}  // namespace shoal::onnx_import
