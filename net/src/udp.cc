#include "shoal/net/udp.h"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "ipv4.h"
#include "shoal/net/frame.h"
#include "shoal/net/hmac.h"
#include "stamped_receive.h"

namespace shoal::net {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint8_t kFragmentMagic[4] = {'S', 'H', 'O', 'F'};
constexpr size_t kFragmentHeader = 12;  // magic, frame number (u32), index (u16), count (u16)
constexpr size_t kLargestDatagram = 65536;

Status os_error(const std::string& what) { return Status(StatusCode::kIo, what + ": " + std::strerror(errno)); }

void put16(uint8_t* p, uint32_t v) { p[0] = static_cast<uint8_t>(v), p[1] = static_cast<uint8_t>(v >> 8); }
void put32(uint8_t* p, uint32_t v) { put16(p, v), put16(p + 2, v >> 16); }
uint32_t get16(const uint8_t* p) { return p[0] | uint32_t{p[1]} << 8; }
uint32_t get32(const uint8_t* p) { return get16(p) | get16(p + 2) << 16; }

// Where one peer's datagrams come from and go to.
class Port {
 public:
  virtual ~Port() = default;
  virtual Status send(const uint8_t* data, size_t size) = 0;
  // One datagram into `out` (resized to it), and when it arrived; kTimeout, or kIo once shut
  // down.
  virtual Status receive(std::vector<uint8_t>* out, int timeout_ms, Clock::time_point* arrived) = 0;
  virtual void shutdown() = 0;
};

// A connected UDP socket (only its peer's datagrams arrive): a master's side, and each
// master's own socket on a worker's side.
class ConnectedPort final : public Port {
 public:
  // `first`: a datagram that came before this socket was connected (a listener's Hello);
  // `live`: a count of the listener's peers, held while this port lives.
  explicit ConnectedPort(int fd, std::vector<uint8_t> first = {}, std::shared_ptr<std::atomic<uint32_t>> live = {})
      : fd_(fd), first_(std::move(first)), live_(std::move(live)) {
    enable_arrival_stamps(fd_);  // without them a datagram counts as arriving when read
  }
  ~ConnectedPort() override {
    ::close(fd_);
    if (live_) --*live_;
  }
  Status send(const uint8_t* data, size_t size) override {
    if (shut_) return Status(StatusCode::kIo, "closed");
    // A datagram the socket cannot take now is a datagram lost: never wait.
    if (::send(fd_, data, size, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      return os_error("send");
    }
    return Status::ok();
  }
  // One blocking recv under the socket's receive timeout: one system call per datagram where
  // poll and recv were two (3 us of a 25 us loopback round trip on the 2-core build machine).
  // shutdown() wakes it. The kernel stamps each datagram's arrival, so a request that waited
  // while the worker computed is still timed from when it came.
  Status receive(std::vector<uint8_t>* out, int timeout_ms, Clock::time_point* arrived) override {
    if (!first_.empty()) {
      out->swap(first_);
      first_.clear();
      *arrived = Clock::now();
      return Status::ok();
    }
    const bool has_deadline = timeout_ms >= 0;
    const auto deadline = Clock::now() + std::chrono::milliseconds(std::max(0, timeout_ms));
    for (bool first = true;; first = false) {
      if (shut_) return Status(StatusCode::kIo, "closed");
      const int wait = first ? timeout_ms : has_deadline ? ms_until(deadline) : -1;
      if (wait != 0) timeout_.set(fd_, wait);
      const int flags = MSG_TRUNC | (wait == 0 ? MSG_DONTWAIT : 0);
      const ssize_t n = receive_stamped(fd_, raw_.get(), kLargestDatagram, flags, arrived);
      if (shut_) return Status(StatusCode::kIo, "closed");
      if (n >= 0) {
        if (static_cast<size_t>(n) > kLargestDatagram) continue;  // larger than any datagram we take
        out->assign(raw_.get(), raw_.get() + n);  // no allocation once `out` has grown
        if (*arrived == Clock::time_point{}) *arrived = Clock::now();  // no stamp: as it is read
        return Status::ok();
      }
      if (errno == ECONNREFUSED) return Status(StatusCode::kIo, "nothing listens there (port unreachable)");
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (has_deadline) return Status(StatusCode::kTimeout, "no datagram");
        continue;
      }
      if (errno != EINTR) return os_error("recv");
    }
  }
  void shutdown() override {
    shut_ = true;
    ::shutdown(fd_, SHUT_RD);  // a recv waiting now, or later, returns at once
  }

 private:
  const int fd_;
  std::atomic<bool> shut_{false};
  ReceiveTimeout timeout_;  // only the reading thread touches it
  std::vector<uint8_t> first_;
  std::shared_ptr<std::atomic<uint32_t>> live_;
  std::unique_ptr<uint8_t[]> raw_{new uint8_t[kLargestDatagram]};  // where recv writes
};

}  // namespace

namespace {

// Frames over datagrams: whole when they fit, else fragments; reassembly bounded in count,
// size and time.
class DatagramConnection final : public Connection {
 public:
  DatagramConnection(std::string peer, std::unique_ptr<Port> port, UdpLimits limits)
      : Connection(std::move(peer)), port_(std::move(port)), limits_(limits) {}

  bool datagrams() const override { return true; }
  Arrival arrival() const override { return {arrived_, true, arrived_}; }

  Status write_all(const void* data, size_t size) override {
    const auto* p = static_cast<const uint8_t*>(data);
    if (size <= limits_.max_datagram) return closed_on_error(port_->send(p, size));
    const size_t mac = key().empty() ? 0 : kMacBytes;
    const size_t chunk = limits_.max_datagram - kFragmentHeader - mac;
    const size_t count = (size + chunk - 1) / chunk;
    if (size > limits_.max_frame || count > 0xFFFF) {
      return Status(StatusCode::kInvalidArgument, "a " + std::to_string(size) + "-byte frame is over UDP's " +
                                                      std::to_string(limits_.max_frame) + "-byte limit; use TCP");
    }
    std::vector<uint8_t> datagram(limits_.max_datagram);
    std::lock_guard<std::mutex> lock(send_mu_);
    const uint32_t number = next_fragmented_++;
    for (size_t i = 0; i < count; ++i) {
      const size_t n = std::min(chunk, size - i * chunk);
      std::memcpy(datagram.data(), kFragmentMagic, 4);
      put32(datagram.data() + 4, number);
      put16(datagram.data() + 8, static_cast<uint32_t>(i));
      put16(datagram.data() + 10, static_cast<uint32_t>(count));
      std::memcpy(datagram.data() + kFragmentHeader, p + i * chunk, n);
      if (mac) {  // every fragment under the MAC: a forged one is dropped before reassembly
        const Digest tag = hmac_sha256(key(), datagram.data(), kFragmentHeader + n, nullptr, 0);
        std::memcpy(datagram.data() + kFragmentHeader + n, tag.data(), mac);
      }
      SHOAL_RETURN_IF_ERROR(closed_on_error(port_->send(datagram.data(), kFragmentHeader + n + mac)));
    }
    return Status::ok();
  }

  Status next_message(int timeout_ms) override {
    message_.clear();
    at_ = 0;
    const bool has_deadline = timeout_ms >= 0;
    const auto deadline = Clock::now() + std::chrono::milliseconds(std::max(0, timeout_ms));
    std::vector<uint8_t>& d = spare_;
    for (bool first = true;; first = false) {  // the first wait whole (ms_until rounds down)
      int wait = !has_deadline ? -1 : first ? timeout_ms : ms_until(deadline);
      // Partial frames are dropped on their own timeout, not when this peer next sends one.
      const int until_stale = sweep();
      const bool for_sweep = until_stale >= 0 && (wait < 0 || until_stale < wait);
      if (for_sweep) wait = until_stale;
      const Status got = port_->receive(&d, wait, &arrived_);
      if (got.code() == StatusCode::kTimeout && for_sweep) continue;
      SHOAL_RETURN_IF_ERROR(got);
      if (d.size() >= 4 && std::memcmp(d.data(), kMagic, 4) == 0) {
        message_.swap(d);
        return Status::ok();
      }
      if (d.size() > kFragmentHeader && std::memcmp(d.data(), kFragmentMagic, 4) == 0 && reassemble(d)) {
        return Status::ok();
      }
      // anything else: not ours, dropped
    }
  }

  Status read_exact(void* data, size_t size, int) override {
    if (message_.size() - at_ < size) {
      at_ = message_.size();
      return Status(StatusCode::kCorrupt, "a frame runs past the end of its datagram");
    }
    if (size > 0) std::memcpy(data, message_.data() + at_, size);  // an empty payload's data() may be null
    at_ += size;
    return Status::ok();
  }

  Result<size_t> read_some(void* data, size_t size, int timeout_ms) override {
    if (at_ == message_.size()) SHOAL_RETURN_IF_ERROR(next_message(timeout_ms));
    const size_t n = std::min(size, message_.size() - at_);
    std::memcpy(data, message_.data() + at_, n);
    at_ += n;
    return n;
  }

  Status flush(int) override { return Status::ok(); }  // nothing is ever queued
  void shutdown() override { port_->shutdown(); }
  void set_limits(const ConnectionLimits& limits) override {
    if (limits.max_frame_bytes > 0) limits_.max_frame = std::min(limits_.max_frame, limits.max_frame_bytes);
  }
  bool overflowed() const override { return false; }
  size_t partial_bytes() const override { return partial_bytes_.load(); }

 private:
  struct Partial {
    uint32_t count = 0, have = 0;
    size_t bytes = 0;
    std::vector<std::vector<uint8_t>> chunks;
    Clock::time_point started;
  };

  // A port's failure, said as the connection's (every one of them is kIo).
  Status closed_on_error(Status st) {
    return st.is_ok() ? st : Status(st.code(), "connection to " + peer() + " closed: " + st.message());
  }

  // Drops the partial frames that took too long; the milliseconds until the next of them
  // would (-1: none left).
  int sweep() {
    const auto now = Clock::now();
    const auto timeout = std::chrono::milliseconds(limits_.reassembly_timeout_ms);
    int next = -1;
    for (auto it = partial_.begin(); it != partial_.end();) {
      if (now - it->second.started > timeout) {
        partial_bytes_ -= it->second.bytes;
        it = partial_.erase(it);
        continue;
      }
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(it->second.started + timeout - now).count() + 1;
      next = next < 0 ? static_cast<int>(left) : std::min(next, static_cast<int>(left));
      ++it;
    }
    return next;
  }

  // Adds a fragment; true when it completed a frame, now in message_.
  bool reassemble(const std::vector<uint8_t>& d) {
    const auto now = Clock::now();
    sweep();
    const size_t mac = key().empty() ? 0 : kMacBytes;
    if (d.size() <= kFragmentHeader + mac) return false;
    const size_t body = d.size() - mac;  // header and chunk
    if (mac && !digests_equal(hmac_sha256(key(), d.data(), body, nullptr, 0).data(), d.data() + body)) return false;
    const uint32_t number = get32(d.data() + 4), index = get16(d.data() + 8), count = get16(d.data() + 10);
    const size_t chunk = limits_.max_datagram - kFragmentHeader - mac;
    if (count < 2 || index >= count || size_t{count} * chunk > limits_.max_frame + chunk || body - kFragmentHeader > chunk) {
      return false;
    }
    auto it = partial_.find(number);
    if (it == partial_.end()) {
      if (partial_.size() >= limits_.max_partial) {  // the oldest gives way
        auto oldest = std::min_element(partial_.begin(), partial_.end(),
                                       [](const auto& a, const auto& b) { return a.second.started < b.second.started; });
        partial_bytes_ -= oldest->second.bytes;
        partial_.erase(oldest);
      }
      it = partial_.emplace(number, Partial{}).first;
      it->second.count = count;
      it->second.chunks.resize(count);
      it->second.started = now;
    }
    Partial& p = it->second;
    if (p.count != count || !p.chunks[index].empty()) return false;
    p.chunks[index].assign(d.begin() + kFragmentHeader, d.begin() + static_cast<std::ptrdiff_t>(body));
    p.bytes += p.chunks[index].size();
    partial_bytes_ += p.chunks[index].size();
    if (++p.have < p.count) return false;
    partial_bytes_ -= p.bytes;
    message_.clear();
    message_.reserve(p.bytes);
    for (const auto& c : p.chunks) message_.insert(message_.end(), c.begin(), c.end());
    partial_.erase(it);
    return true;
  }

  std::unique_ptr<Port> port_;
  Clock::time_point arrived_{};  // of the datagram that completed the last message
  UdpLimits limits_;
  std::mutex send_mu_;
  uint32_t next_fragmented_ = 0;
  std::vector<uint8_t> message_;  // the datagram (or reassembled frame) being read
  std::vector<uint8_t> spare_;    // the next one is received here, then swapped in
  size_t at_ = 0;
  std::map<uint32_t, Partial> partial_;
  std::atomic<size_t> partial_bytes_{0};  // the chunks in partial_
};

}  // namespace

Dialer& udp_dialer() {
  static UdpDialer dialer;
  return dialer;
}

Result<std::unique_ptr<Connection>> udp_connect(const std::string& address, UdpLimits limits) {
  sockaddr_in sa;
  SHOAL_RETURN_IF_ERROR(resolve_ipv4(address, &sa));
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return os_error("socket");
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    const Status st = os_error("cannot reach " + address);
    ::close(fd);
    return st;
  }
  return std::unique_ptr<Connection>(new DatagramConnection(address, std::make_unique<ConnectedPort>(fd), limits));
}

std::pair<std::unique_ptr<Connection>, std::unique_ptr<Connection>> datagram_pair(UdpLimits limits) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, fds) != 0) return {};
  const int big = 4 << 20;
  std::unique_ptr<Connection> ends[2];
  for (int i = 0; i < 2; ++i) {
    ::setsockopt(fds[i], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
    ends[i].reset(new DatagramConnection(i ? "datagram-b" : "datagram-a", std::make_unique<ConnectedPort>(fds[i]), limits));
  }
  return {std::move(ends[0]), std::move(ends[1])};
}

namespace {

// A UDP socket on `local`, sharing its port with the listener's (SO_REUSEPORT).
int reuse_port_socket(const sockaddr_in& local) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  const int big = 4 << 20;  // room for bursts while the engine is busy
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof(local)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

Result<std::unique_ptr<UdpListener>> UdpListener::listen(const std::string& address, uint32_t max_peers,
                                                         UdpLimits limits) {
  sockaddr_in sa;
  SHOAL_RETURN_IF_ERROR(resolve_ipv4(address, &sa));
  const int fd = reuse_port_socket(sa);
  if (fd < 0) return os_error("cannot listen on " + address);
  socklen_t len = sizeof(sa);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  const int wake = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake < 0) {
    ::close(fd);
    return os_error("eventfd");
  }
  auto local = std::make_unique<sockaddr_in>(sa);
  return std::unique_ptr<UdpListener>(new UdpListener(fd, wake, std::move(local), max_peers, limits));
}

UdpListener::UdpListener(int fd, int wake_fd, std::unique_ptr<sockaddr_in> local, uint32_t max_peers, UdpLimits limits)
    : fd_(fd), wake_fd_(wake_fd), local_(std::move(local)), max_peers_(max_peers), limits_(limits),
      live_(std::make_shared<std::atomic<uint32_t>>(0)) {}

UdpListener::~UdpListener() {
  ::close(fd_);
  ::close(wake_fd_);
}

uint16_t UdpListener::port() const { return ntohs(local_->sin_port); }

bool UdpListener::loopback() const { return (ntohl(local_->sin_addr.s_addr) >> 24) == 127; }

void UdpListener::close() {
  const uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof(one));
}

// Each master that starts a handshake gets a socket of its own on the listener's port,
// connected to it: the kernel then hands its datagrams straight to that socket, so the
// thread serving it reads them itself. The listener sees only new masters' first datagrams.
Result<std::unique_ptr<Connection>> UdpListener::accept() {
  std::vector<uint8_t> d(kLargestDatagram);
  for (;;) {
    pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) return os_error("poll");
    if (fds[1].revents & POLLIN) return Status(StatusCode::kIo, "the listener was closed");
    sockaddr_in from;
    socklen_t len = sizeof(from);
    const ssize_t n = ::recvfrom(fd_, d.data(), d.size(), MSG_DONTWAIT | MSG_TRUNC, reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 0 || static_cast<size_t>(n) > d.size()) continue;
    // Only a Hello (a whole frame, sequence 0) starts a session; anything else from an
    // address with no session is dropped, and no state is kept for it.
    if (static_cast<size_t>(n) < kHeaderBytes || std::memcmp(d.data(), kMagic, 4) != 0) continue;
    const Result<FrameHeader> h = decode_header(d.data(), Limits{});
    if (!h.is_ok() || h->type != wire::MessageType::Hello || h->sequence != 0) continue;
    if (*live_ >= max_peers_) continue;
    const int fd = reuse_port_socket(*local_);
    if (fd < 0) continue;  // out of descriptors: this Hello is lost, the master will try again
    if (::connect(fd, reinterpret_cast<sockaddr*>(&from), sizeof(from)) != 0) {
      ::close(fd);
      continue;
    }
    ++*live_;
    std::vector<uint8_t> hello(d.begin(), d.begin() + n);
    return std::unique_ptr<Connection>(new DatagramConnection(
        ipv4_name(from), std::make_unique<ConnectedPort>(fd, std::move(hello), live_), limits_));
  }
}

}  // namespace shoal::net
