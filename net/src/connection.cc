#include "shoal/net/connection.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace shoal::net {
namespace {

Status closed(const std::string& peer) { return Status(StatusCode::kIo, "connection to " + peer + " closed"); }

// Milliseconds left until `deadline`, for poll(); -1 when there is none.
int left_ms(bool has_deadline, std::chrono::steady_clock::time_point deadline) {
  if (!has_deadline) return -1;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  return static_cast<int>(std::max<long long>(0, left.count()));
}

}  // namespace

Result<std::unique_ptr<Connection>> StreamConnection::adopt(int fd, std::string peer, ConnectionLimits limits) {
  if (::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
    ::close(fd);
    return Status(StatusCode::kIo, std::string("fcntl: ") + std::strerror(errno));
  }
  const int wake = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake < 0) {
    ::close(fd);
    return Status(StatusCode::kIo, std::string("eventfd: ") + std::strerror(errno));
  }
  return std::unique_ptr<Connection>(new StreamConnection(fd, wake, std::move(peer), limits));
}

StreamConnection::StreamConnection(int fd, int wake_fd, std::string peer, ConnectionLimits limits)
    : Connection(std::move(peer)), fd_(fd), wake_fd_(wake_fd), limits_(limits) {}

StreamConnection::~StreamConnection() {
  ::close(fd_);
  ::close(wake_fd_);
}

void StreamConnection::wake_reader() {
  const uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof(one));
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

Status StreamConnection::write_all(const void* data, size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
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
    ::shutdown(fd_, SHUT_RDWR);
    wake_reader();
    return Status(StatusCode::kBusy, peer() + " is not reading what is sent to it (" + std::to_string(waiting + size) +
                                         " bytes would wait, the cap is " + std::to_string(limits_.max_queued_bytes) +
                                         "); connection dropped");
  }
  out_.insert(out_.end(), p, p + size);
  wake_reader();
  return Status::ok();
}

Status StreamConnection::fill(bool has_deadline, std::chrono::steady_clock::time_point deadline, int timeout_ms) {
  // When the last read had to wait (request and reply take turns), this one likely will too:
  // poll first, saving a recv that would only say "nothing yet" (syscalls are the dearest part
  // of a round trip on loopback).
  bool try_recv = !waited_;
  bool waited = false;
  for (;;) {
    if (try_recv) {
      const ssize_t n = ::recv(fd_, in_, sizeof(in_), 0);
      if (n > 0) {
        in_begin_ = 0, in_end_ = static_cast<size_t>(n);
        waited_ = waited;
        return Status::ok();
      }
      if (n == 0) return closed(peer());
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return closed(peer());
    }
    try_recv = waited = true;
    bool want_out;
    {
      std::lock_guard<std::mutex> lock(out_mu_);
      if (failed_) return closed(peer());
      want_out = out_begin_ < out_.size();
    }
    pollfd fds[2] = {{fd_, static_cast<short>(POLLIN | (want_out ? POLLOUT : 0)), 0}, {wake_fd_, POLLIN, 0}};
    const int ready = ::poll(fds, 2, left_ms(has_deadline, deadline));
    if (ready < 0 && errno != EINTR) return closed(peer());
    if (ready == 0) {
      return Status(StatusCode::kTimeout, peer() + " sent nothing for " + std::to_string(timeout_ms) + " ms");
    }
    if (fds[1].revents & POLLIN) {
      uint64_t count;
      (void)!::read(wake_fd_, &count, sizeof(count));
    }
    if (fds[0].revents & POLLOUT) {
      std::lock_guard<std::mutex> lock(out_mu_);
      (void)send_queued_locked();  // a failure shows on the next recv
    }
  }
}

Status StreamConnection::read_exact(void* data, size_t size, int timeout_ms) {
  auto* p = static_cast<uint8_t*>(data);
  const bool has_deadline = timeout_ms >= 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(0, timeout_ms));
  while (size > 0) {
    if (in_begin_ == in_end_) SHOAL_RETURN_IF_ERROR(fill(has_deadline, deadline, timeout_ms));
    const size_t take = std::min(size, in_end_ - in_begin_);
    std::memcpy(p, in_ + in_begin_, take);
    in_begin_ += take, p += take, size -= take;
  }
  return Status::ok();
}

Result<size_t> StreamConnection::read_some(void* data, size_t size, int timeout_ms) {
  if (size == 0) return size_t{0};
  if (in_begin_ == in_end_) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(0, timeout_ms));
    SHOAL_RETURN_IF_ERROR(fill(timeout_ms >= 0, deadline, timeout_ms));
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
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(0, timeout_ms));
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(out_mu_);
      if (failed_) return closed(peer());
      SHOAL_RETURN_IF_ERROR(send_queued_locked());
      if (out_begin_ == out_.size()) return Status::ok();
    }
    pollfd pfd{fd_, POLLOUT, 0};
    const int ready = ::poll(&pfd, 1, left_ms(true, deadline));
    if (ready == 0) return Status(StatusCode::kTimeout, peer() + " took nothing for " + std::to_string(timeout_ms) + " ms");
  }
}

void StreamConnection::shutdown() {
  ::shutdown(fd_, SHUT_RDWR);
  wake_reader();
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
