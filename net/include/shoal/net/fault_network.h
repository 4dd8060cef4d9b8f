// A Dialer that puts a relay between the master and each worker it dials through another
// Dialer (TCP or UDP), and makes that link misbehave as a field network does: delay and
// jitter, loss, a bandwidth limit, partitions (nothing passes until it heals, and the
// connection stays open) and cut cables. Over a stream a lost segment holds back everything
// after it until Linux's loss recovery would have resent it (fault_wire.h); over datagrams a
// lost one is gone, and the others may overtake each other. Each relay is two threads in this
// process; the workers are whatever they are (real processes, in the fault tests). For tests
// and experiments where the machine cannot shape traffic itself (no netem), and to make a
// scenario repeatable from its seed.
#ifndef SHOAL_NET_FAULT_NETWORK_H_
#define SHOAL_NET_FAULT_NETWORK_H_

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "shoal/net/dialer.h"

namespace shoal::net {

struct FaultPlan {
  double delay_ms = 0;         // every chunk, each way
  double jitter_ms = 0;        // plus uniform [0, jitter) (order is kept, as TCP keeps it)
  double loss = 0;             // share of chunks (datagrams) lost
  double retransmit_ms = 200;  // streams: Linux's minimum retransmission timeout
  bool fast_recovery = true;   // streams: resent as RACK-TLP would; false: every loss waits retransmit_ms
  bool partitioned = false;    // nothing passes either way; the connection stays open
  double bandwidth_kbps = 0;   // each way, kilobits per second: a chunk leaves when the one before has (0: no limit)
};

class FaultNetwork final : public Dialer {
 public:
  explicit FaultNetwork(Dialer& inner, uint64_t seed = 1);
  ~FaultNetwork() override;  // ends every relay

  Result<std::unique_ptr<Connection>> dial(const std::string& address, int timeout_ms) override;
  // For every link to `address`, those open now and those dialled later.
  void set(const std::string& address, const FaultPlan& plan);
  void set_all(const FaultPlan& plan);
  // Closes every open link to `address` (a pulled cable; a new dial gets through).
  void cut(const std::string& address);

 private:
  struct Relay;
  std::shared_ptr<const FaultPlan> plan_for(const std::string& address);
  Dialer& inner_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<const FaultPlan>> plans_;
  std::shared_ptr<const FaultPlan> default_plan_;
  std::vector<std::unique_ptr<Relay>> relays_;
  uint64_t seed_;
};

}  // namespace shoal::net

#endif  // SHOAL_NET_FAULT_NETWORK_H_
