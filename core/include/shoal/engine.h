// The engine: runs any sub-network of a model, or a contiguous segment of its graph.
//
// create() resolves kernels and plans one activation arena for the largest sub-network
// (every tensor at full capacity), so run() at any width allocates nothing and makes no
// system call; switching width only changes the channel ranges handed to the kernels.
// With threads > 1 a layer is cut into bands of output rows, one per thread, where each band
// is worth at least `min_band_work` multiply-adds (handing work to a thread costs about a
// microsecond); the bands depend only on the layer, so results are identical run to run
// (and equal to one thread's: a band computes each output exactly as a whole layer would).
// A backend (XNNPACK, a GPU; backend.h) instead gets one operator per layer and subnet at
// create(); one with memory of its own gets an arena there too, and the engine copies tensors
// across where a layer on one side reads what the other made.
// An Engine is not thread-safe: use one per calling thread.
#ifndef SHOAL_ENGINE_H_
#define SHOAL_ENGINE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "shoal/kernel_table.h"
#include "shoal/model.h"
#include "shoal/backend.h"
#if SHOAL_HAVE_THREADS
#include "shoal/thread_pool.h"
#endif

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
  // the engine's persistent memory when the kernels want them packed.
  static Result<std::unique_ptr<Engine>> create(const Model& model,
                                                const KernelTable& kernels = best_kernels(),
                                                unsigned threads = 1,
                                                uint64_t min_band_work = kDefaultMinBandWork);
  static constexpr uint64_t kDefaultMinBandWork = 200'000;
  // Bytes of memory an Engine for this model and backend needs: the activation arena plus
  // the packed weights (none when the kernels use the model's weights in place, or the
  // model carries them packed for these kernels). What create_in() wants.
  static Result<size_t> required_bytes(const Model& model, const KernelTable& kernels = best_kernels());
  // Creates into the caller's memory (a static array in firmware): at least required_bytes,
  // 64-byte aligned, outliving the Engine. The Engine takes the arena and packed weights
  // from it; what else create takes from the heap (the per-layer bookkeeping, a few hundred
  // bytes a layer, and the threads of a pool when threads > 1) it takes before it returns,
  // and run() allocates nothing.
  static Result<std::unique_ptr<Engine>> create_in(void* memory, size_t bytes, const Model& model,
                                                   const KernelTable& kernels = best_kernels(),
                                                   unsigned threads = 1,
                                                   uint64_t min_band_work = kDefaultMinBandWork);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const Model& model() const { return *model_; }
  // Activations, planned at the largest subnet.
  size_t arena_bytes() const { return arena_bytes_; }
  // arena_bytes() + packed_weight_bytes() for shoal's kernels: what required_bytes() said.
  size_t memory_bytes() const { return arena_bytes_ + packed_bytes_; }
  // Weights the backend holds besides the model's own: shoal's one packed copy, or what a
  // backend took for its operators (0 when the kernels use the model's weights in place).
  size_t packed_weight_bytes() const { return packed_bytes_; }
  // A backend with memory of its own: its arena (the same size as arena_bytes()), and the
  // bytes the last run copied between it and the host (0 for shoal's kernels and XNNPACK).
  size_t backend_arena_bytes() const { return device_ ? arena_bytes_ : 0; }
  uint64_t transfer_bytes() const { return transfer_bytes_; }
  const KernelTable& kernels() const { return *kernels_; }
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
  // `out` receives tensors made by those nodes, packed at `ranges`. Shoal's kernels only: an
  // operator backend (XNNPACK) runs a subnet's own ranges and nothing narrower.
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
                                              const KernelTable& kernels, unsigned threads,
                                              uint64_t min_band_work);
  // Plans the arena and the packed weights' places; touches no memory of the caller's.
  Status plan(const KernelTable& kernels);
  // Binds the plan to memory (owned or the caller's), packs the weights, makes the operators.
  Status bind(uint8_t* memory);
  size_t packed_floats_of(const Step& s) const;
  Status create_operators();
  // Runs nodes [first, end) on what is in the arena, at `ranges`, with the subnet's affine set.
  Status execute(uint32_t subnet, const fb::GroupRange* ranges, uint32_t first, uint32_t end);
  // Between a tensor's packed form (at `ranges`) and its full-width place in the arena.
  void move_tensor(uint32_t tensor, const fb::GroupRange* ranges, const float* from, float* to, bool into_arena) const;
  // A backend with memory of its own: which side holds a valid copy of each tensor
  // (kOnHost, kOnDevice bits). begin_run forgets them all (the run's inputs are then marked
  // on the host); have() copies a tensor to `side` when it is only on the other.
  void begin_run();
  Status have(uint32_t tensor, uint8_t side);
  float* device_data(uint32_t tensor) const;
  template <typename Band>
  void for_row_bands(uint32_t rows, uint64_t work, Band& band);
  float* tensor_data(uint32_t tensor) const;

  const Model* model_;
  Segment whole_;
  std::vector<Step> steps_;
  std::vector<size_t> offsets_;       // per tensor, into the arena
  std::vector<int32_t> producer_;     // per tensor, node index or -1
  std::vector<int32_t> last_reader_;  // per tensor, node index or -1
  std::vector<shoal_concat_run> concat_runs_;  // every Concat's runs (Step::first_run)
  std::vector<uint32_t> concat_stride_;        // every Concat's inputs' capacities
  std::vector<const float*> concat_x_;         // and their places in the arena
  uint8_t* owned_ = nullptr;  // create()'s own allocation, or null in the caller's memory
  float* arena_ = nullptr;
  size_t arena_bytes_ = 0;
  float* packed_ = nullptr;
  size_t packed_bytes_ = 0;
  const KernelTable* kernels_ = nullptr;
  unsigned threads_ = 1;
  uint64_t min_band_work_ = kDefaultMinBandWork;
#if SHOAL_HAVE_THREADS
  std::unique_ptr<ThreadPool> pool_;              // shoal's kernels, threads > 1
#endif
  std::unique_ptr<BackendContext> backend_;       // a backend's own state
  std::vector<std::unique_ptr<Operator>> ops_;    // [node * subnets + subnet]; null: kernel
  uint8_t* device_ = nullptr;                     // a device backend's arena (its context owns it)
  std::vector<uint8_t> where_;                    // per tensor, with device_: kOnHost | kOnDevice
  uint64_t transfer_bytes_ = 0;
};

}  // namespace shoal

#endif  // SHOAL_ENGINE_H_
