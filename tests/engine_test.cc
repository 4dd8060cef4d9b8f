// The engine at every subnet of every synth architecture against the independent dense
// evaluation, plus segments, width switching, errors and the no-allocation promise.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <new>
#include <random>

#include "naive_eval.h"
#include "sanitizers.h"
#include "separate_memory_backend.h"
#include "shoal/builder.h"
#include "shoal/engine.h"
#include "test_models.h"

// Counts every heap allocation in this test binary. (GCC cannot tell these replacements
// pair malloc with free on purpose.)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
static std::atomic<long> g_allocations{0};
static void* counted_alloc(std::size_t n) {
  ++g_allocations;
  return std::malloc(n ? n : 1);
}
void* operator new(std::size_t n) {
  if (void* p = counted_alloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted_alloc(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted_alloc(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace shoal::testing {
namespace {

struct Loaded {
  Model model;
  std::unique_ptr<Engine> engine;
};

Loaded load(const std::vector<uint8_t>& bytes, const Backend& kernels = best_backend(), unsigned threads = 1) {
  auto model = Model::from_bytes(bytes.data(), bytes.size());
  EXPECT_TRUE(model.is_ok()) << model.status().to_string();
  Loaded l{std::move(model.value()), nullptr};
  auto engine = Engine::create(l.model, kernels, threads);
  EXPECT_TRUE(engine.is_ok()) << engine.status().to_string();
  l.engine = std::move(engine.value());
  return l;
}

Loaded load(const std::string& arch, const Backend& kernels = best_backend(), unsigned threads = 1) {
  return load(synth_bytes(arch), kernels, threads);
}

std::vector<float> random_input(const Engine& e, uint32_t subnet, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> in(e.packed_size(subnet, e.whole().from));
  for (float& v : in) v = dist(rng);
  return in;
}

std::vector<float> run(Engine& e, uint32_t subnet, const Segment& seg, const std::vector<float>& in) {
  std::vector<float> out(e.packed_size(subnet, seg.to));
  const Status st = e.run(subnet, seg, in.data(), in.size(), out.data(), out.size());
  EXPECT_TRUE(st.is_ok()) << st.to_string();
  return out;
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want, double tol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double scale = 0;
  for (float v : want) scale = std::max(scale, std::fabs(double{v}));
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], tol * (1.0 + scale)) << what << " element " << i;
  }
}

// Logits (the softmax's input) and probabilities at every subnet.
void check_against_dense(const std::vector<uint8_t>& bytes, const std::string& what, int inputs) {
  Loaded l = load(bytes);
  Engine& e = *l.engine;
  const fb::Model& m = l.model.fb();
  const uint32_t logits = m.nodes()->Get(m.nodes()->size() - 1)->inputs()->Get(0);
  auto logits_seg = e.segment(m.tensors()->Get(m.input())->name()->str(), m.tensors()->Get(logits)->name()->str());
  ASSERT_TRUE(logits_seg.is_ok()) << logits_seg.status().to_string();
  for (uint32_t s = 0; s < m.subnets()->size(); ++s) {
    const std::string name = what + " " + m.subnets()->Get(s)->name()->str();
    for (int i = 0; i < inputs; ++i) {
      const std::vector<float> in = random_input(e, s, 100 + i);
      auto dense = naive_eval(l.model, s, in);
      expect_close(run(e, s, logits_seg.value(), in), to_packed(dense.at(logits)), 1e-4, name + " logits");
      expect_close(run(e, s, e.whole(), in), to_packed(dense.at(m.output())), 1e-5, name + " probabilities");
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

void check_against_dense(const std::string& arch, int inputs) { check_against_dense(synth_bytes(arch), arch, inputs); }

TEST(Engine, FluidCnnEverySubnetMatchesDenseEvaluation) { check_against_dense("fluid-cnn", 3); }
TEST(Engine, Resnet8EverySubnetMatchesDenseEvaluation) { check_against_dense("resnet8", 2); }
// (Not under the sanitizers: resnet8's layers at 224x224, 50 s under ASan; there resnet8 and
// the reference architectures take the same code, and the release build checks this one.)
TEST(Engine, Resnet18EverySubnetMatchesDenseEvaluation) {
  if (SHOAL_UNDER_SANITIZERS) GTEST_SKIP() << "resnet8's layers, bigger: checked in the release build";
  check_against_dense("resnet18", 1);
}
// Every op, concatenation and ceil-mode pooling included, at subnets that start past 0.
TEST(Engine, OpZooEverySubnetMatchesDenseEvaluation) { check_against_dense(op_zoo_bytes(), "op-zoo", 3); }
// Paper 002's networks at small input sides (the same layers, fewer pixels).
TEST(Engine, ReferenceArchitecturesEverySubnetMatchDenseEvaluation) {
  for (const char* arch : {"squeezenet", "mobilenetv2", "inceptionv3", "alexnet", "vgg16"}) {
    check_against_dense(synth_bytes(arch, kSmallSide.at(arch)), arch, 1);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST(Engine, RunAllocatesNothingAtAnyWidth) {
  std::vector<const Backend*> tables = available_backends();
  tables.push_back(&separate_memory_backend());  // and nothing for its copies either
  for (const Backend* kernels : tables)
  for (unsigned threads : {1u, 2u})
  for (const char* arch : {"fluid-cnn", "resnet8"}) {
    Loaded l = load(arch, *kernels, threads);
    const uint32_t subnets = l.model.fb().subnets()->size();
    std::vector<std::vector<float>> ins, outs;
    for (uint32_t s = 0; s < subnets; ++s) {
      ins.push_back(random_input(*l.engine, s, s));
      outs.emplace_back(l.engine->packed_size(s, l.model.fb().output()));
    }
    const long before = g_allocations.load();
    for (int round = 0; round < 3; ++round) {
      for (uint32_t s = 0; s < subnets; ++s) {
        const Status st = l.engine->run(s, ins[s].data(), ins[s].size(), outs[s].data(), outs[s].size());
        ASSERT_TRUE(st.is_ok());
      }
    }
    EXPECT_EQ(g_allocations.load() - before, 0)
        << arch << " on " << kernels->name() << " with " << threads << " threads: run() allocated";
  }
}

TEST(Engine, SwitchingWidthLeavesNoState) {
  Loaded a = load("resnet8");
  const uint32_t n = a.model.fb().subnets()->size();
  std::vector<std::vector<float>> first;
  for (uint32_t s = 0; s < n; ++s) first.push_back(run(*a.engine, s, a.engine->whole(), random_input(*a.engine, s, 5)));
  for (uint32_t s = n; s-- > 0;) {
    EXPECT_EQ(run(*a.engine, s, a.engine->whole(), random_input(*a.engine, s, 5)), first[s]) << "subnet " << s;
  }
  Loaded fluid = load("fluid-cnn");
  const uint32_t upper = fluid.model.find_subnet("upper50").value(), full = fluid.model.find_subnet("w1.0").value();
  const auto in = random_input(*fluid.engine, full, 9);
  const auto want = run(*fluid.engine, upper, fluid.engine->whole(), in);
  run(*fluid.engine, full, fluid.engine->whole(), in);
  EXPECT_EQ(run(*fluid.engine, upper, fluid.engine->whole(), in), want);
}

TEST(Engine, SegmentsComposeToTheWholeNetwork) {
  for (auto [arch, cut] : {std::pair<const char*, const char*>{"fluid-cnn", "pool2"},
                           {"resnet8", "stage1.block1.add"}, {"resnet8", "pool"}}) {
    Loaded l = load(arch);
    Engine& e = *l.engine;
    auto head = e.segment("image", cut), tail = e.segment(cut, "prob");
    ASSERT_TRUE(head.is_ok() && tail.is_ok()) << head.status().to_string() << tail.status().to_string();
    for (uint32_t s = 0; s < l.model.fb().subnets()->size(); ++s) {
      const auto in = random_input(e, s, 3);
      const auto mid = run(e, s, head.value(), in);
      EXPECT_EQ(mid.size(), e.packed_size(s, l.model.find_tensor(cut).value()));
      EXPECT_EQ(run(e, s, tail.value(), mid), run(e, s, e.whole(), in)) << arch << " cut at " << cut;
    }
  }
}

// Model::cut_tensors lists exactly the tensors Engine::segment can cut at, and each composes.
TEST(Engine, EveryListedCutComposesAndNoOtherCutRuns) {
  for (const char* arch : {"fluid-cnn", "resnet8", "resnet8-s1"}) {
    Loaded l = load(arch);
    Engine& e = *l.engine;
    const fb::Model& m = l.model.fb();
    const std::vector<uint32_t> cuts = l.model.cut_tensors();
    ASSERT_FALSE(cuts.empty()) << arch;
    const std::string image = m.tensors()->Get(m.input())->name()->str(), out = m.tensors()->Get(m.output())->name()->str();
    for (uint32_t k = 0; k + 1 < m.nodes()->size(); ++k) {
      const uint32_t t = m.nodes()->Get(k)->outputs()->Get(0);
      const std::string cut = m.tensors()->Get(t)->name()->str();
      const bool listed = std::find(cuts.begin(), cuts.end(), t) != cuts.end();
      auto head = e.segment(image, cut), tail = e.segment(cut, out);
      ASSERT_TRUE(head.is_ok()) << arch << " " << cut;
      EXPECT_EQ(tail.is_ok(), listed) << arch << " cut at " << cut << (listed ? " is listed but cannot run" : " runs but is not listed");
      if (!listed || !tail.is_ok()) continue;
      for (uint32_t s = 0; s < m.subnets()->size(); ++s) {
        const auto in = random_input(e, s, 4);
        EXPECT_EQ(run(e, s, tail.value(), run(e, s, head.value(), in)), run(e, s, e.whole(), in)) << arch << " at " << cut;
      }
    }
  }
}

TEST(Engine, RejectsCutsAcrossResidualEdgesAndBadArguments) {
  Loaded l = load("resnet8");
  Engine& e = *l.engine;
  auto across = e.segment("stage1.block1.conv1", "prob");
  ASSERT_FALSE(across.is_ok());
  EXPECT_NE(across.status().message().find("before the cut"), std::string::npos) << across.status().message();
  EXPECT_FALSE(e.segment("prob", "image").is_ok());
  EXPECT_FALSE(e.segment("no-such-tensor", "prob").is_ok());

  std::vector<float> in = random_input(e, 0, 1), out(e.packed_size(0, e.whole().to));
  EXPECT_EQ(e.run(0, in.data(), in.size() - 1, out.data(), out.size()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(e.run(0, in.data(), in.size(), out.data(), out.size() + 1).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(e.run(99, in.data(), in.size(), out.data(), out.size()).code(), StatusCode::kInvalidArgument);
  Segment forged = e.whole();
  forged.first_node = 3;
  EXPECT_EQ(e.run(0, forged, in.data(), in.size(), out.data(), out.size()).code(), StatusCode::kInvalidArgument);
}

// In the caller's memory: exactly required_bytes is enough, one byte less or unaligned memory
// is a clear error, nothing is allocated after create_in, and every subnet gives what an
// engine with memory of its own gives, on every backend.
TEST(Engine, RunsInTheCallersMemoryOfTheRequiredSize) {
  for (const Backend* kernels : available_backends())
  for (const char* arch : {"fluid-cnn", "resnet8"}) {
    if (!kernels->cpu_kernels()) continue;  // XNNPACK or a GPU holds memory of its own too
    Loaded own = load(arch, *kernels);
    Result<size_t> need = Engine::required_bytes(own.model, *kernels);
    ASSERT_TRUE(need.is_ok()) << need.status().to_string();
    EXPECT_EQ(need.value(), own.engine->memory_bytes());
    EXPECT_EQ(need.value(), own.engine->arena_bytes() + own.engine->packed_weight_bytes());
    void* memory = std::aligned_alloc(64, need.value() + 64);
    auto small = Engine::create_in(memory, need.value() - 1, own.model, *kernels);
    ASSERT_FALSE(small.is_ok());
    EXPECT_NE(small.status().message().find("required_bytes"), std::string::npos) << small.status().message();
    auto unaligned = Engine::create_in(static_cast<char*>(memory) + 4, need.value(), own.model, *kernels);
    ASSERT_FALSE(unaligned.is_ok());
    EXPECT_NE(unaligned.status().message().find("aligned"), std::string::npos);
    auto engine = Engine::create_in(memory, need.value(), own.model, *kernels);
    ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
    for (uint32_t s = 0; s < own.model.fb().subnets()->size(); ++s) {
      const auto in = random_input(*own.engine, s, 40 + s);
      std::vector<float> want(own.engine->packed_size(s, own.model.fb().output()));
      std::vector<float> got(want.size());
      ASSERT_TRUE(own.engine->run(s, in.data(), in.size(), want.data(), want.size()).is_ok());
      const long runs = g_allocations.load();
      ASSERT_TRUE(engine.value()->run(s, in.data(), in.size(), got.data(), got.size()).is_ok());
      EXPECT_EQ(g_allocations.load(), runs) << "run() in the caller's memory allocated";
      EXPECT_EQ(got, want) << arch << " on " << kernels->name() << " subnet " << s;
    }
    engine.value().reset();
    std::free(memory);
  }
}

// A model packed for a backend (shoal pack) runs from its own packed weights on that backend,
// with no packed copy in the engine's memory, and gives exactly what the unpacked model
// gives; on every other backend it runs as before.
TEST(Engine, WeightsPackedAtExportAreUsedInPlace) {
  for (const char* arch : {"fluid-cnn", "resnet8"}) {
    const auto& bytes = synth_bytes(arch);
    const Model plain = std::move(Model::from_bytes(bytes.data(), bytes.size()).value());
    for (const char* target : {"avx2", "avx512", "neon"}) {
      const std::vector<uint8_t> packed_bytes = pack_model(plain, weight_block_of(target));
      const Model packed = std::move(Model::from_bytes(packed_bytes.data(), packed_bytes.size()).value());
      for (const Backend* kernels : available_backends()) {
        auto a = Engine::create(plain, *kernels);
        auto b = Engine::create(packed, *kernels);
        ASSERT_TRUE(a.is_ok() && b.is_ok());
        const bool in_place = kernels->name() == std::string(target);
        if (in_place) {
          EXPECT_EQ(b.value()->packed_weight_bytes(), 0u) << arch << " packed for " << target;
          EXPECT_EQ(Engine::required_bytes(packed, *kernels).value(), b.value()->arena_bytes());
          EXPECT_GT(a.value()->packed_weight_bytes(), 0u);
        } else if (kernels->cpu_kernels()) {
          EXPECT_EQ(b.value()->packed_weight_bytes(), a.value()->packed_weight_bytes());
        }
        for (uint32_t s = 0; s < plain.fb().subnets()->size(); ++s) {
          const auto in = random_input(*a.value(), s, 70 + s);
          EXPECT_EQ(run(*b.value(), s, b.value()->whole(), in), run(*a.value(), s, a.value()->whole(), in))
              << arch << " packed for " << target << " on " << kernels->name() << " subnet " << s;
        }
      }
    }
  }
}

TEST(Engine, ArenaIsSharedAcrossLifetimes) {
  Loaded l = load("resnet18");
  uint64_t sum = 0;
  for (uint32_t t = 0; t < l.model.fb().tensors()->size(); ++t) sum += l.model.shape(t).elements() * 4;
  // The input and the stem's output are live together: no plan can use less, and the
  // greedy plan should come within 10 % of that.
  const size_t bound = (224 * 224 * 3 + 112 * 112 * 64) * 4u;
  EXPECT_GE(l.engine->arena_bytes(), bound);
  EXPECT_LT(l.engine->arena_bytes(), bound * 11 / 10) << "arena " << l.engine->arena_bytes() << " of " << sum;
}

}  // namespace
}  // namespace shoal::testing
