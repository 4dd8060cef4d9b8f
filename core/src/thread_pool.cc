#include "shoal/thread_pool.h"

#include <algorithm>
#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SHOAL_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define SHOAL_PAUSE() asm volatile("yield")
#else
#define SHOAL_PAUSE() ((void)0)
#endif

namespace shoal {

namespace {
// How long a worker spins after a job before it sleeps: longer than the gap between two
// layers of one inference, far shorter than a person would notice as a busy core.
constexpr auto kSpin = std::chrono::microseconds(300);
constexpr uint32_t kMaxTasks = 0xffff;
}  // namespace

ThreadPool::ThreadPool(unsigned threads) {
  for (unsigned i = 1; i < threads; ++i) workers_.emplace_back([this] { work(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true, std::memory_order_relaxed);
    job_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
}

// Claims and runs tasks of `job` until none is left or a newer job has been published. The
// claim word alone says whether a task is left: a worker that read it during an earlier job
// either sees that job exhausted or fails its compare-exchange, whatever else has changed.
void ThreadPool::drain(uint64_t job) {
  uint64_t c = claim_.load(std::memory_order_acquire);
  for (;;) {
    const uint32_t tasks = static_cast<uint32_t>(c >> 16) & kMaxTasks, next = static_cast<uint32_t>(c) & kMaxTasks;
    if ((c >> 32) != (job & 0xffffffffu) || next >= tasks) return;
    if (claim_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
      call_.load(std::memory_order_relaxed)(fn_.load(std::memory_order_relaxed),
                                            base_.load(std::memory_order_relaxed) + next);
      done_.fetch_add(1, std::memory_order_release);
      c = claim_.load(std::memory_order_acquire);
    }
  }
}

// Runs tasks [base, base + count) as one job, the caller taking part, and returns when all are done.
void ThreadPool::publish(uint32_t base, uint32_t count) {
  const uint64_t job = job_.load(std::memory_order_relaxed) + 1;
  base_.store(base, std::memory_order_relaxed);
  done_.store(0, std::memory_order_relaxed);
  claim_.store(((job & 0xffffffffu) << 32) | (uint64_t{count} << 16), std::memory_order_release);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_.store(job, std::memory_order_release);
  }
  wake_.notify_all();
  drain(job);
  while (done_.load(std::memory_order_acquire) != count) SHOAL_PAUSE();
}

void ThreadPool::dispatch(uint32_t n, void (*call)(void*, uint32_t), void* fn) {
  if (workers_.empty() || n <= 1) {
    for (uint32_t i = 0; i < n; ++i) call(fn, i);
    return;
  }
  call_.store(call, std::memory_order_relaxed);
  fn_.store(fn, std::memory_order_relaxed);
  for (uint32_t base = 0; base < n; base += kMaxTasks) publish(base, std::min(kMaxTasks, n - base));
}

void ThreadPool::work() {
  uint64_t seen = 0;
  for (;;) {
    const auto spin_until = std::chrono::steady_clock::now() + kSpin;
    for (unsigned i = 1; job_.load(std::memory_order_acquire) == seen; ++i) {
      SHOAL_PAUSE();
      if (i % 256 == 0 && std::chrono::steady_clock::now() > spin_until) {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return job_.load(std::memory_order_acquire) != seen; });
      }
    }
    seen = job_.load(std::memory_order_acquire);
    if (stop_.load(std::memory_order_relaxed)) return;
    drain(seen);
  }
}

}  // namespace shoal
