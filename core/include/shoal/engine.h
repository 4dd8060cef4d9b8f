// The engine: runs any sub-network of a model, or a contiguous segment of its graph.
//
// create() plans one activation arena for the largest sub-network (every tensor at full
// capacity) and asks its backend (backend.h: shoal's CPU kernels by default, XNNPACK, a GPU)
// for one operator per layer and subnet, so run() at any width allocates nothing and makes
// no system call: it is one loop over the subnet's operators. What the backend declines runs
// on the reference CPU backend. A backend with memory of its own gets an arena there too, and
// the engine copies tensors across where a layer on one side reads what the other made.
// With threads > 1 shoal's CPU kernels cut a layer into bands of output rows, each worth at
// least `min_band_work` multiply-adds; results are identical run to run and to one thread's.
// An Engine is not thread-safe: use one per calling thread.
#ifndef SHOAL_ENGINE_H_
#define SHOAL_ENGINE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "shoal/backend.h"
#include "shoal/model.h"

namespace shoal {

// The nodes between two tensors: `from` is given, `to` is produced. The whole network is
// the segment from the model's input to its output.
struct Segment {
  uint32_t from = 0, to = 0;
  uint32_t first_node = 0, end_node = 0;  // nodes [first_node, end_node) run
};

// A tensor handed to run_nodes (`count` floats, packed) and one it fills.
struct TensorIn {
  uint32_t tensor = 0;
  const float* data = nullptr;
  size_t count = 0;
};
struct TensorOut {
  uint32_t tensor = 0;
  float* data = nullptr;
  size_t count = 0;
};

class Engine {
 public:
  // `model` must outlive the Engine; its weights are used in place, or packed once into
  // the engine's persistent memory when the backend wants them packed.
  static Result<std::unique_ptr<Engine>> create(const Model& model,
                                                const Backend& backend = best_backend(),
                                                unsigned threads = 1,
                                                uint64_t min_band_work = kDefaultMinBandWork);
  static constexpr uint64_t kDefaultMinBandWork = 200'000;
  // Bytes of memory an Engine for this model and backend needs: the activation arena plus
  // the packed weights (none when the backend uses the model's weights in place, or the
  // model carries them packed for it). What create_in() wants.
  static Result<size_t> required_bytes(const Model& model, const Backend& backend = best_backend());
  // Creates into the caller's memory (a static array in firmware): at least required_bytes,
  // SHOAL_TENSOR_ALIGNMENT-aligned, outliving the Engine. The Engine takes the arena and
  // packed weights from it; what else create takes from the heap (the per-layer bookkeeping
  // and one operator per layer and subnet, a few hundred bytes each, and the threads of a
  // pool when threads > 1) it takes before it returns, and run() allocates nothing.
  static Result<std::unique_ptr<Engine>> create_in(void* memory, size_t bytes, const Model& model,
                                                   const Backend& backend = best_backend(),
                                                   unsigned threads = 1,
                                                   uint64_t min_band_work = kDefaultMinBandWork);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const Model& model() const { return *model_; }
  // Activations, planned at the largest subnet.
  size_t arena_bytes() const { return arena_bytes_; }
  // The arena and the backend's packed weights in the engine's memory: what required_bytes()
  // said.
  size_t memory_bytes() const { return arena_bytes_ + packed_bytes_; }
  // Weights the backend holds besides the model's own: shoal's one packed copy in the
  // engine's memory, and what the backend's context took for its operators (0 when the
  // backend uses the model's weights in place).
  size_t packed_weight_bytes() const;
  // A backend with memory of its own: its arena (the same size as arena_bytes()), and the
  // bytes the last run copied between it and the host (0 for shoal's kernels and XNNPACK).
  size_t backend_arena_bytes() const { return device_ ? arena_bytes_ : 0; }
  uint64_t transfer_bytes() const { return transfer_bytes_; }
  const Backend& backend() const { return *backend_; }
  unsigned threads() const { return threads_; }

  Segment whole() const;
  // Fails when a node in between needs a tensor from before `from` (a residual edge across
  // the cut, say): such a segment cannot run from `from` alone.
  Result<Segment> segment(std::string_view from, std::string_view to) const;
  // Floats a tensor holds at this subnet when packed: h * w * active channels.
  size_t packed_size(uint32_t subnet, uint32_t tensor) const;

  // `in` holds packed_size(subnet, seg.from) floats (pixels in order, active channels
  // packed); `out` receives packed_size(subnet, seg.to). Counts are checked.
  Status run(uint32_t subnet, const Segment& seg, const float* in, size_t in_count, float* out,
             size_t out_count);
  Status run(uint32_t subnet, const float* in, size_t in_count, float* out, size_t out_count) {
    return run(subnet, whole_, in, in_count, out, out_count);
  }

  // Nodes [first, end) of `subnet` with every channel group narrowed to `ranges` (one per
  // group, each within the subnet's range): one device's share of a channel-parallel
  // partition (shoal/channel_partition.h). `in` holds every tensor those nodes read that is
  // made before `first` (the model's input included), each packed at the subnet's ranges;
  // `out` receives tensors made by those nodes, packed at `ranges`. Backends that narrow()
  // only (shoal's CPU kernels): XNNPACK or a GPU runs a subnet's own ranges, nothing narrower.
  Status run_nodes(uint32_t subnet, uint32_t first, uint32_t end, const fb::GroupRange* ranges, const TensorIn* in,
                   size_t in_n, const TensorOut* out, size_t out_n);
  // What run_nodes checks, without running (data may be null): a peer's request is checked
  // before it is queued.
  Status check_nodes(uint32_t subnet, uint32_t first, uint32_t end, const fb::GroupRange* ranges, const TensorIn* in,
                     size_t in_n, const TensorOut* out, size_t out_n) const;

 private:
  struct Step;
  explicit Engine(const Model& model);
  static Result<std::unique_ptr<Engine>> make(void* memory, size_t bytes, const Model& model,
                                              const Backend& backend, unsigned threads,
                                              uint64_t min_band_work);
  // Plans the arena and the backend's packed weights' places; touches no memory of the caller's.
  Status plan(const Backend& backend);
  // Node n at subnet `sub` as a backend sees it, with tensors in the arena at `base`.
  Layer layer(uint32_t n, uint32_t sub, uint8_t* base) const;
  // Binds the plan to memory (owned or the caller's), packs the weights, makes the operators.
  Status bind(uint8_t* memory);
  // Runs nodes [first, end) on what is in the arena, at `ranges`.
  Status execute(uint32_t subnet, const fb::GroupRange* ranges, uint32_t first, uint32_t end);
  // Between a tensor's packed form (at `ranges`) and its full-width place in the arena.
  void move_tensor(uint32_t tensor, const fb::GroupRange* ranges, const float* from, float* to, bool into_arena) const;
  // A backend with memory of its own: which side holds a valid copy of each tensor
  // (kOnHost, kOnDevice bits). begin_run forgets them all (the run's inputs are then marked
  // on the host); have() copies a tensor to `side` when it is only on the other.
  void begin_run();
  Status have(uint32_t tensor, uint8_t side);
  float* tensor_data(uint32_t tensor) const;

  const Model* model_;
  Segment whole_;
  std::vector<Step> steps_;
  std::vector<size_t> offsets_;       // per tensor, into the arena
  std::vector<int32_t> producer_;     // per tensor, node index or -1
  std::vector<int32_t> last_reader_;  // per tensor, node index or -1
  std::vector<shoal_concat_run> concat_runs_;  // every Concat's runs (Step::first_run)
  std::vector<uint32_t> concat_stride_;        // every Concat's inputs' capacities
  std::vector<const void*> concat_x_;          // and their places in the host arena
  std::vector<const void*> concat_device_x_;   // and in a device backend's arena
  uint8_t* owned_ = nullptr;  // create()'s own allocation, or null in the caller's memory
  float* arena_ = nullptr;
  size_t arena_bytes_ = 0;
  uint8_t* packed_ = nullptr;  // the backend's layer_bytes, after the arena
  size_t packed_bytes_ = 0;
  const Backend* backend_ = nullptr;
  unsigned threads_ = 1;
  uint64_t min_band_work_ = kDefaultMinBandWork;
  // Declared before the operators, which may use them until they are gone.
  std::unique_ptr<BackendContext> context_;   // the backend's state (its threads, its memory)
  std::unique_ptr<BackendContext> fallback_;  // the reference CPU backend's, for what it declines
  struct Prepared {
    std::unique_ptr<Operator> op;
    bool on_device;  // the backend's operator in its own memory (else on the host)
  };
  std::vector<Prepared> ops_;                 // [node * subnets + subnet]
  uint8_t* device_ = nullptr;                 // a device backend's arena (its context owns it)
  std::vector<uint8_t> where_;                // per tensor, with device_: kOnHost | kOnDevice
  uint64_t transfer_bytes_ = 0;
};

}  // namespace shoal

#endif  // SHOAL_ENGINE_H_
