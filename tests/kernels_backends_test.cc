// Every optimised kernel this CPU runs against its reference twin, on the shared sweep of
// shapes and channel ranges; and the whole engine on every backend against the reference
// engine, at every subnet of every synth architecture.
#include <gtest/gtest.h>

#include <thread>

#include "sanitizers.h"
#include "kernel_sweep.h"
#include "common/pack_conv2d.h"
#include "ref/ref.h"
#include "shoal/cpu_kernels.h"
#include "shoal/builder.h"
#include "shoal/engine.h"
#include "separate_memory_backend.h"
#include "test_models.h"

namespace shoal::testing {
namespace {

TEST(Backends, ThisBuildHasOptimisedKernels) {
  const auto backends = available_backends();
  ASSERT_GE(backends.size(), 1u);
  EXPECT_STREQ(backends[0]->name(), "ref");
  EXPECT_EQ(&ref_backend(), backends[0]);
#if SHOAL_HAVE_X86_KERNELS
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    EXPECT_NE(find_backend("avx2"), nullptr);
  }
  if (__builtin_cpu_supports("avx512f")) {
    EXPECT_STREQ(best_backend().name(), "avx512");
  }
#endif
#if SHOAL_HAVE_NEON_KERNELS
  EXPECT_STREQ(best_backend().name(), "neon");
#endif
}

TEST(Backends, Conv2dMatchesReferenceTwin) {
  for (const Backend* backend : available_backends()) {
    const CpuKernels* table = backend->cpu_kernels();
    if (!table || !table->weight_block) continue;
    Sweep s;
    int tested = 0;
    for (int trial = 0; trial < 800; ++trial) {
      ConvCase c;
      if (!random_conv(s, trial, &c)) continue;
      std::vector<float> want = c.blank_output(), got = c.blank_output();
      shoal_conv2d_nhwc_f32__ref(&c.p, c.x.data(), c.w.data(), c.scale_ptr(), c.shift_ptr(), want.data());
      std::vector<float> packed(shoal_conv2d_packed_floats(&c.p, c.p.out.stride, table->weight_block));
      shoal_conv2d_pack_oc_blocks(&c.p, c.p.out.stride, table->weight_block, c.w.data(), packed.data());
      table->conv2d(&c.p, c.x.data(), packed.data(), c.scale_ptr(), c.shift_ptr(), got.data());
      expect_plane(got, c.p.out, compact(want, c.p.out), std::string(table->name) + " trial " + std::to_string(trial));
      if (::testing::Test::HasFatalFailure()) return;
      ++tested;
    }
    EXPECT_GT(tested, 400) << table->name;
  }
}

TEST(Backends, PoolingMatchesReferenceTwin) {
  using PoolFn = void (*)(const shoal_pool_params*, const float*, float*);
  for (const Backend* backend : available_backends()) {
    const CpuKernels* table = backend->cpu_kernels();
    if (backend == &ref_backend() || !table) continue;
    const struct {
      const char* name;
      PoolFn want, got;
      bool global;
    } kinds[] = {{"max", shoal_maxpool_nhwc_f32__ref, table->max_pool, false},
                 {"avg", shoal_avgpool_nhwc_f32__ref, table->avg_pool, false},
                 {"global avg", shoal_global_avgpool_nhwc_f32__ref, table->global_avg_pool, true}};
    for (const auto& kind : kinds) {
      Sweep s;
      int tested = 0;
      for (int trial = 0; trial < 300; ++trial) {
        PoolCase c;
        if (!random_pool(s, kind.global, &c)) continue;
        std::vector<float> want = c.blank_output(), got = c.blank_output();
        kind.want(&c.p, c.x.data(), want.data());
        kind.got(&c.p, c.x.data(), got.data());
        expect_plane(got, c.p.out, compact(want, c.p.out),
                     std::string(table->name) + " " + kind.name + " pool, trial " + std::to_string(trial));
        if (::testing::Test::HasFatalFailure()) return;
        ++tested;
      }
      EXPECT_GT(tested, 200) << table->name << " " << kind.name;
    }
  }
}

// Every tensor the engine computes at one subnet (or only the last), packed, in node order.
std::vector<std::vector<float>> tensors_of(Engine& e, uint32_t subnet, const std::vector<float>& in, bool all) {
  const fb::Model& m = e.model().fb();
  std::vector<std::vector<float>> out;
  for (uint32_t n = all ? 0 : m.nodes()->size() - 1; n < m.nodes()->size(); ++n) {
    const std::string name = m.tensors()->Get(m.nodes()->Get(n)->outputs()->Get(0))->name()->str();
    Result<Segment> seg = e.segment(m.tensors()->Get(m.input())->name()->str(), name);
    if (!seg.is_ok()) continue;
    std::vector<float> y(e.packed_size(subnet, seg->to));
    EXPECT_TRUE(e.run(subnet, seg.value(), in.data(), in.size(), y.data(), y.size()).is_ok()) << name;
    out.push_back(std::move(y));
  }
  return out;
}

// Every backend at 1, 2 and 3 threads against the reference engine at one thread.
void expect_backends_match(const std::vector<uint8_t>& bytes, const std::string& what, bool every_tensor) {
  auto model = Model::from_bytes(bytes.data(), bytes.size());
  ASSERT_TRUE(model.is_ok()) << model.status().to_string();
  const uint32_t subnets = model->fb().subnets()->size();
  auto reference = Engine::create(model.value(), ref_backend());
  ASSERT_TRUE(reference.is_ok());
  std::vector<std::vector<float>> inputs;
  std::vector<std::vector<std::vector<float>>> want;  // per subnet
  for (uint32_t s = 0; s < subnets; ++s) {
    std::mt19937 rng(s);
    std::normal_distribution<float> dist;
    inputs.emplace_back(reference.value()->packed_size(s, model->fb().input()));
    for (float& v : inputs.back()) v = dist(rng);
    want.push_back(tensors_of(*reference.value(), s, inputs.back(), every_tensor));
  }
  std::vector<const Backend*> tables = available_backends();
  tables.push_back(&separate_memory_backend());  // a backend with memory of its own
  // Under qemu (the aarch64 stage) only what depends on the target: each kernel set at one
  // thread. Row bands and the copies across memories are the same C++ everywhere and run
  // natively; emulated, they took the architectures' test past four minutes.
  const std::vector<unsigned> thread_counts = emulated() ? std::vector<unsigned>{1} : std::vector<unsigned>{1, 2, 3};
  for (const Backend* table : tables) {
    if (emulated() && !table->cpu_kernels()) continue;
    std::vector<std::vector<std::vector<float>>> one_thread;  // per subnet
    for (unsigned threads : thread_counts) {
      if (table == &ref_backend() && threads == 1) continue;  // that is `want`
      // A backend with memory of its own (a GPU, the test double) ignores the thread count.
      if (!table->host_memory() && threads > 1) continue;
      // Every layer cut into bands, however small (min_band_work 0).
      auto engine = Engine::create(model.value(), *table, threads, 0);
      ASSERT_TRUE(engine.is_ok()) << table->name() << ": " << engine.status().to_string();
      for (uint32_t s = 0; s < subnets; ++s) {
        const auto got = tensors_of(*engine.value(), s, inputs[s], every_tensor);
        ASSERT_EQ(got.size(), want[s].size());
        const std::string where = what + " " + table->name() + " threads " + std::to_string(threads) + " subnet " +
                                  model->fb().subnets()->Get(s)->name()->str();
        for (size_t t = 0; t < got.size(); ++t) {
          float scale = 0;
          for (float v : want[s][t]) scale = std::max(scale, std::fabs(v));
          for (size_t i = 0; i < got[t].size(); ++i) {
            ASSERT_NEAR(got[t][i], want[s][t][i], 1e-4 * (1 + scale)) << where << " tensor " << t << " [" << i << "]";
          }
        }
        // shoal's own kernels cut layers into row bands that compute every output exactly as
        // the whole layer does: any thread count gives one thread's bits.
        if (table->cpu_kernels()) {
          const auto& single = table == &ref_backend() ? want[s] : (threads == 1 ? got : one_thread[s]);
          EXPECT_EQ(got, single) << where << ": differs from 1 thread";
          if (threads == 1) one_thread.push_back(got);
        }
      }
    }
  }
}

TEST(Backends, EveryOpOnEveryBackendMatchesTheReference) { expect_backends_match(op_zoo_bytes(), "op-zoo", true); }

// The reference engine is slow at 224x224, so the architectures compare the logits, and the
// ImageNet ones with concatenations, ReLU6 and 1x7 kernels run at small sides.
TEST(Backends, EveryArchitectureOnEveryBackendMatchesTheReference) {
  for (const char* arch : {"fluid-cnn", "resnet8", "resnet18"}) {
    // resnet8's layers, bigger: a minute under qemu or ASan, where resnet8 takes the same code.
    if ((emulated() || SHOAL_UNDER_SANITIZERS) && std::string(arch) == "resnet18") continue;
    expect_backends_match(synth_bytes(arch), arch, false);
  }
  for (const char* arch : {"squeezenet", "mobilenetv2", "inceptionv3"}) {
    expect_backends_match(synth_bytes(arch, kSmallSide.at(arch)), arch, false);
  }
}

// A backend with memory of its own gets an arena there; the engine copies a tensor across
// only where a layer on one side reads what the other made, and every answer is the
// reference's (NaN in its memory would show anything not copied).
TEST(Backends, ADeviceBackendGetsItsOwnArenaAndTheEngineCopiesTensorsAcross) {
  const auto& bytes = synth_bytes("resnet8");
  auto model = Model::from_bytes(bytes.data(), bytes.size());
  ASSERT_TRUE(model.is_ok());
  auto engine = Engine::create(model.value(), separate_memory_backend());
  ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
  EXPECT_EQ(engine.value()->backend_arena_bytes(), engine.value()->arena_bytes());
  EXPECT_GE(engine.value()->packed_weight_bytes(), model->weight_bytes()) << "every subnet's uploaded weights";
  auto reference = Engine::create(model.value(), ref_backend());
  ASSERT_TRUE(reference.is_ok());
  EXPECT_EQ(reference.value()->backend_arena_bytes(), 0u);
  const uint32_t in = model->fb().input(), out = model->fb().output();
  for (uint32_t s = 0; s < model->fb().subnets()->size(); ++s) {
    std::vector<float> x(model->packed_size(s, in), 0.5f), want(model->packed_size(s, out)), got(want.size());
    for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * static_cast<float>(i));
    ASSERT_TRUE(reference.value()->run(s, x.data(), x.size(), want.data(), want.size()).is_ok());
    ASSERT_TRUE(engine.value()->run(s, x.data(), x.size(), got.data(), got.size()).is_ok());
    EXPECT_EQ(got, want) << "subnet " << s;
    // resnet8: the image goes over once, and every pooling layer (declined) comes back and
    // goes over again; nothing else moves.
    const uint64_t image = model->shape(in).elements() * sizeof(float);
    EXPECT_GT(engine.value()->transfer_bytes(), image) << "subnet " << s;
    EXPECT_LT(engine.value()->transfer_bytes(), 8 * engine.value()->arena_bytes()) << "subnet " << s;
  }
}

// What the engine hands a backend: one Layer per (layer, subnet), with the subnet's channel
// ranges and every tensor's element type in the kernel params. This one declines them all,
// so the engine runs the whole model on the reference backend and answers as it does.
class RecordingBackend final : public Backend {
 public:
  const char* name() const override { return "recording"; }
  bool host_memory() const override { return true; }
  Result<std::unique_ptr<BackendContext>> context(const ContextOptions&) const override {
    return std::unique_ptr<BackendContext>(new BackendContext);
  }
  Result<std::unique_ptr<Operator>> prepare(BackendContext&, const Layer& l, const void*) const override {
    seen.push_back(l);
    return std::unique_ptr<Operator>();
  }
  mutable std::vector<Layer> seen;
};

TEST(Backends, EachLayerReachesTheBackendWithItsSubnetsRangesAndTensorTypes) {
  const auto& bytes = synth_bytes("resnet8");
  auto model = Model::from_bytes(bytes.data(), bytes.size());
  ASSERT_TRUE(model.is_ok());
  const fb::Model& m = model->fb();
  RecordingBackend recording;
  auto engine = Engine::create(model.value(), recording);
  ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
  ASSERT_EQ(recording.seen.size(), size_t{m.nodes()->size()} * m.subnets()->size());
  for (const Layer& l : recording.seen) {
    const fb::Node* node = m.nodes()->Get(l.node);
    const fb::GroupRange* out = model->ranges(l.subnet) + m.tensors()->Get(node->outputs()->Get(0))->group();
    EXPECT_EQ(l.op, node->op());
    EXPECT_STREQ(l.name, node->name()->c_str());
    EXPECT_TRUE(l.all_f32()) << l.name;
    EXPECT_EQ(l.conv.out.type.datatype, SHOAL_DATATYPE_F32);
    EXPECT_EQ(l.conv.out.lo, out->lo()) << l.name << " subnet " << l.subnet;
    EXPECT_EQ(l.conv.out.hi, out->hi()) << l.name << " subnet " << l.subnet;
    EXPECT_NE(l.x, nullptr);
    EXPECT_NE(l.y, nullptr);
  }
  auto reference = Engine::create(model.value(), ref_backend());
  ASSERT_TRUE(reference.is_ok());
  for (uint32_t s = 0; s < m.subnets()->size(); ++s) {
    std::vector<float> x(model->packed_size(s, m.input()), 0.25f), want(model->packed_size(s, m.output()));
    std::vector<float> got(want.size());
    ASSERT_TRUE(reference.value()->run(s, x.data(), x.size(), want.data(), want.size()).is_ok());
    ASSERT_TRUE(engine.value()->run(s, x.data(), x.size(), got.data(), got.size()).is_ok());
    EXPECT_EQ(got, want) << "subnet " << s;
  }
}

// Where a GPU is, the cross-backend tests above run the cuda backend at every subnet; this
// says whether they did.
TEST(Backends, CudaIsAnEngineBackendWhereBuiltAndAGpuIsPresent) {
#if SHOAL_HAVE_CUDA
  const Backend* cuda = find_backend("cuda");
  if (!cuda) {
    GTEST_SKIP() << "built with CUDA, but this machine has no CUDA device: the cuda backend's GPU tests did not "
                    "run (cuda_thread_bodies_test checked its kernels' arithmetic on the CPU)";
  }
  const auto& bytes = synth_bytes("resnet8");
  auto model = Model::from_bytes(bytes.data(), bytes.size());
  auto engine = Engine::create(model.value(), *cuda);
  ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
  EXPECT_EQ(engine.value()->backend_arena_bytes(), engine.value()->arena_bytes());
  // One full-width weight copy on the device, shared by every subnet (plus the affine sets).
  EXPECT_GE(engine.value()->packed_weight_bytes(), model->weight_bytes() / 2);
  EXPECT_LE(engine.value()->packed_weight_bytes(), 2 * model->weight_bytes());
#else
  GTEST_SKIP() << "built without CUDA (SHOAL_WITH_CUDA=OFF)";
#endif
}

TEST(Backends, XnnpackIsAnEngineBackendWhereBuilt) {
#if SHOAL_HAVE_XNNPACK
  const Backend* x = find_backend("xnnpack");
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x->cpu_kernels(), nullptr);
  EXPECT_NE(best_backend().cpu_kernels(), nullptr) << "the default backend is shoal's own";
  const auto& bytes = synth_bytes("resnet8");
  auto model = Model::from_bytes(bytes.data(), bytes.size());
  auto engine = Engine::create(model.value(), *x);
  ASSERT_TRUE(engine.is_ok());
  // Four subnets' operators hold more than one copy of the weights.
  const size_t held = engine.value()->packed_weight_bytes();
  EXPECT_GT(held, model->weight_bytes());
  // Each engine's context counts what its own operators hold, however many are built at once
  // on however many threads, and gives it back when the engine goes.
  std::vector<size_t> counted(4);
  {
    std::vector<std::unique_ptr<Engine>> engines(counted.size());
    std::vector<std::thread> builders;
    for (size_t i = 0; i < counted.size(); ++i) {
      builders.emplace_back([&, i] {
        auto e = Engine::create(model.value(), *x);
        if (e.is_ok()) engines[i] = std::move(e.value());
      });
    }
    for (std::thread& t : builders) t.join();
    for (size_t i = 0; i < counted.size(); ++i) {
      ASSERT_NE(engines[i], nullptr);
      counted[i] = engines[i]->packed_weight_bytes();
    }
  }
  for (size_t c : counted) EXPECT_EQ(c, held);
  EXPECT_EQ(engine.value()->packed_weight_bytes(), held);
#else
  EXPECT_EQ(find_backend("xnnpack"), nullptr);
#endif
}

}  // namespace
}  // namespace shoal::testing
