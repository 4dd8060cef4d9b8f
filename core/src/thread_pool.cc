#include "shoal/thread_pool.h"

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
constexpr uint64_t kTaskMask = 0xffffffffu;
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

// Claims and runs tasks of `job` until none is left or a newer job has been published.
void ThreadPool::drain(uint64_t job) {
  uint64_t c = claim_.load(std::memory_order_acquire);
  for (;;) {
    if ((c >> 32) != (job & kTaskMask) || (c & kTaskMask) >= tasks_.load(std::memory_order_relaxed)) return;
    if (claim_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
      call_.load(std::memory_order_relaxed)(fn_.load(std::memory_order_relaxed), static_cast<uint32_t>(c & kTaskMask));
      done_.fetch_add(1, std::memory_order_release);
      c = claim_.load(std::memory_order_acquire);
    }
  }
}

void ThreadPool::dispatch(uint32_t n, void (*call)(void*, uint32_t), void* fn) {
  if (workers_.empty() || n <= 1) {
    for (uint32_t i = 0; i < n; ++i) call(fn, i);
    return;
  }
  const uint64_t job = job_.load(std::memory_order_relaxed) + 1;
  tasks_.store(n, std::memory_order_relaxed);
  call_.store(call, std::memory_order_relaxed);
  fn_.store(fn, std::memory_order_relaxed);
  done_.store(0, std::memory_order_relaxed);
  claim_.store((job & kTaskMask) << 32, std::memory_order_release);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_.store(job, std::memory_order_release);
  }
  wake_.notify_all();
  drain(job);
  while (done_.load(std::memory_order_acquire) != n) SHOAL_PAUSE();
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
