#include "shoal/latency_model.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace shoal {

LatencyModel::LatencyModel(const std::vector<uint32_t>& subnets, LatencyOptions options) : options_(options) {
  workers_.resize(subnets.size());
  for (uint32_t w = 0; w < subnets.size(); ++w) set_subnets(w, subnets[w]);
}

void LatencyModel::set_subnets(uint32_t w, uint32_t n) {
  Worker& k = workers_[w];
  k.round_trip_ms.assign(n, std::numeric_limits<double>::infinity());
  k.deviation_ms.assign(n, 0.0);
  k.typical_ms.assign(n, std::numeric_limits<double>::infinity());
  k.best_ms.assign(n, std::numeric_limits<double>::infinity());
  k.typical_dev_ms.assign(n, 0.0);
  k.recent.assign(n, {});
  k.seen.assign(n, 0);
  k.aged_at.assign(n, 0);
  k.fresh.assign(n, true);
}

void LatencyModel::set_alive(uint32_t w, bool alive, TimeUs now) {
  Worker& k = workers_[w];
  k.alive = alive;
  k.in_flight = 0;  // what was in flight died with the connection
  k.outstanding_ms = 0;
  k.busy_until = now;
}

double LatencyModel::compute_ms(uint32_t w, uint32_t s) const {
  const Worker& k = workers_[w];
  const double e = k.round_trip_ms[s] * k.slowness;
  return e * (1.0 + options_.margin_fraction) + options_.margin_ms;
}

double LatencyModel::backlog_ms(uint32_t w, TimeUs now) const {
  const Worker& k = workers_[w];
  return std::max<double>(0.0, ms_from_us(std::max(k.busy_until, k.others_until) - now));
}

void LatencyModel::age(TimeUs now) {
  if (options_.half_life_ms <= 0) return;
  for (Worker& k : workers_) {
    for (size_t s = 0; s < k.round_trip_ms.size(); ++s) {
      if (std::isinf(k.round_trip_ms[s])) continue;
      if (k.fresh[s]) {  // observed since the last call: decay starts now
        k.fresh[s] = false;
        k.aged_at[s] = now;
        continue;
      }
      if (now <= k.aged_at[s]) continue;
      const double keep = std::exp2(-ms_from_us(now - k.aged_at[s]) / options_.half_life_ms);
      // The recent replies themselves grow old, ten times slower: what they say goes towards
      // the fastest ever seen, so a worker slow for a while is tried again in the end.
      const double keep_typical = std::exp2(-ms_from_us(now - k.aged_at[s]) / (kTypicalAgesSlower * options_.half_life_ms));
      k.typical_ms[s] = k.best_ms[s] + (k.typical_ms[s] - k.best_ms[s]) * keep_typical;
      k.round_trip_ms[s] = k.typical_ms[s] + (k.round_trip_ms[s] - k.typical_ms[s]) * keep;
      if (k.typical_dev_ms[s] >= 0) {
        k.typical_dev_ms[s] *= keep_typical;
        k.deviation_ms[s] = k.typical_dev_ms[s] + (k.deviation_ms[s] - k.typical_dev_ms[s]) * keep;
      }
      k.aged_at[s] = now;
    }
  }
}

namespace {

// `bytes` crossed the link (both ways together) in `ms`: however much of it was the round
// trip, no KiB took longer than ms per KiB. A message too small to measure the rate still
// bounds it, so a link that recovers shows at its first message.
void bound_rate(LinkEstimate& l, double ms, size_t bytes) {
  if (bytes == 0) return;
  const double bound = std::max(0.0, ms) / (static_cast<double>(bytes) / 1024.0);
  if (l.ms_per_kib > bound) l.ms_per_kib = bound;
}

}  // namespace

void LatencyModel::observe_link_rtt(uint32_t w, double ms, size_t bytes) {
  LinkEstimate& l = workers_[w].link;
  l.rtt_ms = l.rtt_ms < 0 ? ms : (1.0 - options_.smoothing) * l.rtt_ms + options_.smoothing * ms;
  bound_rate(l, ms, bytes);
}

void LatencyModel::observe_transfer(uint32_t w, double network_ms, size_t bytes) {
  LinkEstimate& l = workers_[w].link;
  if (l.rtt_ms < 0) return;  // nothing to subtract yet
  if (bytes < 1024) return bound_rate(l, network_ms, bytes);  // too small to tell the rate itself
  const double per_kib = std::max(0.0, network_ms - l.rtt_ms) / (static_cast<double>(bytes) / 1024.0);
  l.ms_per_kib = l.ms_per_kib < 0 ? per_kib : (1.0 - options_.smoothing) * l.ms_per_kib + options_.smoothing * per_kib;
}

void LatencyModel::report(uint32_t w, const WorkerReport& r, TimeUs now) {
  Worker& k = workers_[w];
  k.slowness = std::max(1.0, r.slowness);
  // Work queued beyond what this master has in flight there is someone else's: it runs
  // first. Priced at the worker's fastest subnet, so the guess errs on the short side.
  double fastest = std::numeric_limits<double>::infinity();
  for (double e : k.round_trip_ms) fastest = std::min(fastest, e * k.slowness);
  const uint32_t others = r.queued > k.in_flight ? r.queued - k.in_flight : 0;
  k.others_until = others && !std::isinf(fastest) ? now + us_from_ms(others * fastest) : 0;
}

double LatencyModel::pessimistic_ms(uint32_t w, uint32_t s, TimeUs now) const {
  return predict_ms(w, s, now) + options_.deviations * workers_[w].deviation_ms[s] * workers_[w].slowness;
}

void LatencyModel::observe(uint32_t w, uint32_t s, double ms) {
  double& e = workers_[w].round_trip_ms[s];
  double& d = workers_[w].deviation_ms[s];
  Worker& k = workers_[w];
  ms /= k.slowness;  // estimates are kept as if at full speed; compute_ms scales them back
  k.fresh[s] = true;
  k.best_ms[s] = std::min(k.best_ms[s], ms);
  // What is typical of the recent replies, for aging: their median and median distance from
  // it (times 1.25: about the mean distance, which deviation_ms smooths, for a normal tail).
  k.recent[s][k.seen[s]++ % kRecent] = ms;
  const size_t n = std::min<size_t>(k.seen[s], kRecent);
  std::array<double, kRecent> v = k.recent[s];
  std::nth_element(v.begin(), v.begin() + n / 2, v.begin() + n);
  k.typical_ms[s] = v[n / 2];
  for (size_t i = 0; i < n; ++i) v[i] = std::abs(v[i] - k.typical_ms[s]);
  std::nth_element(v.begin(), v.begin() + n / 2, v.begin() + n);
  k.typical_dev_ms[s] = n >= 4 ? 1.25 * v[n / 2] : -1;  // -1: too few to tell; aging keeps the deviation
  if (std::isinf(e)) {
    e = ms;
    d = ms / 2;  // as TCP starts its RTTVAR: unsure until more replies come
    return;
  }
  d = (1.0 - options_.deviation_smoothing) * d + options_.deviation_smoothing * std::abs(ms - e);
  e = (1.0 - options_.smoothing) * e + options_.smoothing * ms;
}

double LatencyModel::sent(uint32_t w, uint32_t s, TimeUs now, double share) {
  Worker& k = workers_[w];
  const double e = k.round_trip_ms[s] * k.slowness * share;
  const double reserved = std::isinf(e) ? 0.0 : e;
  ++k.in_flight;
  k.outstanding_ms += reserved;
  k.busy_until = std::max(k.busy_until, now) + us_from_ms(reserved);
  return reserved;
}

void LatencyModel::done(uint32_t w, double reserved_ms, TimeUs now) {
  Worker& k = workers_[w];
  if (k.in_flight > 0) --k.in_flight;
  k.outstanding_ms = k.in_flight == 0 ? 0.0 : std::max(0.0, k.outstanding_ms - reserved_ms);
  k.busy_until = now + us_from_ms(k.outstanding_ms);
}

void LatencyModel::arrival(TimeUs now) {
  // An exponentially decayed count: each arrival adds 1/window, and the sum decays with the
  // window's time constant, so a steady rate R reads R.
  const double window = options_.rate_window_s;
  if (last_arrival_ != 0) rate_ *= std::exp(-ms_from_us(now - last_arrival_) / 1000.0 / window);
  rate_ += 1.0 / window;
  last_arrival_ = now;
}

double LatencyModel::arrivals_per_s(TimeUs now) const {
  if (last_arrival_ == 0) return 0.0;
  return rate_ * std::exp(-ms_from_us(now - last_arrival_) / 1000.0 / options_.rate_window_s);
}

}  // namespace shoal
