// UDP: the datagram transport. Every frame is one datagram when it fits (a 28x28 request and
// its reply do); a larger one (a 224x224x3 image) goes as numbered fragments that the other
// side reassembles, with at most a few frames in reassembly per peer, each dropped if its
// fragments do not all come within the reassembly timeout; with a key each fragment carries
// its own MAC too, so a forged one is dropped before it can spoil a reassembly. Every frame
// carries the MAC and a sequence as on TCP (net/frame.h); replays are refused by a 64-frame
// window instead of strict order, since datagrams may be lost or reordered. Nothing is retransmitted: a lost request
// or reply is absorbed by the deadline, hedges and insurance, and a lost heartbeat by the
// three-period rule. A frame that fails its checks costs its datagram, not the session.
//
// A worker listens with UdpListener, which hands WorkerServer one Connection per master (the
// first datagram from a new address must be a Hello): a socket of its own, connected to that
// master on the listener's port (SO_REUSEPORT), so the thread serving the master reads its
// datagrams straight from the kernel. A master dials with udp_dialer().
#ifndef SHOAL_NET_UDP_H_
#define SHOAL_NET_UDP_H_

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "shoal/net/connection.h"
#include "shoal/net/dialer.h"

struct sockaddr_in;  // <netinet/in.h>

namespace shoal::net {

struct UdpLimits {
  size_t max_datagram = 1400;          // bytes per datagram: under a 1500-byte Ethernet MTU
  size_t max_frame = 1u << 20;         // a fragmented frame's bytes at most
  uint32_t max_partial = 4;            // frames in reassembly at once, per peer
  int reassembly_timeout_ms = 1000;    // a frame's fragments must all come within this
};

Result<std::unique_ptr<Connection>> udp_connect(const std::string& address, UdpLimits limits = {});
// Two connected ends of a datagram socketpair, framed as UDP is (net/fault_network.h's relay).
std::pair<std::unique_ptr<Connection>, std::unique_ptr<Connection>> datagram_pair(UdpLimits limits = {});

class UdpDialer final : public Dialer {
 public:
  Result<std::unique_ptr<Connection>> dial(const std::string& address, int timeout_ms) override {
    return udp_connect(address);
  }
};
Dialer& udp_dialer();

class UdpListener final : public Listener {
 public:
  // Port 0 picks a free port. At most `max_peers` masters have state here at once (new
  // addresses past that are ignored until one leaves).
  static Result<std::unique_ptr<UdpListener>> listen(const std::string& address, uint32_t max_peers = 256,
                                                     UdpLimits limits = {});
  ~UdpListener() override;
  uint16_t port() const override;
  bool loopback() const override;
  // Reads datagrams, handing each to its peer's connection, until one from a new address
  // starts a handshake: that peer's connection is returned. kIo after close().
  Result<std::unique_ptr<Connection>> accept() override;
  void close() override;

 private:
  UdpListener(int fd, int wake_fd, std::unique_ptr<::sockaddr_in> local, uint32_t max_peers, UdpLimits limits);
  const int fd_;
  const int wake_fd_;
  std::unique_ptr<::sockaddr_in> local_;  // where it is bound
  uint32_t max_peers_;
  UdpLimits limits_;
  std::shared_ptr<std::atomic<uint32_t>> live_;  // connections it made that are still open
};

}  // namespace shoal::net

#endif  // SHOAL_NET_UDP_H_
