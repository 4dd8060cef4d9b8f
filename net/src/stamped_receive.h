// Receiving on a blocking socket the way both transports do: one recvmsg() per read, under a
// receive timeout that costs a system call only when it changes, with the kernel's stamp of
// when the data arrived (a request that waited while the worker computed is still timed from
// its arrival).
#ifndef SHOAL_NET_SRC_STAMPED_RECEIVE_H_
#define SHOAL_NET_SRC_STAMPED_RECEIVE_H_

#include <sys/types.h>

#include <chrono>
#include <cstddef>

namespace shoal::net {

// SO_RCVTIMEO of one socket, set only when it changes (a reader asks with the same timeout
// each time). Only the reading thread uses it.
class ReceiveTimeout {
 public:
  // `ms` > 0: a recv waits at most that long; -1: without limit. (0 is MSG_DONTWAIT's job.)
  void set(int fd, int ms);

 private:
  int set_ = -1;  // a new socket has no timeout
};

// Turns on the kernel's arrival stamps (SO_TIMESTAMPNS) for receive_stamped().
void enable_arrival_stamps(int fd);

// recvmsg() into [data, data + size) with `flags`; its result and errno. *arrived: when the
// last of what it returned arrived, on the steady clock; a default time point when the kernel
// gave no stamp (AF_UNIX streams give none).
ssize_t receive_stamped(int fd, void* data, size_t size, int flags, std::chrono::steady_clock::time_point* arrived);

// Milliseconds left until `deadline` (never negative), for the next wait.
int ms_until(std::chrono::steady_clock::time_point deadline);

}  // namespace shoal::net

#endif  // SHOAL_NET_SRC_STAMPED_RECEIVE_H_
