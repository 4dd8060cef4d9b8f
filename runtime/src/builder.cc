#include "shoal/builder.h"

#include <algorithm>
#include <cmath>

#include "common/pack_conv2d.h"

namespace shoal {

std::vector<uint8_t> serialize_model(const ModelSpec& spec) {
  flatbuffers::FlatBufferBuilder fbb(1024);
  std::vector<flatbuffers::Offset<fb::ChannelGroup>> groups;
  for (const GroupSpec& g : spec.groups) {
    groups.push_back(fb::CreateChannelGroupDirect(fbb, g.name.c_str(), g.capacity, g.sliceable));
  }
  std::vector<flatbuffers::Offset<fb::Tensor>> tensors;
  for (const TensorSpec& t : spec.tensors) {
    tensors.push_back(fb::CreateTensorDirect(fbb, t.name.c_str(), t.group, t.h, t.w, t.type));
  }
  std::vector<flatbuffers::Offset<fb::Node>> nodes;
  for (const NodeSpec& n : spec.nodes) {
    nodes.push_back(fb::CreateNodeDirect(fbb, n.name.c_str(), n.op, &n.inputs, &n.outputs,
                                         n.window ? &*n.window : nullptr, n.depthwise, n.activation,
                                         n.weights, n.scale, n.shift, n.packed_weights, n.exclude_padding));
  }
  std::vector<flatbuffers::Offset<fb::Subnet>> subnets;
  for (const SubnetSpec& s : spec.subnets) {
    subnets.push_back(fb::CreateSubnetDirect(fbb, s.name.c_str(), s.width, &s.ranges, s.affine_set,
                                             s.val_accuracy, s.test_accuracy,
                                             s.quantization.empty() ? nullptr : &s.quantization, s.untrained));
  }
  std::vector<flatbuffers::Offset<fb::Buffer>> buffers;
  for (const std::vector<float>& b : spec.buffers) {
    // Little-endian hosts only (x86, aarch64): the floats' bytes are the file's bytes.
    const auto* bytes = reinterpret_cast<const uint8_t*>(b.data());
    std::vector<uint8_t> data(bytes, bytes + b.size() * sizeof(float));
    buffers.push_back(fb::CreateBufferDirect(fbb, &data));
  }
  const MetadataSpec& md = spec.metadata;
  std::vector<flatbuffers::Offset<flatbuffers::String>> class_names;
  for (const std::string& c : md.class_names) class_names.push_back(fbb.CreateString(c));
  auto metadata = fb::CreateMetadataDirect(
      fbb, md.architecture.c_str(), md.dataset.c_str(), &class_names, md.recipe.c_str(), md.seed,
      md.epochs, md.description.c_str(), md.input_mean, md.input_std,
      md.input_means.empty() ? nullptr : &md.input_means, md.input_stds.empty() ? nullptr : &md.input_stds);
  // The oldest version that holds what the model uses (schema/model.fbs).
  bool needs_2 = !md.input_means.empty() || !md.input_stds.empty();
  for (const NodeSpec& n : spec.nodes) needs_2 = needs_2 || n.exclude_padding;
  const uint32_t version = std::max(spec.version, needs_2 ? 2u : 1u);
  auto model = fb::CreateModelDirect(fbb, version, spec.name.c_str(), &groups, &tensors, &nodes,
                                     spec.input, spec.output, &subnets, spec.affine_sets, &buffers,
                                     metadata, spec.weight_block);
  fb::FinishModelBuffer(fbb, model);
  return std::vector<uint8_t>(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
}

ModelSpec model_spec(const Model& model) {
  const fb::Model& m = model.fb();
  auto str = [](const flatbuffers::String* s) { return s ? s->str() : std::string(); };
  ModelSpec spec;
  spec.version = m.version();
  spec.name = str(m.name());
  for (const fb::ChannelGroup* g : *m.groups()) spec.groups.push_back({g->name()->str(), g->capacity(), g->sliceable()});
  for (const fb::Tensor* t : *m.tensors()) spec.tensors.push_back({t->name()->str(), t->group(), t->height(), t->width(), t->type()});
  for (const fb::Node* n : *m.nodes()) {
    NodeSpec node;
    node.name = str(n->name());
    node.op = n->op();
    node.inputs.assign(n->inputs()->begin(), n->inputs()->end());
    node.outputs.assign(n->outputs()->begin(), n->outputs()->end());
    if (n->window()) node.window = *n->window();
    node.depthwise = n->depthwise();
    node.activation = n->activation();
    node.weights = n->weights(), node.scale = n->scale(), node.shift = n->shift();
    node.packed_weights = n->packed_weights();
    node.exclude_padding = n->exclude_padding();
    spec.nodes.push_back(std::move(node));
  }
  spec.input = m.input(), spec.output = m.output();
  for (const fb::Subnet* s : *m.subnets()) {
    std::vector<fb::GroupRange> ranges;
    for (const fb::GroupRange* r : *s->ranges()) ranges.push_back(*r);
    std::vector<fb::Quantization> quantization;
    if (s->quantization()) {
      for (const fb::Quantization* q : *s->quantization()) quantization.push_back(*q);
    }
    spec.subnets.push_back({s->name()->str(), s->width(), std::move(ranges), s->affine_set(), s->val_accuracy(),
                            s->test_accuracy(), std::move(quantization), s->untrained()});
  }
  spec.affine_sets = m.affine_sets();
  for (uint32_t b = 0; m.buffers() && b < m.buffers()->size(); ++b) {
    const float* f = model.buffer_f32(static_cast<int32_t>(b));
    spec.buffers.emplace_back(f, f + m.buffers()->Get(b)->data()->size() / sizeof(float));
  }
  if (const fb::Metadata* md = m.metadata()) {
    MetadataSpec& out = spec.metadata;
    out.architecture = str(md->architecture()), out.dataset = str(md->dataset());
    out.recipe = str(md->recipe()), out.description = str(md->description());
    if (md->class_names()) {
      for (const flatbuffers::String* c : *md->class_names()) out.class_names.push_back(c->str());
    }
    out.seed = md->seed(), out.epochs = md->epochs();
    out.input_mean = md->input_mean(), out.input_std = md->input_std();
    if (md->input_means()) out.input_means.assign(md->input_means()->begin(), md->input_means()->end());
    if (md->input_stds()) out.input_stds.assign(md->input_stds()->begin(), md->input_stds()->end());
  }
  spec.weight_block = m.weight_block();
  return spec;
}

std::vector<uint8_t> pack_model(const Model& model, uint32_t block) {
  ModelSpec spec = model_spec(model);
  // Weights packed before (for another block) go; every other buffer keeps its order.
  std::vector<int32_t> renumber(spec.buffers.size(), 0);
  for (const NodeSpec& n : spec.nodes) {
    if (n.packed_weights >= 0) renumber[n.packed_weights] = -1;
  }
  std::vector<std::vector<float>> buffers;
  for (size_t b = 0; b < spec.buffers.size(); ++b) {
    if (renumber[b] < 0) continue;
    renumber[b] = static_cast<int32_t>(buffers.size());
    buffers.push_back(std::move(spec.buffers[b]));
  }
  spec.buffers = std::move(buffers);
  spec.weight_block = block;
  for (NodeSpec& n : spec.nodes) {
    for (int32_t* index : {&n.weights, &n.scale, &n.shift}) {
      if (*index >= 0) *index = renumber[*index];
    }
    n.packed_weights = -1;
    if (!block || (n.op != fb::OpType::Conv2d && n.op != fb::OpType::Linear)) continue;
    const std::vector<float>& ohwi = spec.buffers[n.weights];
    const uint32_t cout = spec.groups[spec.tensors[n.outputs[0]].group].capacity;
    // The packing reads each output channel's weights as one run of taps x input channels,
    // so a 1x1 window over that many "channels" packs any layer.
    shoal_conv2d_params p{};
    p.win.kernel_h = p.win.kernel_w = 1;
    p.w_in_stride = static_cast<uint32_t>(ohwi.size() / cout);
    std::vector<float> packed(shoal_conv2d_packed_floats(&p, cout, block));
    shoal_conv2d_pack_oc_blocks(&p, cout, block, ohwi.data(), packed.data());
    n.packed_weights = static_cast<int32_t>(spec.buffers.size());
    spec.buffers.push_back(std::move(packed));
  }
  return serialize_model(spec);
}

namespace {

NodeSpec plain_node(const std::string& name, fb::OpType op, std::vector<uint32_t> inputs, uint32_t out) {
  NodeSpec n;
  n.name = name;
  n.op = op;
  n.inputs = std::move(inputs);
  n.outputs = {out};
  return n;
}

}  // namespace

fb::Window make_window(uint32_t kernel, uint32_t stride, uint32_t pad, uint32_t dilation) {
  return fb::Window(kernel, kernel, stride, stride, pad, pad, pad, pad, dilation, dilation);
}

ModelBuilder::ModelBuilder(std::string name, uint32_t affine_sets) {
  spec_.name = std::move(name);
  spec_.affine_sets = affine_sets;
}

uint32_t ModelBuilder::group(std::string name, uint32_t capacity, bool sliceable) {
  spec_.groups.push_back({std::move(name), capacity, sliceable});
  return static_cast<uint32_t>(spec_.groups.size() - 1);
}

uint32_t ModelBuilder::tensor(std::string name, uint32_t group, uint32_t h, uint32_t w) {
  spec_.tensors.push_back({std::move(name), group, h, w});
  return static_cast<uint32_t>(spec_.tensors.size() - 1);
}

uint32_t ModelBuilder::input(std::string name, uint32_t group, uint32_t h, uint32_t w) {
  spec_.input = tensor(std::move(name), group, h, w);
  return spec_.input;
}

uint32_t ModelBuilder::node(NodeSpec n) {
  const uint32_t out = n.outputs.at(0);
  spec_.nodes.push_back(std::move(n));
  return out;
}

int32_t ModelBuilder::buffer(uint64_t floats, float fill) {
  spec_.buffers.emplace_back(floats, fill);
  return static_cast<int32_t>(spec_.buffers.size() - 1);
}

uint32_t ModelBuilder::weighted(std::string name, fb::OpType op, uint32_t x, uint32_t out,
                                uint64_t weights, const LayerOptions& o,
                                std::optional<fb::Window> window) {
  const uint32_t cout = spec_.groups[spec_.tensors[out].group].capacity;
  NodeSpec n;
  n.name = std::move(name);
  n.op = op;
  n.inputs = {x};
  n.outputs = {out};
  n.window = window;
  n.depthwise = o.depthwise;
  n.activation = o.activation;
  n.weights = buffer(weights, 0.0f);
  if (o.affine) {
    n.scale = buffer(uint64_t{spec_.affine_sets} * cout, 1.0f);
    n.shift = buffer(uint64_t{spec_.affine_sets} * cout, 0.0f);
  } else if (o.bias) {
    n.shift = buffer(cout, 0.0f);
  }
  return node(std::move(n));
}

uint32_t ModelBuilder::conv2d(std::string name, uint32_t x, uint32_t out_group, fb::Window win,
                              const LayerOptions& o) {
  const TensorSpec in = spec_.tensors[x];
  auto side = [](uint32_t n, uint32_t k, uint32_t s, uint32_t d, uint32_t p0, uint32_t p1) {
    return (n + p0 + p1 - d * (k - 1) - 1) / s + 1;
  };
  const uint32_t oh = side(in.h, win.kernel_h(), win.stride_h(), win.dilation_h(), win.pad_top(), win.pad_bottom());
  const uint32_t ow = side(in.w, win.kernel_w(), win.stride_w(), win.dilation_w(), win.pad_left(), win.pad_right());
  const uint32_t out = tensor(name, out_group, oh, ow);
  const uint64_t cin = o.depthwise ? 1 : spec_.groups[in.group].capacity;
  const uint64_t weights = uint64_t{spec_.groups[out_group].capacity} * win.kernel_h() * win.kernel_w() * cin;
  return weighted(std::move(name), fb::OpType::Conv2d, x, out, weights, o, win);
}

uint32_t ModelBuilder::linear(std::string name, uint32_t x, uint32_t out_group, const LayerOptions& o) {
  const TensorSpec in = spec_.tensors[x];
  const uint32_t out = tensor(name, out_group, 1, 1);
  const uint64_t weights = uint64_t{spec_.groups[out_group].capacity} * in.h * in.w *
                           spec_.groups[in.group].capacity;
  return weighted(std::move(name), fb::OpType::Linear, x, out, weights, o, std::nullopt);
}

namespace {

// PyTorch's ceil_mode: one more output where a window that starts inside the input (or its
// top and left padding) would hang over the bottom or right; the padding grows to cover it.
uint32_t ceil_pad(uint32_t in, uint32_t k, uint32_t s, uint32_t p0, uint32_t p1) {
  uint32_t out = (in + p0 + p1 - k + s - 1) / s + 1;
  if ((out - 1) * s >= in + p0) --out;
  const uint32_t need = (out - 1) * s + k;
  return need > in + p0 + p1 ? need - in - p0 : p1;
}

}  // namespace

uint32_t ModelBuilder::pool(std::string name, fb::OpType op, uint32_t x, fb::Window win, bool ceil_mode) {
  const TensorSpec in = spec_.tensors[x];
  if (ceil_mode) {
    win = fb::Window(win.kernel_h(), win.kernel_w(), win.stride_h(), win.stride_w(), win.pad_top(), win.pad_left(),
                     ceil_pad(in.h, win.kernel_h(), win.stride_h(), win.pad_top(), win.pad_bottom()),
                     ceil_pad(in.w, win.kernel_w(), win.stride_w(), win.pad_left(), win.pad_right()),
                     win.dilation_h(), win.dilation_w());
  }
  const uint32_t oh = (in.h + win.pad_top() + win.pad_bottom() - win.kernel_h()) / win.stride_h() + 1;
  const uint32_t ow = (in.w + win.pad_left() + win.pad_right() - win.kernel_w()) / win.stride_w() + 1;
  NodeSpec n = plain_node(name, op, {x}, tensor(name, in.group, oh, ow));
  n.window = win;
  return node(std::move(n));
}

uint32_t ModelBuilder::max_pool(std::string name, uint32_t x, fb::Window win, bool ceil_mode) {
  return pool(std::move(name), fb::OpType::MaxPool, x, win, ceil_mode);
}

uint32_t ModelBuilder::avg_pool(std::string name, uint32_t x, fb::Window win) {
  return pool(std::move(name), fb::OpType::AvgPool, x, win, false);
}

uint32_t ModelBuilder::concat(std::string name, const std::vector<uint32_t>& inputs) {
  uint32_t capacity = 0;
  bool sliceable = true;
  for (uint32_t t : inputs) {
    const GroupSpec& g = spec_.groups[spec_.tensors[t].group];
    capacity += g.capacity;
    sliceable = sliceable && g.sliceable;
  }
  const uint32_t out_group = group(name, capacity, sliceable);
  const TensorSpec in = spec_.tensors[inputs.at(0)];
  return node(plain_node(name, fb::OpType::Concat, inputs, tensor(name, out_group, in.h, in.w)));
}

uint32_t ModelBuilder::global_avg_pool(std::string name, uint32_t x) {
  NodeSpec n = plain_node(name, fb::OpType::GlobalAvgPool, {x}, tensor(name, spec_.tensors[x].group, 1, 1));
  return node(std::move(n));
}

uint32_t ModelBuilder::add(std::string name, uint32_t a, uint32_t b, fb::Activation activation) {
  const TensorSpec in = spec_.tensors[a];
  NodeSpec n = plain_node(name, fb::OpType::Add, {a, b}, tensor(name, in.group, in.h, in.w));
  n.activation = activation;
  return node(std::move(n));
}

uint32_t ModelBuilder::activation(std::string name, uint32_t x, fb::Activation activation) {
  const TensorSpec in = spec_.tensors[x];
  NodeSpec n = plain_node(name, fb::OpType::Activation, {x}, tensor(name, in.group, in.h, in.w));
  n.activation = activation;
  return node(std::move(n));
}

uint32_t ModelBuilder::softmax(std::string name, uint32_t x) {
  const TensorSpec in = spec_.tensors[x];
  NodeSpec n = plain_node(name, fb::OpType::Softmax, {x}, tensor(name, in.group, in.h, in.w));
  return node(std::move(n));
}

void ModelBuilder::subnet(std::string name, float width, float lo_fraction, float hi_fraction,
                          uint32_t affine_set) {
  SubnetSpec s;
  s.name = std::move(name);
  s.width = width;
  s.affine_set = affine_set;
  for (const GroupSpec& g : spec_.groups) {
    if (!g.sliceable) {
      s.ranges.emplace_back(0, g.capacity);
      continue;
    }
    const auto at = [&](float f) { return static_cast<uint32_t>(std::lround(f * g.capacity)); };
    const uint32_t lo = std::min(at(lo_fraction), g.capacity - 1);
    s.ranges.emplace_back(lo, std::max(at(hi_fraction), lo + 1));
  }
  // A concatenation has its inputs' channels (schema/model.fbs), in node order.
  for (const NodeSpec& n : spec_.nodes) {
    if (n.op != fb::OpType::Concat) continue;
    uint32_t lo = 0, hi = 0;
    for (uint32_t t : n.inputs) lo += s.ranges[spec_.tensors[t].group].lo(), hi += s.ranges[spec_.tensors[t].group].hi();
    s.ranges[spec_.tensors[n.outputs[0]].group] = fb::GroupRange(lo, hi);
  }
  spec_.subnets.push_back(std::move(s));
}

}  // namespace shoal
