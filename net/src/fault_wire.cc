#include "shoal/net/fault_wire.h"

#include <algorithm>

namespace shoal::net {
namespace {

FaultWire::Clock::duration ms(double v) {
  return std::chrono::duration_cast<FaultWire::Clock::duration>(std::chrono::duration<double, std::milli>(v));
}

}  // namespace

void FaultWire::add(Clock::time_point sent, Clock::time_point arrives, uint32_t losses, std::vector<uint8_t> bytes,
                    const Recovery& recovery) {
  Chunk c;
  c.own = arrives;
  c.bytes = std::move(bytes);
  bytes_ += c.bytes.size();
  if (!stream_) {
    c.at = c.own;
    const auto later = [](Clock::time_point t, const Chunk& h) { return t < h.at; };
    held_.insert(std::upper_bound(held_.begin(), held_.end(), c.at, later), std::move(c));
    return;
  }
  size_t changed = held_.size();
  if (losses > 0) {
    double backoff = 0, rto = recovery.rto_min_ms;  // each lost copy after the first
    for (uint32_t i = 1; i < std::min(losses, 8u); ++i, rto *= 2) backoff += rto;
    if (!recovery.fast) {
      c.own = arrives + ms(recovery.rto_min_ms + backoff);
    } else {
      const bool others_in_flight = last_sent_ != Clock::time_point{} && sent - last_sent_ < ms(recovery.rtt_ms);
      const double probe = 2 * recovery.rtt_ms + (others_in_flight ? 2.0 : recovery.rto_min_ms);
      c.own = sent + ms(probe + recovery.rtt_ms / 2 + backoff);
      c.rack = ms(1.25 * recovery.rtt_ms + backoff);
      c.awaiting_rack = true;
    }
  } else {
    // An arrival behind holes: each is resent once the sender hears of it. Only the chunks
    // after the last arrival can be waiting, so the scan stops at the first that is not.
    for (size_t i = held_.size(); i-- > 0 && held_[i].awaiting_rack;) {
      held_[i].own = std::min(held_[i].own, arrives + held_[i].rack);
      held_[i].awaiting_rack = false;
      changed = i;
    }
  }
  last_sent_ = sent;
  held_.push_back(std::move(c));
  settle_from(std::min(changed, held_.size() - 1));
}

void FaultWire::settle_from(size_t i) {
  for (; i < held_.size(); ++i) held_[i].at = i == 0 ? held_[i].own : std::max(held_[i - 1].at, held_[i].own);
}

std::vector<uint8_t> FaultWire::take_front() {
  std::vector<uint8_t> bytes = std::move(held_.front().bytes);
  held_.pop_front();
  bytes_ -= bytes.size();
  return bytes;
}

}  // namespace shoal::net
