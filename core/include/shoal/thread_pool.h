// A small fork-join pool for the engine's layers: `threads - 1` workers plus the caller.
//
// run(n, fn) calls fn(i) for every i in [0, n) and returns when all are done. Task i always
// covers the same work (the engine cuts a layer into n row bands), so results do not depend
// on which thread ran what. Threads claim tasks as they come, the caller too, so a worker
// that is slow to wake (a busy core) costs at most the time the caller needs to do its
// tasks itself. Workers spin for a while between jobs (a layer takes microseconds) and then
// sleep, so an idle engine costs no CPU. Nothing allocates after construction.
#ifndef SHOAL_THREAD_POOL_H_
#define SHOAL_THREAD_POOL_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace shoal {

class ThreadPool {
 public:
  explicit ThreadPool(unsigned threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  unsigned threads() const { return static_cast<unsigned>(workers_.size()) + 1; }

  template <typename Fn>
  void run(uint32_t n, Fn& fn) {
    dispatch(n, [](void* f, uint32_t i) { (*static_cast<Fn*>(f))(i); }, &fn);
  }

 private:
  void dispatch(uint32_t n, void (*call)(void*, uint32_t), void* fn);
  void work();
  void drain(uint64_t job);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<uint64_t> job_{0};    // the latest job's number; workers wait for it to change
  std::atomic<uint64_t> claim_{0};  // (job << 32) | next unclaimed task
  std::atomic<uint32_t> done_{0};   // tasks of the current job finished
  std::atomic<bool> stop_{false};
  // The current job, published before claim_ and job_ (atomics: a late worker may read them
  // while the next job is written, and then fails its claim).
  std::atomic<uint32_t> tasks_{0};
  std::atomic<void (*)(void*, uint32_t)> call_{nullptr};
  std::atomic<void*> fn_{nullptr};
};

}  // namespace shoal

#endif  // SHOAL_THREAD_POOL_H_
