// One direction of a FaultNetwork link: the chunks it holds back, and when each may go on.
// Datagrams go on in the order they are due (a lost one never enters). A stream keeps its
// order, and a lost chunk holds back everything behind it until it is resent, when Linux's
// loss recovery (RACK-TLP, RFC 8985, on by default since 4.18) would resend it:
// - a later chunk that arrives makes the receiver acknowledge it selectively, and the sender
//   resends the hole a quarter of a round trip after hearing so (RACK's reorder window): the
//   lost chunk arrives 1.25 round trips after the later one;
// - with no later chunk the tail-loss probe resends it two round trips after it was sent, plus
//   2 ms when earlier chunks were still unacknowledged, or plus the minimum retransmission
//   timeout (200 ms) when it was the only one in flight (tcp_schedule_loss_probe);
// - each time the resent copy is lost too, the retransmission timeout adds the minimum RTO,
//   doubling (exponential backoff).
// The older model, every lost chunk held for the minimum RTO, stays as Recovery::fast = false:
// the worst case, a link that carries one request at a time.
#ifndef SHOAL_NET_FAULT_WIRE_H_
#define SHOAL_NET_FAULT_WIRE_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

namespace shoal::net {

class FaultWire {
 public:
  using Clock = std::chrono::steady_clock;
  struct Recovery {
    double rtt_ms = 0;        // the link's round trip (its delay both ways)
    double rto_min_ms = 200;  // Linux's tcp_rto_min
    bool fast = true;         // false: every lost chunk waits rto_min_ms, whatever follows it
  };

  explicit FaultWire(bool stream) : stream_(stream) {}

  // A chunk sent at `sent` that arrives at `arrives` if nothing is lost. `losses`: how many
  // times it is lost before a copy gets through (streams only; 0 for a datagram, which is
  // either added or gone).
  void add(Clock::time_point sent, Clock::time_point arrives, uint32_t losses, std::vector<uint8_t> bytes,
           const Recovery& recovery);

  bool empty() const { return held_.empty(); }
  size_t bytes() const { return bytes_; }
  Clock::time_point next_at() const { return held_.front().at; }  // not empty
  std::vector<uint8_t> take_front();                                // not empty

 private:
  struct Chunk {
    Clock::time_point own;  // when it arrives if nothing before it holds it back
    Clock::time_point at;   // when it goes on: max(own, the chunk before's at) on a stream
    Clock::duration rack{};  // lost and not yet followed by an arrival: after one, it arrives this long later
    bool awaiting_rack = false;
    std::vector<uint8_t> bytes;
  };
  void settle_from(size_t i);  // recomputes `at` from chunk i on

  bool stream_;
  std::deque<Chunk> held_;
  size_t bytes_ = 0;
  Clock::time_point last_sent_{};  // a stream's previous chunk: still unacknowledged?
};

}  // namespace shoal::net

#endif  // SHOAL_NET_FAULT_WIRE_H_
