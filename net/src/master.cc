#include "shoal/net/master.h"

#include <algorithm>
#include <cmath>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <limits>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace shoal::net {
namespace {

using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

struct Event {
  enum Kind { kResult, kError, kDisconnected } kind = kResult;
  uint32_t worker = 0;
  uint64_t id = 0;
  std::vector<float> probabilities;
  double queue_ms = 0;  // how long the worker says it sat in its queue
  Clock::time_point at;
};

struct Pending {
  uint32_t worker = 0, subnet = 0;
  uint64_t input = 0;  // which infer() call sent it
  Clock::time_point sent;
  double estimate_ms = 0;  // predicted round trip when sent
};

}  // namespace

struct Master::Impl {
  struct Link {
    std::string address;
    WorkerInfo info;
    std::mutex mu;  // guards connection for writers and the reconnector
    std::shared_ptr<Connection> connection;
    std::thread reader;
    bool alive = false;  // as the infer thread sees it
    // Queueing: the worker is predicted busy until busy_until. Re-derived on every reply from
    // the estimates of what is still outstanding, so errors in them cannot accumulate.
    Clock::time_point busy_until;
    double outstanding_ms = 0;
  };

  MasterOptions options;
  std::vector<std::unique_ptr<Link>> links;
  uint32_t classes = 0;
  size_t image_bytes = 0;

  std::mutex events_mu;
  std::condition_variable events_cv;
  std::deque<Event> events;
  std::vector<bool> reconnected;  // set by the reconnector, taken by the infer thread

  bool stopping = false;
  std::mutex stop_mu;
  std::condition_variable stop_cv;
  std::thread reconnector;

  std::unique_ptr<LatencyEstimator> estimator;
  std::unique_ptr<EnsembleProfile> profile;
  std::unique_ptr<Policy> policy;
  std::unordered_map<uint64_t, Pending> pending;
  uint64_t next_id = 1, input_seq = 0;
  MasterCounters counters;
  std::vector<bool> alive_scratch;
  std::vector<std::vector<double>> predicted_scratch;

  void post(Event e) {
    std::lock_guard<std::mutex> lock(events_mu);
    events.push_back(std::move(e));
    events_cv.notify_one();
  }

  void reader_loop(uint32_t w, std::shared_ptr<Connection> connection) {
    Frame frame;
    for (;;) {
      if (!read_frame(*connection, options.limits, &frame).is_ok()) break;
      Event e;
      e.worker = w;
      e.id = frame.header.request_id;
      e.at = Clock::now();
      if (frame.header.type == wire::MessageType::InferResult) {
        const wire::InferResult* r = verified_payload<wire::InferResult>(frame);
        if (!r || r->probabilities()->size() != classes) {
          e.kind = Event::kError;  // a reply we cannot use counts as a failure
        } else {
          e.probabilities.assign(r->probabilities()->begin(), r->probabilities()->end());
          e.queue_ms = r->queue_us() / 1000.0;
        }
      } else if (frame.header.type == wire::MessageType::Error) {
        e.kind = Event::kError;
      } else {
        continue;  // heartbeats and anything newer: nothing to act on here
      }
      post(std::move(e));
    }
    connection->shutdown();
    Event e;
    e.kind = Event::kDisconnected;
    e.worker = w;
    e.at = Clock::now();
    post(std::move(e));
  }

  // Connects and shakes hands; on success the link is live and has a reader.
  Status open(uint32_t w) {
    Link& link = *links[w];
    auto c = tcp_connect(link.address, options.connect_timeout_ms);
    if (!c.is_ok()) return c.status();
    std::shared_ptr<Connection> connection(std::move(c.value()));
    connection->set_key(options.key);
    WorkerInfo hello;
    hello.software = "shoal 0.1.0";
    SHOAL_RETURN_IF_ERROR(send_hello(*connection, hello));
    Frame frame;
    SHOAL_RETURN_IF_ERROR(read_frame(*connection, options.limits, &frame));
    if (frame.header.type == wire::MessageType::Error) {
      wire::ErrorCode code;
      return parse_error(frame, &code);
    }
    if (frame.header.type != wire::MessageType::Hello) {
      return Status(StatusCode::kCorrupt, link.address + " did not answer Hello");
    }
    auto info = parse_hello(frame);
    if (!info.is_ok()) return info.status();
    if (!link.info.subnets.empty()) {  // a reconnect: the worker must serve what it served
      bool same = info->subnets.size() == link.info.subnets.size();
      for (size_t s = 0; same && s < info->subnets.size(); ++s) same = info->subnets[s].name == link.info.subnets[s].name;
      if (!same) return Status(StatusCode::kInvalidArgument, link.address + " came back serving other subnets");
    }
    if (info->subnets.empty()) return Status(StatusCode::kInvalidArgument, link.address + " serves no subnets");
    if (link.reader.joinable()) link.reader.join();  // the old reader has already ended
    std::lock_guard<std::mutex> lock(link.mu);
    link.info = info.value();
    link.connection = connection;
    link.reader = std::thread([this, w, connection] { reader_loop(w, connection); });
    return Status::ok();
  }

  void reconnect_loop() {
    std::unique_lock<std::mutex> lock(stop_mu);
    while (!stop_cv.wait_for(lock, std::chrono::milliseconds(300), [&] { return stopping; })) {
      lock.unlock();
      for (uint32_t w = 0; w < links.size(); ++w) {
        bool down;
        {
          std::lock_guard<std::mutex> l(links[w]->mu);
          down = !links[w]->connection;
        }
        if (down && open(w).is_ok()) {
          std::lock_guard<std::mutex> l(events_mu);
          reconnected[w] = true;
        }
      }
      lock.lock();
    }
  }

  void mark_down(uint32_t w) {
    Link& link = *links[w];
    std::lock_guard<std::mutex> lock(link.mu);
    if (link.connection) link.connection->shutdown();
    link.connection.reset();
  }

  bool send(uint32_t w, uint32_t subnet, const uint8_t* image, double budget_ms, Clock::time_point now) {
    Link& link = *links[w];
    const uint64_t id = next_id++;
    Status st;
    {
      std::lock_guard<std::mutex> lock(link.mu);
      if (!link.connection) return false;
      st = send_infer_request(*link.connection, id, link.info.subnets[subnet].name,
                              static_cast<uint32_t>(std::max(0.0, budget_ms) * 1000.0), image, image_bytes);
    }
    if (!st.is_ok()) return false;  // the reader will report the disconnect
    const double estimate = estimator->estimate(w, subnet);
    const double ms = std::isinf(estimate) ? 0.0 : estimate;
    pending[id] = {w, subnet, input_seq, now, ms};
    link.outstanding_ms += ms;
    link.busy_until = std::max(link.busy_until, now) + std::chrono::microseconds(static_cast<long>(ms * 1000));
    return true;
  }

  // Folds one event into the state; returns the pending entry it answered, if any.
  bool take(const Event& e, Pending* answered) {
    if (e.kind == Event::kDisconnected) {
      Link& link = *links[e.worker];
      if (link.alive) ++counters.disconnects;
      link.alive = false;
      link.outstanding_ms = 0;
      mark_down(e.worker);
      return false;
    }
    auto it = pending.find(e.id);
    if (it == pending.end() || it->second.worker != e.worker) return false;
    *answered = it->second;
    pending.erase(it);
    Link& link = *links[e.worker];
    link.outstanding_ms = std::max(0.0, link.outstanding_ms - answered->estimate_ms);
    link.busy_until = e.at + std::chrono::microseconds(static_cast<long>(link.outstanding_ms * 1000));
    if (e.kind == Event::kError) {
      ++counters.worker_errors;
    } else {
      // The estimate is the round trip without the worker's queue: the queue is predicted
      // separately from the requests outstanding (busy_until), and counting it in both
      // would inflate a subnet's estimate for as long as it once waited behind others.
      estimator->observe(e.worker, answered->subnet, std::max(0.0, ms_between(answered->sent, e.at) - e.queue_ms));
    }
    return true;
  }

  void refresh_alive() {
    std::lock_guard<std::mutex> lock(events_mu);
    for (uint32_t w = 0; w < links.size(); ++w) {
      if (reconnected[w]) {
        reconnected[w] = false;
        if (!links[w]->alive) ++counters.reconnects;
        links[w]->alive = true;
        links[w]->busy_until = Clock::now();
      }
    }
  }

  std::vector<std::vector<double>>& predict(Clock::time_point now) {
    for (uint32_t w = 0; w < links.size(); ++w) {
      const double backlog = std::max(0.0, ms_between(now, links[w]->busy_until));
      for (uint32_t s = 0; s < predicted_scratch[w].size(); ++s) {
        const double e = estimator->estimate(w, s);
        predicted_scratch[w][s] = e * (1.0 + options.margin_fraction) + options.margin_ms + backlog;
      }
      alive_scratch[w] = links[w]->alive;
    }
    return predicted_scratch;
  }

  // Sends `plan` and gathers results until all answered or the deadline; `replan` (may be
  // null) is asked for a new plan when every member failed and time is left.
  void gather(const Plan& plan, const uint8_t* image, Clock::time_point start, Clock::time_point deadline,
              const std::function<Plan(double)>& replan, Prediction* out, std::vector<std::vector<float>>* results) {
    ++input_seq;
    uint32_t outstanding = 0;
    auto dispatch = [&](const Plan& p) {
      const auto now = Clock::now();
      for (const Choice& c : p) {
        if (links[c.worker]->alive && send(c.worker, c.subnet, image, ms_between(now, deadline), now)) {
          ++outstanding;
        } else {
          out->dropped.push_back(c);
        }
      }
    };
    dispatch(plan);
    std::unique_lock<std::mutex> lock(events_mu);
    for (;;) {
      if (outstanding == 0) {
        if (!out->used.empty() || !replan || Clock::now() >= deadline) break;
        lock.unlock();
        ++counters.replans;
        const Plan again = replan(ms_between(Clock::now(), deadline));
        dispatch(again);
        lock.lock();
        if (outstanding == 0) break;
      }
      if (!events_cv.wait_until(lock, deadline, [&] { return !events.empty(); })) break;
      const Event e = std::move(events.front());
      events.pop_front();
      lock.unlock();
      Pending p;
      if (e.kind == Event::kDisconnected) {  // its requests will never come back
        for (auto it = pending.begin(); it != pending.end();) {
          if (it->second.worker != e.worker) {
            ++it;
            continue;
          }
          if (it->second.input == input_seq) {
            --outstanding;
            out->dropped.push_back({it->second.worker, it->second.subnet});
          }
          it = pending.erase(it);
        }
        take(e, &p);
      } else if (take(e, &p)) {
        if (p.input != input_seq) {
          if (e.kind == Event::kResult) ++counters.late_replies;
        } else {
          --outstanding;
          if (e.kind == Event::kResult && e.at <= deadline) {
            out->used.push_back({p.worker, p.subnet});
            results->push_back(std::move(e.probabilities));
          } else {
            out->dropped.push_back({p.worker, p.subnet});
          }
        }
      }
      lock.lock();
    }
    lock.unlock();
    for (const auto& [id, p] : pending) {  // still out: late by now
      if (p.input == input_seq) out->dropped.push_back({p.worker, p.subnet});
    }
    out->latency_ms = ms_between(start, Clock::now());
  }

  // Takes whatever has arrived since the last input (late replies, disconnects).
  void drain() {
    std::unique_lock<std::mutex> lock(events_mu);
    while (!events.empty()) {
      const Event e = std::move(events.front());
      events.pop_front();
      lock.unlock();
      Pending p;
      if (take(e, &p) && e.kind == Event::kResult) ++counters.late_replies;
      lock.lock();
    }
  }
};

Master::Master(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Master::~Master() {
  {
    std::lock_guard<std::mutex> lock(impl_->stop_mu);
    impl_->stopping = true;
    impl_->stop_cv.notify_all();
  }
  if (impl_->reconnector.joinable()) impl_->reconnector.join();
  for (auto& link : impl_->links) {
    {
      std::lock_guard<std::mutex> lock(link->mu);
      if (link->connection) link->connection->shutdown();
    }
    if (link->reader.joinable()) link->reader.join();
  }
}

Result<std::unique_ptr<Master>> Master::connect(const MasterOptions& options) {
  if (options.addresses.empty()) return Status(StatusCode::kInvalidArgument, "no workers given");
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  for (const std::string& a : options.addresses) {
    impl->links.push_back(std::make_unique<Impl::Link>());
    impl->links.back()->address = a;
  }
  std::unique_ptr<Master> master(new Master(std::move(impl)));
  Impl& m = *master->impl_;
  std::vector<uint32_t> subnets;
  for (uint32_t w = 0; w < m.links.size(); ++w) {
    const Status st = m.open(w);
    if (!st.is_ok()) return Status(st.code(), "worker " + m.links[w]->address + ": " + st.message());
    const WorkerInfo& info = m.links[w]->info;
    const WorkerInfo& first = m.links[0]->info;
    if (info.input_h != first.input_h || info.input_w != first.input_w || info.input_c != first.input_c ||
        info.classes != first.classes) {
      return Status(StatusCode::kInvalidArgument, "worker " + m.links[w]->address +
                                                      " takes other inputs or classes than " + m.links[0]->address);
    }
    m.links[w]->alive = true;
    subnets.push_back(static_cast<uint32_t>(info.subnets.size()));
    m.predicted_scratch.emplace_back(info.subnets.size());
  }
  m.classes = m.links[0]->info.classes;
  m.image_bytes = size_t{m.links[0]->info.input_h} * m.links[0]->info.input_w * m.links[0]->info.input_c;
  m.alive_scratch.assign(m.links.size(), true);
  m.reconnected.assign(m.links.size(), false);
  m.estimator = std::make_unique<LatencyEstimator>(subnets);
  m.reconnector = std::thread([&m] { m.reconnect_loop(); });
  return master;
}

size_t Master::workers() const { return impl_->links.size(); }
const WorkerInfo& Master::worker(uint32_t w) const { return impl_->links[w]->info; }
bool Master::alive(uint32_t w) const { return impl_->links[w]->alive; }
MasterCounters Master::counters() const { return impl_->counters; }
const EnsembleProfile& Master::profile() const { return *impl_->profile; }

std::vector<std::vector<double>> Master::predictions() const { return impl_->predict(Clock::now()); }

Status Master::calibrate(const Images& images, const std::vector<uint8_t>& labels, uint32_t first, uint32_t count,
                         const std::function<void(uint32_t)>& progress) {
  Impl& m = *impl_;
  if (images.h != m.links[0]->info.input_h || images.w != m.links[0]->info.input_w ||
      images.c != m.links[0]->info.input_c) {
    return Status(StatusCode::kInvalidArgument, "calibration images do not have the workers' input size");
  }
  if (first + count > images.count || labels.size() < images.count) {
    return Status(StatusCode::kInvalidArgument, "not enough calibration images");
  }
  std::vector<std::vector<std::vector<float>>> probs(m.links.size());
  std::vector<std::vector<uint64_t>> macs(m.links.size());
  uint32_t most = 0;
  for (uint32_t w = 0; w < m.links.size(); ++w) {
    probs[w].assign(m.links[w]->info.subnets.size(), std::vector<float>(size_t{count} * m.classes));
    for (const SubnetSummary& s : m.links[w]->info.subnets) macs[w].push_back(s.macs);
    most = std::max(most, static_cast<uint32_t>(m.links[w]->info.subnets.size()));
  }
  const std::vector<uint8_t> calibration_labels(labels.begin() + first, labels.begin() + first + count);
  for (uint32_t i = 0; i < count; ++i) {
    for (uint32_t s = 0; s < most; ++s) {
      Plan plan;
      for (uint32_t w = 0; w < m.links.size(); ++w) {
        if (s < m.links[w]->info.subnets.size()) plan.push_back({w, s});
      }
      m.drain();
      m.refresh_alive();
      Prediction p;
      std::vector<std::vector<float>> results;
      const auto start = Clock::now();
      m.gather(plan, images.image(first + i), start, start + std::chrono::seconds(10), nullptr, &p, &results);
      if (!p.dropped.empty()) {
        return Status(StatusCode::kIo, "calibration failed: worker " + m.links[p.dropped[0].worker]->address +
                                           " did not answer (" + std::to_string(m.counters.worker_errors) + " errors)");
      }
      for (size_t k = 0; k < p.used.size(); ++k) {
        std::copy(results[k].begin(), results[k].end(),
                  probs[p.used[k].worker][p.used[k].subnet].begin() + size_t{i} * m.classes);
      }
    }
    if (progress) progress(i + 1);
  }
  auto profile = EnsembleProfile::measure(probs, macs, calibration_labels, m.classes);
  if (!profile.is_ok()) return profile.status();
  m.profile = std::make_unique<EnsembleProfile>(std::move(profile.value()));
  return Status::ok();
}

Status Master::use_profile(const AccuracyProfile& profile) {
  Impl& m = *impl_;
  if (!m.profile) return Status(StatusCode::kInvalidArgument, "calibrate before loading an accuracy profile");
  std::vector<ServedModel> served;
  for (const auto& link : m.links) {
    ServedModel s{link->info.model_name, {}};
    for (const SubnetSummary& sub : link->info.subnets) s.subnets.push_back(sub.name);
    served.push_back(std::move(s));
  }
  auto table = profile_for_workers(profile, served);
  if (!table.is_ok()) return table.status();
  m.profile = std::make_unique<EnsembleProfile>(std::move(table.value()));
  return Status::ok();
}

Status Master::set_policy(const std::string& name, double static_target_ms) {
  Impl& m = *impl_;
  if (!m.profile) return Status(StatusCode::kInvalidArgument, "calibrate before choosing a policy");
  m.drain();
  m.refresh_alive();
  const auto predicted = m.predict(Clock::now());
  if (name == "adaensemble") {
    m.policy = make_adaensemble_policy(*m.profile);
  } else if (name == "dynamic") {
    m.policy = make_dynamic_policy(*m.profile, predicted, m.alive_scratch);
  } else if (name == "static") {
    m.policy = make_static_policy(*m.profile, predicted, static_target_ms);
  } else {
    return Status(StatusCode::kInvalidArgument, "unknown policy '" + name + "'; choose adaensemble, dynamic or static");
  }
  return Status::ok();
}

Prediction Master::infer(const uint8_t* image, double budget_ms) {
  Impl& m = *impl_;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::microseconds(static_cast<long>(budget_ms * 1000.0));
  m.drain();
  m.refresh_alive();
  auto plan_for = [&](double budget) {
    PlanRequest request{budget, &m.predict(Clock::now()), &m.alive_scratch};
    return m.policy->plan(request);
  };
  Prediction out;
  const auto t0 = Clock::now();
  const Plan plan = plan_for(budget_ms);
  out.plan_us = ms_between(t0, Clock::now()) * 1000.0;
  std::vector<std::vector<float>> results;
  m.gather(plan, image, start, deadline, plan_for, &out, &results);
  if (!results.empty()) {
    std::vector<const float*> members;
    for (const auto& r : results) members.push_back(r.data());
    out.probabilities.resize(m.classes);
    average_probabilities(members, m.classes, out.probabilities.data());
    out.label = static_cast<int>(std::max_element(out.probabilities.begin(), out.probabilities.end()) -
                                 out.probabilities.begin());
  }
  return out;
}

}  // namespace shoal::net
