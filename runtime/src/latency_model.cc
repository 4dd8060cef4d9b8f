#include "shoal/latency_model.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace shoal {

LatencyModel::LatencyModel(const std::vector<uint32_t>& subnets, LatencyOptions options) : options_(options) {
  for (uint32_t n : subnets) {
    Worker w;
    w.round_trip_ms.assign(n, std::numeric_limits<double>::infinity());
    w.deviation_ms.assign(n, 0.0);
    workers_.push_back(std::move(w));
  }
}

void LatencyModel::set_alive(uint32_t w, bool alive, TimeUs now) {
  Worker& k = workers_[w];
  k.alive = alive;
  k.in_flight = 0;  // what was in flight died with the connection
  k.outstanding_ms = 0;
  k.busy_until = now;
}

double LatencyModel::compute_ms(uint32_t w, uint32_t s) const {
  const double e = workers_[w].round_trip_ms[s];
  return e * (1.0 + options_.margin_fraction) + options_.margin_ms;
}

double LatencyModel::backlog_ms(uint32_t w, TimeUs now) const {
  return std::max<double>(0.0, ms_from_us(workers_[w].busy_until - now));
}

double LatencyModel::pessimistic_ms(uint32_t w, uint32_t s, TimeUs now) const {
  return predict_ms(w, s, now) + options_.deviations * workers_[w].deviation_ms[s];
}

void LatencyModel::observe(uint32_t w, uint32_t s, double ms) {
  double& e = workers_[w].round_trip_ms[s];
  double& d = workers_[w].deviation_ms[s];
  if (std::isinf(e)) {
    e = ms;
    d = ms / 2;  // as TCP starts its RTTVAR: unsure until more replies come
    return;
  }
  d = (1.0 - options_.deviation_smoothing) * d + options_.deviation_smoothing * std::abs(ms - e);
  e = (1.0 - options_.smoothing) * e + options_.smoothing * ms;
}

double LatencyModel::sent(uint32_t w, uint32_t s, TimeUs now) {
  Worker& k = workers_[w];
  const double e = k.round_trip_ms[s];
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
