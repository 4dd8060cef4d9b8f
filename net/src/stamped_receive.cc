#include "stamped_receive.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cstring>

namespace shoal::net {
namespace {

using Clock = std::chrono::steady_clock;

// The kernel stamps arrivals on the system clock; deadlines run on the steady one.
Clock::time_point steady_from_system(const timespec& ts) {
  const auto system_now = std::chrono::system_clock::now();
  const auto now = Clock::now();
  const auto stamp = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::seconds(ts.tv_sec) +
                                                                     std::chrono::nanoseconds(ts.tv_nsec)));
  const auto age = system_now - stamp;
  if (age < decltype(age)::zero() || age > std::chrono::seconds(10)) return now;  // the system clock stepped
  return now - std::chrono::duration_cast<Clock::duration>(age);
}

}  // namespace

void ReceiveTimeout::set(int fd, int ms) {
  if (ms == set_) return;
  timeval tv{};  // zero: no timeout
  if (ms > 0) tv.tv_sec = ms / 1000, tv.tv_usec = (ms % 1000) * 1000;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  set_ = ms;
}

void enable_arrival_stamps(int fd) {
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on));
}

ssize_t receive_stamped(int fd, void* data, size_t size, int flags, Clock::time_point* arrived) {
  iovec iov{data, size};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
  msghdr msg{};
  msg.msg_iov = &iov, msg.msg_iovlen = 1;
  msg.msg_control = control, msg.msg_controllen = sizeof(control);
  const ssize_t n = ::recvmsg(fd, &msg, flags);
  *arrived = Clock::time_point{};
  if (n <= 0) return n;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS && c->cmsg_len >= CMSG_LEN(sizeof(timespec))) {
      timespec ts;
      std::memcpy(&ts, CMSG_DATA(c), sizeof(ts));
      *arrived = steady_from_system(ts);
    }
  }
  return n;
}

int ms_until(Clock::time_point deadline) {
  return static_cast<int>(std::max<long long>(
      0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count()));
}

}  // namespace shoal::net
