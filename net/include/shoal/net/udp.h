// UDP: the datagram transport. Every frame is one datagram when it fits (a 28x28 request and
// its reply do); a larger one (a 224x224x3 image) goes as numbered fragments that the other
// side reassembles, with at most a few frames in reassembly per peer, each dropped if its
// fragments do not all come within the reassembly timeout. Every frame carries the MAC and a
// sequence as on TCP (net/frame.h); replays are refused by a 64-frame window instead of strict
// order, since datagrams may be lost or reordered. Nothing is retransmitted: a lost request
// or reply is absorbed by the deadline, hedges and insurance, and a lost heartbeat by the
// three-period rule. A frame that fails its checks costs its datagram, not the session.
//
// A worker listens with UdpListener, which hands WorkerServer one Connection per master (the
// first datagram from a new address must be a Hello); a master dials with udp_dialer().
#ifndef SHOAL_NET_UDP_H_
#define SHOAL_NET_UDP_H_

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "shoal/net/connection.h"
#include "shoal/net/dialer.h"

namespace shoal::net {

struct UdpLimits {
  size_t max_datagram = 1400;          // bytes per datagram: under a 1500-byte Ethernet MTU
  size_t max_frame = 1u << 20;         // a fragmented frame's bytes at most
  uint32_t max_partial = 4;            // frames in reassembly at once, per peer
  int reassembly_timeout_ms = 1000;    // a frame's fragments must all come within this
  size_t inbox_datagrams = 1024;       // a listener's per-peer queue (more are dropped)
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
  uint16_t port() const override { return port_; }
  // Reads datagrams, handing each to its peer's connection, until one from a new address
  // starts a handshake: that peer's connection is returned. kIo after close().
  Result<std::unique_ptr<Connection>> accept() override;
  void close() override;

 private:
  struct Socket;
  struct Inbox;
  UdpListener(std::shared_ptr<Socket> socket, int wake_fd, uint16_t port, uint32_t max_peers, UdpLimits limits);
  std::shared_ptr<Socket> socket_;
  const int wake_fd_;
  uint16_t port_;
  uint32_t max_peers_;
  UdpLimits limits_;
  std::map<std::string, std::weak_ptr<Inbox>> peers_;  // only accept() touches it
};

}  // namespace shoal::net

#endif  // SHOAL_NET_UDP_H_
