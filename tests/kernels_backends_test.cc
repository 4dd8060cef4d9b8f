// Every optimised kernel this CPU runs against its reference twin, on the shared sweep of
// shapes and channel ranges; and the whole engine on every backend against the reference
// engine, at every subnet of every synth architecture.
#include <gtest/gtest.h>

#include "kernel_sweep.h"
#include "ref/ref.h"
#include "shoal/engine.h"
#include "test_models.h"

namespace shoal::testing {
namespace {

TEST(Backends, ThisBuildHasOptimisedKernels) {
  const auto tables = available_kernels();
  ASSERT_GE(tables.size(), 1u);
  EXPECT_STREQ(tables[0]->name, "ref");
#if SHOAL_HAVE_X86_KERNELS
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    EXPECT_NE(find_kernels("avx2"), nullptr);
  }
  if (__builtin_cpu_supports("avx512f")) {
    EXPECT_STREQ(best_kernels().name, "avx512");
  }
#endif
}

TEST(Backends, Conv2dMatchesReferenceTwin) {
  for (const KernelTable* table : available_kernels()) {
    if (!table->conv2d_pack) continue;
    Sweep s;
    int tested = 0;
    for (int trial = 0; trial < 800; ++trial) {
      ConvCase c;
      if (!random_conv(s, trial, &c)) continue;
      std::vector<float> want = c.blank_output(), got = c.blank_output();
      shoal_conv2d_nhwc_f32__ref(&c.p, c.x.data(), c.w.data(), c.scale_ptr(), c.shift_ptr(), want.data());
      std::vector<float> packed(table->conv2d_packed_floats(&c.p, c.p.out.stride));
      table->conv2d_pack(&c.p, c.p.out.stride, c.w.data(), packed.data());
      table->conv2d(&c.p, c.x.data(), packed.data(), c.scale_ptr(), c.shift_ptr(), got.data());
      expect_plane(got, c.p.out, compact(want, c.p.out), std::string(table->name) + " trial " + std::to_string(trial));
      if (::testing::Test::HasFatalFailure()) return;
      ++tested;
    }
    EXPECT_GT(tested, 400) << table->name;
  }
}

TEST(Backends, EveryEngineMatchesTheReferenceEngine) {
  for (const char* arch : {"fluid-cnn", "resnet8", "resnet18"}) {
    const auto& bytes = synth_bytes(arch);
    auto model = Model::from_bytes(bytes.data(), bytes.size());
    ASSERT_TRUE(model.is_ok());
    auto reference = Engine::create(model.value(), ref_kernels());
    ASSERT_TRUE(reference.is_ok());
    for (const KernelTable* table : available_kernels()) {
      auto engine = Engine::create(model.value(), *table);
      ASSERT_TRUE(engine.is_ok()) << table->name;
      for (uint32_t s = 0; s < model->fb().subnets()->size(); ++s) {
        std::mt19937 rng(s);
        std::normal_distribution<float> dist;
        std::vector<float> in(reference.value()->packed_size(s, model->fb().input()));
        for (float& v : in) v = dist(rng);
        const Segment logits = reference.value()->segment("image", "fc").value();
        std::vector<float> want(reference.value()->packed_size(s, logits.to)), got(want.size());
        ASSERT_TRUE(reference.value()->run(s, logits, in.data(), in.size(), want.data(), want.size()).is_ok());
        ASSERT_TRUE(engine.value()->run(s, logits, in.data(), in.size(), got.data(), got.size()).is_ok());
        float scale = 0;
        for (float v : want) scale = std::max(scale, std::fabs(v));
        for (size_t i = 0; i < want.size(); ++i) {
          ASSERT_NEAR(got[i], want[i], 1e-4 * (1 + scale)) << arch << " " << table->name << " subnet " << s;
        }
      }
    }
  }
}

}  // namespace
}  // namespace shoal::testing
