// Predicts, per worker and subnet, how long from now until a unit's result would be back:
// the smoothed round trip of that subnet (without the worker's own queueing, which it
// reports) with margins, plus the worker's backlog of work already sent. The backlog is
// re-derived on every reply from what is still outstanding, so errors cannot accumulate.
//
// Estimates age: without a new reply, a subnet's estimate (mean and deviation) moves halfway
// to what is typical of its recent replies every `half_life_ms`: the median of its last
// kRecent round trips, and their median distance from it. So a worker that was slow once (a
// stall, a retransmit) is tried again and re-measured, while one that is slow now, because
// its host is loaded, stays predicted slow; those recent replies themselves age ten times
// slower towards the fastest round trip seen, so that one slow for a while is not left out
// for good either. (Aging straight towards the fastest round trip, as this did before, made a
// seldom used subnet look idle and certain within seconds: the allocator took it as the
// plan's anchor, it came back late, and the cycle repeated; the README has the numbers.)
// Reports from the worker's
// heartbeats (its CPU load and clock speed, and how much work it has queued for others) make
// it predicted slower at once, before late replies would teach it.
// Also counts arrivals, for policies that adapt to load. Not thread-safe: one owner.
#ifndef SHOAL_LATENCY_MODEL_H_
#define SHOAL_LATENCY_MODEL_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "shoal/clock.h"

namespace shoal {

struct LatencyOptions {
  double margin_ms = 0.3;        // every prediction gets this added...
  double margin_fraction = 0.1;  // ...and this share of itself
  double smoothing = 0.2;        // weight of the newest round trip
  double deviation_smoothing = 0.25;  // weight of the newest |round trip - mean| (as TCP's RTTVAR)
  double deviations = 4;              // a pessimistic prediction adds this many deviations
  double rate_window_s = 1.0;    // arrivals are counted over about this long
  double half_life_ms = 1000;    // an estimate ages towards its recent typical this fast (0: never)
};

// The network between the master and a worker, as measured: the round trip of a small frame
// (heartbeats), and the time per KiB beyond it (requests, net of the worker's own time).
struct LinkEstimate {
  double rtt_ms = -1;      // -1: not measured yet
  double ms_per_kib = -1;  // -1: not measured yet; 0: too fast to tell from the round trip
};

// What a worker's heartbeat says about it (net/messages.h's ResourceReport, in model terms).
struct WorkerReport {
  double slowness = 1;     // how much slower than at full speed: load per core (>= 1) / clock ratio
  uint32_t queued = 0;     // requests waiting at the worker, everyone's
};

class LatencyModel {
 public:
  LatencyModel(const std::vector<uint32_t>& subnets_per_worker, LatencyOptions options);

  size_t workers() const { return workers_.size(); }
  uint32_t subnets(uint32_t w) const { return static_cast<uint32_t>(workers_[w].round_trip_ms.size()); }
  bool alive(uint32_t w) const { return workers_[w].alive; }
  // Worker w now serves n subnets, none of them observed yet (a worker that joined late).
  void set_subnets(uint32_t w, uint32_t n);
  void set_alive(uint32_t w, bool alive, TimeUs now);

  // The smoothed round trip without queueing, margins included; infinity until observed.
  double compute_ms(uint32_t w, uint32_t s) const;
  double backlog_ms(uint32_t w, TimeUs now) const;
  double predict_ms(uint32_t w, uint32_t s, TimeUs now) const { return compute_ms(w, s) + backlog_ms(w, now); }
  // As predict_ms, plus `deviations` smoothed deviations of the round trip: how late a unit
  // may come back on a jittery worker. For work that must not be late (the insurance).
  double pessimistic_ms(uint32_t w, uint32_t s, TimeUs now) const;
  uint32_t in_flight(uint32_t w) const { return workers_[w].in_flight; }

  void observe(uint32_t w, uint32_t s, double round_trip_ms);
  // Decays every estimate not observed since the last call (see above); call as time passes.
  void age(TimeUs now);
  void report(uint32_t w, const WorkerReport& report, TimeUs now);
  // A small frame's round trip over the link (a heartbeat); carrying `bytes` both ways, it
  // also bounds the time per KiB, so a link that recovers shows before a large transfer.
  void observe_link_rtt(uint32_t w, double ms, size_t bytes = 0);
  // A request's time on the link (its round trip less the worker's time) with `bytes` both
  // ways: the time per KiB beyond the link's round trip; under 1 KiB, only a bound on it.
  void observe_transfer(uint32_t w, double network_ms, size_t bytes);
  LinkEstimate link(uint32_t w) const { return workers_[w].link; }
  // Work sent to w (`share` of subnet s: a segment's); returns what it reserves of w's time,
  // to hand back to done().
  double sent(uint32_t w, uint32_t s, TimeUs now, double share = 1);
  void done(uint32_t w, double reserved_ms, TimeUs now);

  void arrival(TimeUs now);
  double arrivals_per_s(TimeUs now) const;

 private:
  static constexpr size_t kRecent = 16;
  static constexpr double kTypicalAgesSlower = 10;
  struct Worker {
    // All three as if the worker ran at full speed (divided by its slowness when observed).
    std::vector<double> round_trip_ms;  // smoothed, infinity until observed
    std::vector<double> deviation_ms;   // smoothed |round trip - mean|
    std::vector<double> best_ms;        // the fastest round trip seen
    std::vector<double> typical_ms;     // the median of the last kRecent round trips (aged)
    std::vector<double> typical_dev_ms; // their median distance from it, as a deviation (-1: under 4)
    std::vector<std::array<double, kRecent>> recent;  // the last kRecent, oldest overwritten
    std::vector<uint32_t> seen;         // round trips observed
    std::vector<TimeUs> aged_at;        // when age() last decayed it
    std::vector<bool> fresh;            // observed since the last age()
    double slowness = 1;                // as last reported
    LinkEstimate link;
    TimeUs others_until = 0;            // the worker is busy with other masters' work until then
    bool alive = true;
    uint32_t in_flight = 0;
    double outstanding_ms = 0;
    TimeUs busy_until = 0;
  };
  LatencyOptions options_;
  std::vector<Worker> workers_;
  double rate_ = 0;  // arrivals per second, decayed
  TimeUs last_arrival_ = 0;
};

}  // namespace shoal

#endif  // SHOAL_LATENCY_MODEL_H_
