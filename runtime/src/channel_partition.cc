#include "shoal/channel_partition.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace shoal {
namespace {

// A layer whose every output channel reads every input channel.
bool mixes_channels(const fb::Node* node) {
  return (node->op() == fb::OpType::Conv2d && !node->depthwise()) || node->op() == fb::OpType::Linear;
}

bool contains(const std::vector<uint32_t>& v, uint32_t x) { return std::find(v.begin(), v.end(), x) != v.end(); }

}  // namespace

Result<ChannelPartition> plan_channel_partition(const Model& model, uint32_t subnet, const std::vector<double>& shares) {
  const fb::Model& m = model.fb();
  if (subnet >= m.subnets()->size()) return Status(StatusCode::kInvalidArgument, "no such subnet");
  if (shares.size() < 2 || shares.size() > 64) {
    return Status(StatusCode::kInvalidArgument, "a channel partition needs 2 to 64 parts, not " + std::to_string(shares.size()));
  }
  double total = 0;
  for (double s : shares) {
    if (!(s > 0 && std::isfinite(s))) return Status(StatusCode::kInvalidArgument, "every part's share must be positive");
    total += s;
  }
  const Model::TensorUse use = model.tensor_use();
  const std::vector<int32_t>& producer = use.producer;
  const std::vector<int32_t>& last_reader = use.last_reader;
  const uint32_t end = static_cast<uint32_t>(producer[m.output()] + 1);
  const std::string subnet_name = m.subnets()->Get(subnet)->name()->str();
  const fb::GroupRange* own = model.ranges(subnet);

  ChannelPartition plan;
  plan.subnet = subnet;
  plan.parts = static_cast<uint32_t>(shares.size());
  // Stage boundaries: before a layer that mixes channels and reads a tensor that is split
  // (made in this stage) or a group this stage splits; the whole tail from the first layer
  // whose output cannot be split.
  std::vector<uint32_t> starts{0};
  std::vector<uint32_t> split_groups, mixed_groups;  // this stage's: groups written, groups read by mixing layers
  uint32_t tail = end;
  for (uint32_t n = 0; n < end; ++n) {
    const fb::Node* node = m.nodes()->Get(n);
    const uint32_t out_group = m.tensors()->Get(node->outputs()->Get(0))->group();
    if (node->op() == fb::OpType::Concat) {
      return Status(StatusCode::kUnsupported, "layer '" + node->name()->str() +
                                                  "' concatenates channels, which channel partitions do not split yet; "
                                                  "cut this model into layer segments instead (shoal split)");
    }
    if (!m.groups()->Get(out_group)->sliceable() || node->op() == fb::OpType::Softmax) {
      tail = n;
      break;
    }
    bool boundary = contains(mixed_groups, out_group);  // an earlier layer here read it whole
    if (mixes_channels(node)) {
      for (uint32_t t : *node->inputs()) {
        const uint32_t g = m.tensors()->Get(t)->group();
        if (g == out_group) {
          return Status(StatusCode::kUnsupported, "layer '" + node->name()->str() + "' reads and writes channel group '" +
                                                      m.groups()->Get(g)->name()->str() +
                                                      "': its channels cannot be split between devices");
        }
        boundary = boundary || contains(split_groups, g);
      }
    }
    if (boundary && n > starts.back()) {
      starts.push_back(n);
      split_groups.clear();
      mixed_groups.clear();
    }
    if (mixes_channels(node)) {
      for (uint32_t t : *node->inputs()) mixed_groups.push_back(m.tensors()->Get(t)->group());
    }
    if (!contains(split_groups, out_group)) split_groups.push_back(out_group);
  }
  if (tail == 0) {
    return Status(StatusCode::kUnsupported, "the first layer's output cannot be split: nothing to partition");
  }

  auto add_stage = [&](uint32_t first, uint32_t last, bool split) {
    PartitionStage st;
    st.first_node = first, st.end_node = last, st.split = split;
    for (uint32_t n = first; n < last; ++n) {
      const fb::Node* node = m.nodes()->Get(n);
      for (uint32_t t : *node->inputs()) {
        if (producer[t] < static_cast<int32_t>(first) && !contains(st.inputs, t)) st.inputs.push_back(t);
      }
      const uint32_t t = node->outputs()->Get(0);
      if (last_reader[t] >= static_cast<int32_t>(last) || t == m.output()) st.outputs.push_back(t);
    }
    std::vector<fb::GroupRange> whole(own, own + m.groups()->size());
    const fb::Node* last_node = m.nodes()->Get(last - 1);
    if (!split && last_node->op() == fb::OpType::Softmax &&
        producer[last_node->inputs()->Get(0)] >= static_cast<int32_t>(first)) {
      st.outputs.push_back(last_node->inputs()->Get(0));  // the logits
    }
    if (!split) {
      st.ranges.push_back(whole);
      return st;
    }
    std::vector<uint32_t> written;
    for (uint32_t n = first; n < last; ++n) {
      const uint32_t g = m.tensors()->Get(m.nodes()->Get(n)->outputs()->Get(0))->group();
      if (!contains(written, g)) written.push_back(g);
    }
    st.ranges.assign(plan.parts, whole);
    for (uint32_t g : written) {
      const uint32_t lo = own[g].lo(), count = own[g].hi() - own[g].lo();
      double before = 0;
      uint32_t from = lo;
      for (uint32_t p = 0; p < plan.parts; ++p) {
        before += shares[p];
        const uint32_t to = p + 1 == plan.parts ? lo + count : lo + static_cast<uint32_t>(std::lround(count * before / total));
        st.ranges[p][g] = fb::GroupRange(from, to);
        from = to;
      }
    }
    return st;
  };
  for (size_t i = 0; i < starts.size(); ++i) {
    const uint32_t last = i + 1 < starts.size() ? starts[i + 1] : tail;
    if (starts[i] >= last) break;
    plan.stages.push_back(add_stage(starts[i], last, true));
    for (uint32_t p = 0; p < plan.parts; ++p) {
      for (uint32_t g = 0; g < m.groups()->size(); ++g) {
        const fb::GroupRange& r = plan.stages.back().ranges[p][g];
        if (r.lo() >= r.hi()) {
          return Status(StatusCode::kInvalidArgument,
                        "group '" + m.groups()->Get(g)->name()->str() + "' has " +
                            std::to_string(own[g].hi() - own[g].lo()) + " active channels at subnet '" +
                            subnet_name + "': too few for these shares; use fewer parts or a wider subnet");
        }
      }
    }
  }
  if (tail < end) plan.stages.push_back(add_stage(tail, end, false));
  return plan;
}

size_t ChannelPartition::floats_to(const Model& model, uint32_t part) const {
  size_t floats = 0;
  for (const PartitionStage& st : stages) {
    if (!st.split) continue;
    for (uint32_t t : st.inputs) floats += model.packed_size(subnet, t);
  }
  return floats;
}

size_t ChannelPartition::floats_from(const Model& model, uint32_t part) const {
  size_t floats = 0;
  for (const PartitionStage& st : stages) {
    if (!st.split) continue;
    for (uint32_t t : st.outputs) floats += model.packed_size(st.ranges[part].data(), t);
  }
  return floats;
}

void place_slice(const Model& model, uint32_t subnet, const std::vector<fb::GroupRange>& part_ranges, uint32_t tensor,
                 const float* slice, float* whole) {
  const fb::Tensor* t = model.fb().tensors()->Get(tensor);
  const fb::GroupRange& own = model.ranges(subnet)[t->group()];
  const fb::GroupRange& part = part_ranges[t->group()];
  const size_t stride = own.hi() - own.lo(), width = part.hi() - part.lo(), offset = part.lo() - own.lo();
  const size_t pixels = size_t{t->height()} * t->width();
  whole += offset;
  for (size_t p = 0; p < pixels; ++p, slice += width, whole += stride) std::copy(slice, slice + width, whole);
}

PartitionExecutor::PartitionExecutor(const Model& model, ChannelPartition plan)
    : model_(model), plan_(std::move(plan)), whole_(model.fb().tensors()->size()) {
  const fb::Model& m = model_.fb();
  size_t largest_stage = 0, most_in = 0, most_out = 0;
  whole_[m.input()].resize(model_.packed_size(plan_.subnet, m.input()));
  for (const PartitionStage& st : plan_.stages) {
    for (uint32_t t : st.inputs) whole_[t].resize(model_.packed_size(plan_.subnet, t));
    size_t stage_floats = 0;
    for (uint32_t t : st.outputs) {
      whole_[t].resize(model_.packed_size(plan_.subnet, t));
      stage_floats += whole_[t].size();
    }
    largest_stage = std::max(largest_stage, stage_floats);
    most_in = std::max(most_in, st.inputs.size());
    most_out = std::max(most_out, st.outputs.size());
  }
  slice_.resize(largest_stage);
  in_.reserve(most_in);
  out_.reserve(most_out);
  const PartitionStage& last = plan_.stages.back();
  if (!last.split && last.outputs.size() > 1) logits_ = last.outputs.back();
}

const std::vector<float>& PartitionExecutor::logits() const {
  static const std::vector<float> none;
  return logits_ >= 0 ? whole_[static_cast<size_t>(logits_)] : none;
}

Status PartitionExecutor::reshare(ChannelPartition plan) {
  bool same = plan.subnet == plan_.subnet && plan.parts == plan_.parts && plan.stages.size() == plan_.stages.size();
  for (size_t i = 0; same && i < plan.stages.size(); ++i) {
    const PartitionStage &a = plan.stages[i], &b = plan_.stages[i];
    same = a.first_node == b.first_node && a.end_node == b.end_node && a.split == b.split && a.inputs == b.inputs &&
           a.outputs == b.outputs && a.ranges.size() == b.ranges.size();
  }
  if (!same) return Status(StatusCode::kInvalidArgument, "a new share must keep the partition's subnet, parts and stages");
  plan_ = std::move(plan);
  return Status::ok();
}

Status PartitionExecutor::begin(const float* input, size_t count) {
  std::vector<float>& x = whole_[model_.fb().input()];
  if (count != x.size()) {
    return Status(StatusCode::kInvalidArgument,
                  "the input holds " + std::to_string(count) + " floats; the model takes " + std::to_string(x.size()));
  }
  std::copy(input, input + count, x.begin());
  return Status::ok();
}

size_t PartitionExecutor::slice_size(size_t stage, uint32_t part, size_t i) const {
  const PartitionStage& st = plan_.stages[stage];
  return model_.packed_size(st.ranges[part].data(), st.outputs[i]);
}

Status PartitionExecutor::place(size_t stage, uint32_t part, size_t i, const float* slice, size_t count) {
  if (stage >= plan_.stages.size() || part >= plan_.stages[stage].ranges.size() ||
      i >= plan_.stages[stage].outputs.size()) {
    return Status(StatusCode::kInvalidArgument, "no such stage, part or output");
  }
  if (count != slice_size(stage, part, i)) {
    return Status(StatusCode::kInvalidArgument, "a slice of " + std::to_string(count) + " floats; this part's is " +
                                                    std::to_string(slice_size(stage, part, i)));
  }
  const PartitionStage& st = plan_.stages[stage];
  place_slice(model_, plan_.subnet, st.ranges[part], st.outputs[i], slice, whole_[st.outputs[i]].data());
  return Status::ok();
}

Status PartitionExecutor::run_here(Engine& engine, size_t stage, uint32_t part) {
  if (stage >= plan_.stages.size() || part >= plan_.stages[stage].ranges.size()) {
    return Status(StatusCode::kInvalidArgument, "no such stage or part");
  }
  const PartitionStage& st = plan_.stages[stage];
  in_.clear();
  for (uint32_t t : st.inputs) in_.push_back({t, whole_[t].data(), whole_[t].size()});
  out_.clear();
  float* next = slice_.data();  // the stage's slices side by side (sized for the largest stage)
  for (size_t i = 0; i < st.outputs.size(); ++i) {
    const size_t n = slice_size(stage, part, i);
    out_.push_back({st.outputs[i], next, n});
    next += n;
  }
  SHOAL_RETURN_IF_ERROR(engine.run_nodes(plan_.subnet, st.first_node, st.end_node, st.ranges[part].data(), in_.data(),
                                         in_.size(), out_.data(), out_.size()));
  for (size_t i = 0; i < out_.size(); ++i) {
    place_slice(model_, plan_.subnet, st.ranges[part], out_[i].tensor, out_[i].data, whole_[out_[i].tensor].data());
  }
  return Status::ok();
}

}  // namespace shoal
