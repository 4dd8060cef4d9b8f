// A small fork-join pool for the engine's layers: `threads - 1` workers plus the caller.
//
// run(n, fn) calls fn(i) for every i in [0, n) and returns when all are done. Task i always
// covers the same work (the engine cuts a layer into n row bands), so results do not depend
// on which thread ran what. Workers spin briefly between layers (a layer is often tens of
// microseconds) and then sleep, so an idle engine costs no CPU. Nothing allocates after
// construction.
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
  void work(unsigned index);
  void share(unsigned index);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<uint32_t> pending_{0};
  bool stop_ = false;
  // The current job (written before generation_ is bumped).
  uint32_t tasks_ = 0;
  void (*call_)(void*, uint32_t) = nullptr;
  void* fn_ = nullptr;
};

}  // namespace shoal

#endif  // SHOAL_THREAD_POOL_H_
