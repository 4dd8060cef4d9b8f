#include "flusher.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

namespace shoal::net {

Flusher& Flusher::instance() {
  // Never destroyed: its thread waits in epoll_wait() until the process exits, and no
  // connection can outlive a destroyed flusher.
  static Flusher* flusher = new Flusher();
  return *flusher;
}

bool Flusher::watch(int fd, Backlogged* c) {
  std::lock_guard<std::mutex> lock(mu_);
  if (epoll_fd_ < 0) {  // the first time, or after running out of descriptors: try again
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) return false;
    std::thread([this] { loop(); }).detach();
  }
  const bool known = watched_.count(fd) != 0;
  epoll_event ev{};
  ev.events = EPOLLOUT;  // level-triggered: again and again while the socket has room
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_fd_, known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) != 0) return false;
  watched_[fd] = c;
  return true;
}

void Flusher::forget(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  if (watched_.erase(fd) != 0) ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
}

void Flusher::loop() {
  epoll_event events[16];
  const int epoll_fd = [this] {
    std::lock_guard<std::mutex> lock(mu_);
    return epoll_fd_;
  }();
  for (;;) {
    const int n = ::epoll_wait(epoll_fd, events, 16, -1);
    if (n < 0 && errno != EINTR) return;  // cannot happen with a valid epoll descriptor
    std::lock_guard<std::mutex> lock(mu_);
    for (int i = 0; i < n; ++i) {
      // An event for a descriptor forgotten since (or closed and reused) finds no entry, or
      // the new connection, which then only sends what it has.
      const auto it = watched_.find(events[i].data.fd);
      if (it == watched_.end()) continue;
      if (it->second->send_backlog()) {
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, it->first, nullptr);
        watched_.erase(it);
      }
    }
  }
}

}  // namespace shoal::net
