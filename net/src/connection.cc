#include "stream_connection.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace shoal::net {
namespace {

using Clock = std::chrono::steady_clock;

Status closed(const std::string& peer) { return Status(StatusCode::kIo, "connection to " + peer + " closed"); }

}  // namespace

Result<std::unique_ptr<Connection>> StreamConnection::adopt(int fd, std::string peer, ConnectionLimits limits) {
  // Blocking: reads wait in recv (one system call); every send says MSG_DONTWAIT itself.
  if (::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) {
    ::close(fd);
    return Status(StatusCode::kIo, std::string("fcntl: ") + std::strerror(errno));
  }
  enable_arrival_stamps(fd);
  return std::unique_ptr<Connection>(new StreamConnection(fd, std::move(peer), limits));
}

StreamConnection::StreamConnection(int fd, std::string peer, ConnectionLimits limits)
    : Connection(std::move(peer)), fd_(fd), limits_(limits) {}

StreamConnection::~StreamConnection() {
  if (ever_watched_) Flusher::instance().forget(fd_);
  ::close(fd_);
}

void StreamConnection::set_limits(const ConnectionLimits& limits) {
  std::lock_guard<std::mutex> lock(out_mu_);
  limits_ = limits;
}

bool StreamConnection::overflowed() const {
  std::lock_guard<std::mutex> lock(out_mu_);
  return overflowed_;
}

Status StreamConnection::send_queued_locked() {
  while (out_begin_ < out_.size()) {
    const ssize_t n = ::send(fd_, out_.data() + out_begin_, out_.size() - out_begin_, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Status::ok();
    if (n <= 0) {
      failed_ = true;
      return closed(peer());
    }
    out_begin_ += static_cast<size_t>(n);
  }
  out_.clear();
  out_begin_ = 0;
  return Status::ok();
}

bool StreamConnection::send_backlog() {
  std::lock_guard<std::mutex> lock(out_mu_);
  if (!failed_) (void)send_queued_locked();  // a failure shows to the reader's recv
  if (!failed_ && out_begin_ < out_.size()) return false;
  watched_ = false;
  return true;
}

Status StreamConnection::write_all(const void* data, size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  bool watch = false;
  {
    std::lock_guard<std::mutex> lock(out_mu_);
    if (failed_) return closed(peer());
    SHOAL_RETURN_IF_ERROR(send_queued_locked());
    if (out_begin_ == out_.size()) {  // nothing waits: straight to the socket
      while (size > 0) {
        const ssize_t n = ::send(fd_, p, size, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (n <= 0) {
          failed_ = true;
          return closed(peer());
        }
        p += n;
        size -= static_cast<size_t>(n);
      }
    }
    if (size == 0) return Status::ok();
    const size_t waiting = out_.size() - out_begin_;
    if (waiting + size > limits_.max_queued_bytes) {
      failed_ = overflowed_ = true;
      ::shutdown(fd_, SHUT_RDWR);  // wakes the reader
      return Status(StatusCode::kBusy, peer() + " is not reading what is sent to it (" +
                                           std::to_string(waiting + size) + " bytes would wait, the cap is " +
                                           std::to_string(limits_.max_queued_bytes) + "); connection dropped");
    }
    out_.insert(out_.end(), p, p + size);
    watch = !watched_;
    watched_ = ever_watched_ = true;
  }
  // Outside out_mu_: the flusher takes its own lock first, then this one.
  if (watch && !Flusher::instance().watch(fd_, this)) {
    std::lock_guard<std::mutex> lock(out_mu_);
    failed_ = true;
    ::shutdown(fd_, SHUT_RDWR);  // wakes the reader
    return Status(StatusCode::kIo, "cannot queue output for " + peer() +
                                       ": no descriptor left for the flusher (raise the limit, ulimit -n); "
                                       "connection dropped");
  }
  return Status::ok();
}

Status StreamConnection::fill(int first_wait_ms, Clock::time_point deadline) {
  const Clock::time_point stamp_before = stamp_, called = Clock::now();
  for (int wait = first_wait_ms;; wait = first_wait_ms < 0 ? -1 : ms_until(deadline)) {
    if (wait != 0) timeout_.set(fd_, wait);
    const ssize_t n = receive_stamped(fd_, in_, sizeof(in_), wait == 0 ? MSG_DONTWAIT : 0, &stamp_);
    if (n > 0) {
      // These bytes were not in the receive before, so they came after its last stamp (a
      // stream's bytes arrive in order) and, unless it filled in_, after it was called.
      floor_ = full_ ? stamp_before : std::max(stamp_before, last_called_);
      last_called_ = called;
      full_ = static_cast<size_t>(n) == sizeof(in_);
      in_begin_ = 0, in_end_ = static_cast<size_t>(n);
      return Status::ok();
    }
    if (n == 0) return closed(peer());
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return closed(peer());
    if (first_wait_ms >= 0) {
      return Status(StatusCode::kTimeout, peer() + " sent nothing for " + std::to_string(first_wait_ms) + " ms");
    }
  }
}

Status StreamConnection::read_exact(void* data, size_t size, int timeout_ms) {
  auto* p = static_cast<uint8_t*>(data);
  const auto deadline = Clock::now() + std::chrono::milliseconds(std::max(0, timeout_ms));
  for (bool first = true; size > 0; first = false) {
    if (in_begin_ == in_end_) {
      SHOAL_RETURN_IF_ERROR(fill(first || timeout_ms < 0 ? timeout_ms : ms_until(deadline), deadline));
    }
    const size_t take = std::min(size, in_end_ - in_begin_);
    std::memcpy(p, in_ + in_begin_, take);
    in_begin_ += take, p += take, size -= take;
  }
  return Status::ok();
}

Result<size_t> StreamConnection::read_some(void* data, size_t size, int timeout_ms) {
  if (size == 0) return size_t{0};
  if (in_begin_ == in_end_) {
    SHOAL_RETURN_IF_ERROR(fill(timeout_ms, Clock::now() + std::chrono::milliseconds(std::max(0, timeout_ms))));
  }
  const size_t take = std::min(size, in_end_ - in_begin_);
  std::memcpy(data, in_ + in_begin_, take);
  in_begin_ += take;
  return take;
}

bool StreamConnection::nothing_arrived() {
  if (in_begin_ != in_end_) return false;
  pollfd pfd{fd_, POLLIN, 0};
  return ::poll(&pfd, 1, 0) == 0;
}

Status StreamConnection::flush(int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(std::max(0, timeout_ms));
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(out_mu_);
      if (failed_) return closed(peer());
      SHOAL_RETURN_IF_ERROR(send_queued_locked());
      if (out_begin_ == out_.size()) return Status::ok();
    }
    pollfd pfd{fd_, POLLOUT, 0};
    const int ready = ::poll(&pfd, 1, ms_until(deadline));
    if (ready == 0) return Status(StatusCode::kTimeout, peer() + " took nothing for " + std::to_string(timeout_ms) + " ms");
  }
}

void StreamConnection::shutdown() {
  ::shutdown(fd_, SHUT_RDWR);  // a recv waiting now, or later, returns at once
}

std::pair<std::unique_ptr<Connection>, std::unique_ptr<Connection>> loopback_pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return {};
  auto a = StreamConnection::adopt(fds[0], "loopback-a");
  if (!a.is_ok()) {
    ::close(fds[1]);
    return {};
  }
  auto b = StreamConnection::adopt(fds[1], "loopback-b");
  if (!b.is_ok()) return {};
  return {std::move(a.value()), std::move(b.value())};
}

}  // namespace shoal::net
