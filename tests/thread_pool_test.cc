// The engine's fork-join pool: every task exactly once per job, the caller included, many
// jobs back to back (run under ThreadSanitizer too), and workers that sleep and wake again.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "shoal/thread_pool.h"

namespace shoal {
namespace {

TEST(ThreadPool, RunsEveryTaskOncePerJob) {
  for (unsigned threads : {1u, 2u, 4u}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.threads(), threads);
    for (uint32_t n : {0u, 1u, 2u, 3u, 7u, 64u}) {
      std::vector<std::atomic<int>> hits(n);
      for (int job = 0; job < 200; ++job) {
        auto task = [&](uint32_t i) { hits[i].fetch_add(1); };
        pool.run(n, task);
      }
      for (uint32_t i = 0; i < n; ++i) EXPECT_EQ(hits[i].load(), 200) << "threads " << threads << " n " << n;
    }
  }
}

TEST(ThreadPool, WorkersThatSleptWakeForTheNextJob) {
  ThreadPool pool(3);
  std::vector<int> out(3, 0);  // each task writes its own slot: the join must publish it
  for (int round = 1; round <= 3; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // longer than the spin
    auto task = [&](uint32_t i) { out[i] = round * 10 + static_cast<int>(i); };
    pool.run(3, task);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(out[i], round * 10 + i);
  }
}

}  // namespace
}  // namespace shoal
