#include "shoal/model.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace shoal {

void Model::FreeDeleter::operator()(uint8_t* p) const { std::free(p); }

Result<Model> Model::from_bytes(const void* data, size_t size) {
  if (size > kMaxModelBytes) return Status(StatusCode::kCorrupt, "model is larger than 1 GiB");
  const size_t alloc = (size + kWeightAlignment - 1) / kWeightAlignment * kWeightAlignment;
  std::unique_ptr<uint8_t, FreeDeleter> owned(
      static_cast<uint8_t*>(std::aligned_alloc(kWeightAlignment, alloc ? alloc : kWeightAlignment)));
  if (!owned) return Status(StatusCode::kIo, "out of memory copying a model");
  if (size) std::memcpy(owned.get(), data, size);
  return adopt(std::move(owned), nullptr, size);
}

Result<Model> Model::borrow(const void* data, size_t size) {
  if (reinterpret_cast<uintptr_t>(data) % kWeightAlignment != 0) {
    return Status(StatusCode::kInvalidArgument,
                  "borrowed model bytes must be 64-byte aligned (declare the array alignas(64))");
  }
  return adopt(nullptr, static_cast<const uint8_t*>(data), size);
}

Result<Model> Model::adopt(std::unique_ptr<uint8_t, FreeDeleter> owned, const uint8_t* data,
                           size_t size) {
  Model m;
  m.owned_ = std::move(owned);
  m.data_ = m.owned_ ? m.owned_.get() : data;
  m.size_ = size;
  if (size > kMaxModelBytes) return Status(StatusCode::kCorrupt, "model is larger than 1 GiB");
  if (size < 8) {
    return Status(StatusCode::kCorrupt,
                  "only " + std::to_string(size) + " bytes; not a shoal model (truncated?)");
  }
  if (!fb::ModelBufferHasIdentifier(m.data_)) {
    return Status(StatusCode::kCorrupt,
                  "not a shoal model: file identifier is not 'SHML' (was it written by 'shoal synth' "
                  "or shoal-train?)");
  }
  flatbuffers::Verifier::Options opts;
  opts.max_depth = 16;
  opts.max_tables = 1u << 20;
  flatbuffers::Verifier verifier(m.data_, size, opts);
  if (!fb::VerifyModelBuffer(verifier)) {
    return Status(StatusCode::kCorrupt,
                  "the FlatBuffers verifier rejected the file (truncated or damaged); "
                  "re-create or re-download it");
  }
  m.fb_ = fb::GetModel(m.data_);
  if (m.fb_->version() < 1 || m.fb_->version() > kModelVersion) {
    return Status(StatusCode::kUnsupported,
                  "model format version " + std::to_string(m.fb_->version()) +
                      ", this build reads versions 1 to " + std::to_string(kModelVersion) +
                      "; use a newer shoal release");
  }
  SHOAL_RETURN_IF_ERROR(check_model(*m.fb_, m.data_));
  return m;
}

size_t Model::packed_size(uint32_t subnet, uint32_t tensor) const {
  if (subnet >= fb_->subnets()->size()) return 0;
  return packed_size(ranges(subnet), tensor);
}

size_t Model::packed_size(const fb::GroupRange* ranges, uint32_t tensor) const {
  const fb::Tensor* t = fb_->tensors()->Get(tensor);
  const fb::GroupRange& r = ranges[t->group()];
  return size_t{t->height()} * t->width() * (r.hi() - r.lo());
}

// A vector of structs lies in the buffer as an array.
const fb::GroupRange* Model::ranges(uint32_t subnet) const {
  return reinterpret_cast<const fb::GroupRange*>(fb_->subnets()->Get(subnet)->ranges()->Data());
}

TensorShape Model::shape(uint32_t tensor) const {
  const fb::Tensor* t = fb_->tensors()->Get(tensor);
  return {t->height(), t->width(), fb_->groups()->Get(t->group())->capacity()};
}

const float* Model::buffer_f32(int32_t index) const {
  if (index < 0) return nullptr;
  return reinterpret_cast<const float*>(fb_->buffers()->Get(index)->data()->data());
}

Result<uint32_t> Model::find_subnet(std::string_view key) const {
  const auto* subnets = fb_->subnets();
  for (uint32_t i = 0; i < subnets->size(); ++i) {
    if (subnets->Get(i)->name()->string_view() == key) return i;
  }
  char* end = nullptr;
  const std::string text(key);
  const double width = std::strtod(text.c_str(), &end);
  if (!text.empty() && end == text.c_str() + text.size()) {
    for (uint32_t i = 0; i < subnets->size(); ++i) {
      const fb::Subnet* s = subnets->Get(i);
      bool from_zero = true;
      for (const fb::GroupRange* r : *s->ranges()) from_zero = from_zero && r->lo() == 0;
      if (from_zero && std::abs(s->width() - width) < 1e-6) return i;
    }
  }
  std::string names;
  for (uint32_t i = 0; i < subnets->size(); ++i) {
    names += (i ? ", " : "") + subnets->Get(i)->name()->str();
  }
  return Status(StatusCode::kInvalidArgument,
                "no subnet '" + text + "' in this model; it has: " + names);
}

Result<uint32_t> Model::find_tensor(std::string_view name) const {
  const auto* tensors = fb_->tensors();
  for (uint32_t i = 0; i < tensors->size(); ++i) {
    if (tensors->Get(i)->name()->string_view() == name) return i;
  }
  return Status(StatusCode::kInvalidArgument,
                "no tensor '" + std::string(name) + "' in this model ('shoal inspect' lists them)");
}

Model::TensorUse Model::tensor_use() const {
  TensorUse use;
  use.producer.assign(fb_->tensors()->size(), -1);
  use.last_reader.assign(fb_->tensors()->size(), -1);
  for (uint32_t k = 0; k < fb_->nodes()->size(); ++k) {
    const fb::Node* node = fb_->nodes()->Get(k);
    use.producer[node->outputs()->Get(0)] = static_cast<int32_t>(k);
    for (uint32_t in : *node->inputs()) use.last_reader[in] = static_cast<int32_t>(k);
  }
  return use;
}

std::vector<uint32_t> Model::cut_tensors() const {
  const auto& nodes = *fb_->nodes();
  const uint32_t n = nodes.size();
  const std::vector<int32_t> last_use = tensor_use().last_reader;
  std::vector<uint32_t> cuts;
  int32_t reach = last_use[fb_->input()];  // how far tensors made up to here are needed
  for (uint32_t k = 0; k + 1 < n; ++k) {
    const uint32_t out = nodes.Get(k)->outputs()->Get(0);
    if (reach <= static_cast<int32_t>(k)) cuts.push_back(out);
    reach = std::max(reach, last_use[out]);
  }
  return cuts;
}

SubnetCost Model::node_cost(uint32_t subnet, uint32_t n) const {
  const fb::Node* node = fb_->nodes()->Get(n);
  if (node->op() != fb::OpType::Conv2d && node->op() != fb::OpType::Linear) return {};
  const auto* ranges = fb_->subnets()->Get(subnet)->ranges();
  auto active = [&](uint32_t tensor) {
    const fb::GroupRange* r = ranges->Get(fb_->tensors()->Get(tensor)->group());
    return uint64_t{r->hi() - r->lo()};
  };
  const uint32_t in = node->inputs()->Get(0), out = node->outputs()->Get(0);
  const TensorShape is = shape(in), os = shape(out);
  const uint64_t taps = node->op() == fb::OpType::Linear
                            ? uint64_t{is.h} * is.w
                            : uint64_t{node->window()->kernel_h()} * node->window()->kernel_w();
  const uint64_t per_out = taps * (node->depthwise() ? 1 : active(in));
  // Parameters as frameworks count them: weights, and per output channel a bias, or a
  // batch-norm's scale and shift.
  return {uint64_t{os.h} * os.w * active(out) * per_out,
          active(out) * (per_out + (node->scale() >= 0 ? 1 : 0) + (node->shift() >= 0 ? 1 : 0))};
}

SubnetCost Model::cost(uint32_t subnet) const {
  SubnetCost cost;
  for (uint32_t n = 0; n < fb_->nodes()->size(); ++n) {
    const SubnetCost c = node_cost(subnet, n);
    cost.macs += c.macs;
    cost.params += c.params;
  }
  return cost;
}

size_t Model::weight_bytes() const {
  size_t bytes = 0;
  for (const fb::Buffer* b : *fb_->buffers()) bytes += b->data()->size();
  return bytes;
}

}  // namespace shoal
