// A loaded shoal model: the verified bytes of one .shoal file (schema/model.fbs).
//
// Loading runs the FlatBuffers verifier and then a semantic check (indices in range,
// shapes consistent, buffer sizes exact, sub-networks well formed), so nothing after
// loading needs to check again. The bytes are 64-byte aligned so weights are used in place.
#ifndef SHOAL_MODEL_H_
#define SHOAL_MODEL_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>
#include <string_view>

#include "shoal/schema/model_generated.h"
#include "shoal/status.h"

namespace shoal {

// The newest model format version this build reads (schema/model.fbs says what each adds);
// it reads every version back to 1. A file is written at the oldest version that holds it.
inline constexpr uint32_t kModelVersion = 2;
inline constexpr size_t kMaxModelBytes = size_t{1} << 30;  // below FlatBuffers' 2 GiB limit
inline constexpr size_t kWeightAlignment = 64;

// Full-width extent of one tensor.
struct TensorShape {
  uint32_t h = 0, w = 0, c = 0;
  uint64_t elements() const { return uint64_t{h} * w * c; }
};

// MACs and parameters that one sub-network actually touches: weights, biases and batch-norm
// scale and shift (one set), as PyTorch counts parameters.
struct SubnetCost {
  uint64_t macs = 0;
  uint64_t params = 0;
};

class Model {
 public:
  // Reads and checks a whole file. Errors name the file and say what is wrong with it.
  // Defined in shoal::runtime (the core reads no files): firmware uses borrow().
  static Result<Model> from_file(const std::string& path);
  // Copies `size` bytes into aligned storage the Model owns, then checks them.
  static Result<Model> from_bytes(const void* data, size_t size);
  // Uses caller-owned bytes in place (a const array linked into firmware, a mapped file).
  // They must be 64-byte aligned and outlive the Model.
  static Result<Model> borrow(const void* data, size_t size);

  Model(Model&&) noexcept = default;
  Model& operator=(Model&&) noexcept = default;

  const fb::Model& fb() const { return *fb_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

  TensorShape shape(uint32_t tensor) const;
  // Floats a tensor holds at a subnet when packed: h * w * active channels (0 for a subnet
  // past the end).
  size_t packed_size(uint32_t subnet, uint32_t tensor) const;
  // The same at any channel ranges, one per group (a part of a channel partition).
  size_t packed_size(const fb::GroupRange* ranges, uint32_t tensor) const;
  // A subnet's ranges, one per group, as an array.
  const fb::GroupRange* ranges(uint32_t subnet) const;
  // The float array of buffer `index`, or nullptr for -1. Valid for the Model's lifetime.
  const float* buffer_f32(int32_t index) const;
  // A subnet by name ("w0.5", "upper50") or width ("0.5": the subnet of that width whose
  // ranges all start at 0). The error lists the subnets that exist.
  Result<uint32_t> find_subnet(std::string_view name_or_width) const;
  Result<uint32_t> find_tensor(std::string_view name) const;
  SubnetCost cost(uint32_t subnet) const;
  // One node's share of cost(subnet) (zero for nodes without weights).
  SubnetCost node_cost(uint32_t subnet, uint32_t node) const;
  // Bytes of every weight buffer (weights, scale, shift) in the file.
  size_t weight_bytes() const;
  // The tensors the graph can be cut at, in graph order: after the node that makes one,
  // no later node needs any other tensor from before it. One device can run the graph up to
  // such a tensor and send it to another, which runs the rest (Engine::segment). Residual
  // blocks have none inside them. The model's input and output are not listed.
  std::vector<uint32_t> cut_tensors() const;
  // Per tensor, the node that makes it and the last node that reads it (-1: none).
  struct TensorUse {
    std::vector<int32_t> producer, last_reader;
  };
  TensorUse tensor_use() const;

 private:
  struct FreeDeleter { void operator()(uint8_t* p) const; };
  Model() = default;
  static Result<Model> adopt(std::unique_ptr<uint8_t, FreeDeleter> owned, const uint8_t* data,
                             size_t size);

  std::unique_ptr<uint8_t, FreeDeleter> owned_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  const fb::Model* fb_ = nullptr;
};

// The semantic check behind every load, on bytes that passed the FlatBuffers verifier.
Status check_model(const fb::Model& model, const uint8_t* base);

}  // namespace shoal

#endif  // SHOAL_MODEL_H_
