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
  void publish(uint32_t base, uint32_t count);
  void work();
  void drain(uint64_t job);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<uint64_t> job_{0};  // the latest job's number; workers wait for it to change
  // (job << 32) | (tasks << 16) | next unclaimed task: all a claim is decided on, in one word,
  // so a worker still holding a finished job's word can never claim a task of the next one.
  std::atomic<uint64_t> claim_{0};
  std::atomic<uint32_t> done_{0};  // tasks of the current job finished
  std::atomic<bool> stop_{false};
  // The current job, written before claim_ is released (atomics: a late worker may read them
  // while the next job is written, and then fails its claim).
  std::atomic<uint32_t> base_{0};  // a job runs at most 65535 tasks; run() splits larger ones
  std::atomic<void (*)(void*, uint32_t)> call_{nullptr};
  std::atomic<void*> fn_{nullptr};
};

}  // namespace shoal

#endif  // SHOAL_THREAD_POOL_H_
