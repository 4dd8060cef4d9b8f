#include "shoal/thread_pool.h"

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
// About 50-100 us of spinning before a worker sleeps: longer than the gap between two
// layers of one inference, far shorter than the gap between inferences.
constexpr int kSpins = 20000;
}  // namespace

ThreadPool::ThreadPool(unsigned threads) {
  for (unsigned i = 1; i < threads; ++i) workers_.emplace_back([this, i] { work(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
}

// Task i runs on thread i % threads(): a fixed split, so the caller always does its share.
void ThreadPool::share(unsigned index) {
  for (uint32_t i = index; i < tasks_; i += threads()) call_(fn_, i);
}

void ThreadPool::dispatch(uint32_t n, void (*call)(void*, uint32_t), void* fn) {
  if (workers_.empty() || n <= 1) {
    for (uint32_t i = 0; i < n; ++i) call(fn, i);
    return;
  }
  tasks_ = n;
  call_ = call;
  fn_ = fn;
  pending_.store(static_cast<uint32_t>(workers_.size()), std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  share(0);
  while (pending_.load(std::memory_order_acquire) != 0) SHOAL_PAUSE();
}

void ThreadPool::work(unsigned index) {
  uint64_t seen = 0;
  for (;;) {
    int spins = 0;
    while (generation_.load(std::memory_order_acquire) == seen && spins < kSpins) {
      SHOAL_PAUSE();
      ++spins;
    }
    if (generation_.load(std::memory_order_acquire) == seen) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
    }
    seen = generation_.load(std::memory_order_acquire);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stop_) return;
    }
    share(index);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

}  // namespace shoal
