// The engine's fork-join pool: every task exactly once per job, the caller included, many
// jobs back to back (run under ThreadSanitizer too), and workers that sleep and wake again.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
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

// Jobs of alternating sizes, back to back, with more threads than this machine has cores: a
// worker preempted while it holds a finished job's claim must neither run a task of the next
// job nor count one (that once made the engine hang, and only under load). A hang fails the
// test within a minute instead of at ctest's timeout.
TEST(ThreadPool, AWorkerLeftBehindNeverTouchesTheNextJob) {
  std::mutex m;
  std::condition_variable finished;
  bool done = false;
  std::thread watchdog([&] {
    std::unique_lock<std::mutex> lock(m);
    if (!finished.wait_for(lock, std::chrono::seconds(60), [&] { return done; })) {
      std::fprintf(stderr, "ThreadPool hung: a job never saw all its tasks done\n");
      std::_Exit(1);
    }
  });
  for (unsigned threads : {3u, 8u}) {
    ThreadPool pool(threads);
    std::vector<std::atomic<int>> hits(13);
    int wrong = 0;
    for (uint32_t job = 0; job < 150000; ++job) {
      const uint32_t n = job % 2 ? 2 : 1 + job / 2 % 12;
      for (auto& h : hits) h.store(0, std::memory_order_relaxed);
      auto task = [&](uint32_t i) { hits[i].fetch_add(1, std::memory_order_relaxed); };
      pool.run(n, task);
      for (uint32_t i = 0; i < hits.size(); ++i) wrong += hits[i].load() != (i < n ? 1 : 0);
    }
    EXPECT_EQ(wrong, 0) << threads << " threads";
  }
  {
    std::lock_guard<std::mutex> lock(m);
    done = true;
  }
  finished.notify_one();
  watchdog.join();
}

}  // namespace
}  // namespace shoal
