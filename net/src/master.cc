#include "shoal/net/master.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "shoal/net/worker_link.h"

namespace shoal::net {
namespace {
constexpr const char* kLocalAddress = "master-local";
}

struct Master::Impl final : UnitSender {
  MasterOptions options;
  MemoryNetwork local_network;
  std::unique_ptr<WorkerServer> local_server;
  std::vector<std::unique_ptr<WorkerLink>> links;
  std::vector<bool> is_local;

  mutable std::mutex mu;  // everything below
  WorkerInfo shape;                      // the first worker's: input shape and classes (set once, at connect)
  std::vector<WorkerInfo> infos;         // per worker, from its first handshake (none yet: no subnets)
  std::vector<std::string> members;      // grow as workers join, never reorder
  std::vector<std::vector<std::string>> member_subnets;
  std::vector<WorkerRole> roles;         // members numbered as `members`
  // The members and subnets the accuracy profile numbers (its table aside), to place a worker
  // that joins; null: no profile yet.
  std::unique_ptr<AccuracyProfile> profiled;
  std::vector<bool> refused;             // answered with other inputs or classes: never dialled again
  std::vector<ResourceReport> reports;   // per worker: its last heartbeat's
  std::vector<bool> reported;
  std::vector<TimeUs> changed_at;        // when it last went up or down (the start, until then)
  TimeUs started = 0;
  std::vector<uint32_t> dial_failures;   // per worker never up yet: failed dials in a row
  std::vector<TimeUs> next_dial;         // ...and when to dial it next
  std::condition_variable timer_cv;  // the timer thread's alone
  std::condition_variable stop_cv;   // the heartbeat and reconnect threads wait on it for stopping
  TimeUs timer_wakes_at = kNever;    // when the sleeping timer thread wakes (0: it is awake)
  std::unique_ptr<Orchestrator> orchestrator;
  std::vector<bool> up;
  std::vector<TimeUs> last_heard;  // per worker: when its last frame came
  std::vector<std::pair<uint64_t, TimeUs>> heartbeat_sent;  // per worker: the last heartbeat's id and time
  std::vector<float> probabilities;  // a reply's, over every class (or a segment's tensor)
  std::shared_ptr<const SegmentCatalog> segments;  // the local model's cuts, when workers share it
  EncodedTensor encoded;             // a segment request's input tensor
  std::vector<EncodedTensor> share_inputs;  // a share request's, reused
  std::vector<const EncodedTensor*> share_views;
  uint64_t disconnects = 0, reconnects = 0, silent_drops = 0, joins = 0;
  std::vector<bool> dropped_for_silence;  // per worker: the heartbeat thread dropped it (under mu)
  bool stopping = false;
  std::thread timer, reconnector, heartbeat;

  bool send(uint64_t id, const Unit& u, const std::vector<uint8_t>& image, const std::vector<float>* tensor,
            const PartitionExecutor* gathered, double budget_ms) override {
    WorkerLink& link = *links[u.worker];
    if (u.share()) return send_share(link, id, u, *gathered, budget_ms);
    if (!u.segment()) return link.send_request(id, u.subnet, budget_ms, image.data(), image.size()).is_ok();
    // The orchestrator checked the cuts against the catalog, whose numbers are the worker's
    // (it holds the same model file).
    SegmentRequest segment{u.from, u.to};
    if (u.from != 0) {
      encode_tensor(tensor->data(), tensor->size(), wire::TensorEncoding::F32, &encoded);
      segment.input = &encoded;
    }
    return link.send_segment(id, u.subnet, budget_ms, segment, image.data(), image.size()).is_ok();
  }

  // A share of the partition: its stage's inputs, whole, as f32; its slices come back so.
  bool send_share(WorkerLink& link, uint64_t id, const Unit& u, const PartitionExecutor& gathered, double budget_ms) {
    const PartitionStage& st = gathered.plan().stages[static_cast<size_t>(u.share_stage)];
    share_inputs.resize(std::max(share_inputs.size(), st.inputs.size()));
    share_views.clear();
    for (size_t i = 0; i < st.inputs.size(); ++i) {
      const std::vector<float>& whole = gathered.whole(st.inputs[i]);
      encode_tensor(whole.data(), whole.size(), wire::TensorEncoding::F32, &share_inputs[i]);
      share_views.push_back(&share_inputs[i]);
    }
    const ShareRequest share = share_request(st, u.part, share_views.data(), wire::TensorEncoding::F32);
    return link.send_share(id, u.subnet, budget_ms, share).is_ok();
  }

  void on_frame(uint32_t w, const Frame& frame) {
    const uint64_t id = frame.header.request_id;
    std::lock_guard<std::mutex> lock(mu);
    last_heard[w] = steady_clock().now();
    if (!orchestrator) return;  // still connecting: nothing was asked yet
    if (frame.header.type == wire::MessageType::InferResult) {
      const wire::InferResult* r = verified_payload<wire::InferResult>(frame);
      const size_t expected = orchestrator->expected_values(id);
      if (r && (r->output()    ? result_tensor(*r, expected, &probabilities)
                : r->outputs() ? result_share_outputs(*r, expected, &probabilities)
                               : result_probabilities(*r, shape.classes, &probabilities))
                   .is_ok()) {
        orchestrator->on_result(id, probabilities.data(), probabilities.size(), r->queue_us() / 1000.0,
                                r->compute_us() / 1000.0);
      } else {
        orchestrator->on_failure(id);  // a reply we cannot use counts as a failure
      }
    } else if (frame.header.type == wire::MessageType::Error) {
      orchestrator->on_failure(id);
    } else if (frame.header.type == wire::MessageType::Heartbeat) {
      const Result<ResourceReport> r = parse_heartbeat(frame);
      if (!r.is_ok()) return;
      reports[w] = r.value();
      reported[w] = true;
      if (heartbeat_sent[w].first == id) {
        orchestrator->latency().observe_link_rtt(
            w, std::max(0.0, ms_from_us(last_heard[w] - heartbeat_sent[w].second) - r->service_us / 1000.0));
      }
      WorkerReport report;
      report.slowness = std::max(1.0f, r->cpu_load) / std::max(0.05f, r->clock_ratio);
      report.queued = r->queue_length;
      orchestrator->latency().report(w, report, steady_clock().now());
      return;
    } else {
      return;  // anything newer: nothing to act on here
    }
    poke_timer();
  }

  // Wakes the timer thread only when something now falls due before it would wake anyway
  // (a wake-up per request costs more than the rest of the master's work).
  void poke_timer() {
    if (orchestrator && orchestrator->next_timer() < timer_wakes_at) timer_cv.notify_one();
  }

  void on_closed(uint32_t w) {
    std::lock_guard<std::mutex> lock(mu);
    if (!up[w] || !orchestrator) return;
    up[w] = false;
    changed_at[w] = steady_clock().now();
    ++disconnects;
    orchestrator->on_worker_down(w);
    poke_timer();
    const bool silent = dropped_for_silence[w];
    dropped_for_silence[w] = false;
    tell(WorkerEvent::Kind::kDown, w,
         silent ? "no reply to " + std::to_string(options.down_after_heartbeats) + " heartbeats" : "its connection closed");
  }

  void tell(WorkerEvent::Kind kind, uint32_t w, std::string why) {  // under mu
    if (options.on_event) options.on_event(WorkerEvent{kind, w, links[w]->address(), std::move(why)});
  }

  Status open(uint32_t w, int handshake_timeout_ms = 0) {
    {
      std::lock_guard<std::mutex> lock(mu);
      last_heard[w] = steady_clock().now();
    }
    return links[w]->open([this, w](const Frame& f) { on_frame(w, f); }, [this, w] { on_closed(w); },
                          handshake_timeout_ms);
  }

  // Every period a heartbeat to each worker that is up; and a worker silent for the limit is
  // dropped the moment it passes it (its reader then reports it closed, as if TCP had said
  // so), not at the next period's tick: as the last frame came no later than the stall,
  // a stalled worker is down within `down_after_heartbeats` periods of stalling.
  void heartbeat_loop() {
    const TimeUs period = us_from_ms(options.heartbeat_ms);
    const TimeUs silent_limit = period * options.down_after_heartbeats;
    std::vector<TimeUs> dropped_silent(links.size(), -1);  // the last_heard a drop was for
    uint64_t id = 0;
    std::unique_lock<std::mutex> lock(mu);
    TimeUs next_beat = steady_clock().now() + period;
    for (;;) {
      TimeUs wake = next_beat;
      for (uint32_t w = 0; w < links.size(); ++w) {
        if (up[w] && !is_local[w] && dropped_silent[w] != last_heard[w]) {
          wake = std::min(wake, last_heard[w] + silent_limit + 1);
        }
      }
      const TimeUs wait = std::max<TimeUs>(0, wake - steady_clock().now());
      if (stop_cv.wait_for(lock, std::chrono::microseconds(wait), [&] { return stopping; })) return;
      const TimeUs now = steady_clock().now();
      const bool beat = now >= next_beat;
      if (beat) next_beat = std::max(next_beat + period, now + period / 2);
      for (uint32_t w = 0; w < links.size(); ++w) {
        if (!up[w] || is_local[w] || dropped_silent[w] == last_heard[w]) continue;
        if (now - last_heard[w] > silent_limit) {
          ++silent_drops;
          dropped_silent[w] = last_heard[w];
          dropped_for_silence[w] = true;
          links[w]->drop();
        } else if (beat) {
          heartbeat_sent[w] = {++id, now};
          (void)links[w]->send_heartbeat(id);  // never blocks; a failure shows as a close
        }
      }
    }
  }

  void timer_loop() {
    std::unique_lock<std::mutex> lock(mu);
    while (!stopping) {
      const TimeUs next = orchestrator->next_timer();
      timer_wakes_at = next;
      if (next == kNever) {
        timer_cv.wait(lock);
      } else {
        timer_cv.wait_until(lock, std::chrono::steady_clock::time_point(std::chrono::microseconds(next)));
      }
      timer_wakes_at = 0;
      if (!stopping) orchestrator->on_timer();
    }
  }

  // A worker's role as its Hello says (under mu): its member numbered as `members`, which
  // it extends with a new member or subnet; the master's own engine is insurance only.
  WorkerRole role_from_hello(uint32_t w) {
    const WorkerInfo& info = infos[w];
    WorkerRole role;
    role.local = is_local[w];
    for (const SubnetSummary& s : info.subnets) role.macs.push_back(s.macs);
    if (role.local) {
      role.profile_subnet.assign(info.subnets.size(), -1);
      return role;
    }
    auto it = std::find(members.begin(), members.end(), info.member);
    if (it == members.end()) {
      members.push_back(info.member);
      member_subnets.emplace_back();
      it = members.end() - 1;
    }
    role.member = static_cast<int>(it - members.begin());
    auto& names = member_subnets[static_cast<size_t>(role.member)];
    for (const SubnetSummary& s : info.subnets) {
      auto at = std::find(names.begin(), names.end(), s.name);
      if (at == names.end()) at = names.insert(names.end(), s.name);
      role.profile_subnet.push_back(static_cast<int>(at - names.begin()));
    }
    return role;
  }

  // The roles as the profile numbers them (under mu): a worker whose member or a subnet the
  // profile lacks is not planned (member -1). Returns why, for each such worker.
  std::vector<std::string> profiled_roles(std::vector<WorkerRole>* out) const {
    std::vector<std::string> why(roles.size());
    *out = roles;
    if (!profiled) return why;
    for (uint32_t w = 0; w < roles.size(); ++w) {
      if (is_local[w] || infos[w].subnets.empty()) continue;
      auto role = role_for_worker(*profiled, served(w));
      if (role.is_ok()) {
        (*out)[w] = std::move(role.value());
      } else {
        (*out)[w].member = -1;
        why[w] = role.status().message();
      }
    }
    return why;
  }

  ServedModel served(uint32_t w) const {
    const WorkerInfo& info = infos[w];
    ServedModel s{info.member, info.model_name, {}, {}};
    for (const SubnetSummary& sub : info.subnets) s.subnets.push_back(sub.name), s.macs.push_back(sub.macs);
    return s;
  }

  // Whether worker w's inputs and classes are the master's (under mu).
  bool same_shape(uint32_t w) const {
    const WorkerInfo& i = infos[w];
    return i.input_h == shape.input_h && i.input_w == shape.input_w && i.input_c == shape.input_c &&
           i.classes == shape.classes;
  }

  // What is wrong with worker w's shape, when same_shape(w) is false.
  std::string other_shape(uint32_t w) const {
    auto text = [](const WorkerInfo& i) {
      return std::to_string(i.input_h) + "x" + std::to_string(i.input_w) + "x" + std::to_string(i.input_c) + " inputs and " +
             std::to_string(i.classes) + " classes";
    };
    return "it takes " + text(infos[w]) + ", the others " + text(shape);
  }

  MasterCounters counters() const {  // under mu
    MasterCounters c;
    c.orchestrator = orchestrator->counters();
    c.disconnects = disconnects;
    c.reconnects = reconnects;
    c.joins = joins;
    c.silent_drops = silent_drops;
    return c;
  }

  // Worker w's first handshake came after the start (under mu): it becomes a member of the
  // plans, its latency measured by a few probes of every subnet it serves.
  void join(uint32_t w) {
    constexpr int kProbes = 3;
    constexpr double kProbeBudgetMs = 2000;
    roles[w] = role_from_hello(w);
    std::vector<WorkerRole> planned;
    const std::string lacking = profiled_roles(&planned)[w];
    orchestrator->set_roles(std::move(planned));
    orchestrator->on_worker_up(w);
    up[w] = true;
    changed_at[w] = steady_clock().now();
    ++joins;
    const std::vector<uint8_t> blank(size_t{shape.input_h} * shape.input_w * shape.input_c, 0);
    for (int k = 0; k < kProbes; ++k) {
      for (uint32_t s = 0; s < infos[w].subnets.size(); ++s) {
        Submission probe;
        probe.image = blank;
        probe.budget_ms = kProbeBudgetMs;
        probe.fixed = {{w, s, kFirstStage}};
        probe.done = [](Prediction&&) {};
        orchestrator->submit(std::move(probe));
      }
    }
    poke_timer();
    std::string what = "serves " + infos[w].member + " at";
    for (const SubnetSummary& sub : infos[w].subnets) what += " " + sub.name;
    tell(WorkerEvent::Kind::kJoined, w,
         lacking.empty() ? what : what + "; not planned until the accuracy profile has it: " + lacking);
  }

  // A dialled worker answered (under mu): it joins, comes back, or is refused (false: close it).
  bool answered(uint32_t w) {
    const bool first = infos[w].subnets.empty();
    if (first) {
      infos[w] = links[w]->info();
      if (!same_shape(w)) {
        refused[w] = true;
        tell(WorkerEvent::Kind::kRefused, w, other_shape(w));
        infos[w] = WorkerInfo{};
        return false;
      }
      join(w);
      return true;
    }
    up[w] = true;
    changed_at[w] = steady_clock().now();
    ++reconnects;
    orchestrator->on_worker_up(w);
    tell(WorkerEvent::Kind::kBack, w, "");
    return true;
  }

  void dial_failed(uint32_t w, TimeUs now) {  // under mu
    if (!infos[w].subnets.empty()) return;     // was up: dialled every round
    const int64_t backoff_ms = std::min<int64_t>(int64_t{options.reconnect_ms} << std::min<uint32_t>(dial_failures[w], 16),
                                                 std::max(options.reconnect_ms, options.join_backoff_max_ms));
    ++dial_failures[w];
    next_dial[w] = now + us_from_ms(static_cast<double>(backoff_ms));
  }

  void reconnect_loop() {
    // A retry gives up within half a period: over UDP nothing refuses a connection, and a
    // Hello sent while the worker was down waits out the whole handshake timeout (a restarted
    // worker was used again only after 0.8 s, against 0.2 s over TCP). Rounds start a period
    // apart, however long the retries in one took; the dials of one round run side by side,
    // so a device that is off (a connect that times out) delays nobody else.
    const int retry_ms = std::min(options.handshake_timeout_ms, std::max(50, options.reconnect_ms / 2));
    const auto period = std::chrono::milliseconds(options.reconnect_ms);
    std::unique_lock<std::mutex> lock(mu);
    auto next_round = std::chrono::steady_clock::now() + period;
    while (!stop_cv.wait_until(lock, next_round, [&] { return stopping; })) {
      next_round = std::max(next_round + period, std::chrono::steady_clock::now() + period / 4);
      const TimeUs now = steady_clock().now();
      std::vector<uint32_t> due;
      for (uint32_t w = 0; w < links.size(); ++w) {
        if (!up[w] && !refused[w] && now >= next_dial[w]) due.push_back(w);
      }
      if (due.empty()) continue;
      lock.unlock();
      std::vector<char> opened(due.size(), 0);
      {
        std::vector<std::thread> dials;
        for (size_t k = 0; k < due.size(); ++k) {
          dials.emplace_back([this, &opened, &due, k, retry_ms] { opened[k] = open(due[k], retry_ms).is_ok(); });
        }
        for (std::thread& t : dials) t.join();
      }
      std::vector<uint32_t> to_close;
      lock.lock();
      for (size_t k = 0; k < due.size(); ++k) {
        if (stopping) break;
        if (!opened[k]) {
          dial_failed(due[k], steady_clock().now());
        } else if (!answered(due[k])) {
          to_close.push_back(due[k]);
        }
      }
      if (to_close.empty()) continue;
      lock.unlock();
      for (uint32_t w : to_close) links[w]->close();
      lock.lock();
    }
  }
};

const char* worker_event_name(WorkerEvent::Kind kind) {
  switch (kind) {
    case WorkerEvent::Kind::kWaiting: return "waiting";
    case WorkerEvent::Kind::kJoined: return "joined";
    case WorkerEvent::Kind::kRefused: return "refused";
    case WorkerEvent::Kind::kDown: return "down";
    case WorkerEvent::Kind::kBack: return "back";
  }
  return "?";
}

Master::Master(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Master::~Master() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopping = true;
    impl_->timer_cv.notify_all();
    impl_->stop_cv.notify_all();
  }
  if (impl_->reconnector.joinable()) impl_->reconnector.join();
  if (impl_->heartbeat.joinable()) impl_->heartbeat.join();
  if (impl_->timer.joinable()) impl_->timer.join();
  for (auto& link : impl_->links) link->close();
  if (impl_->local_server) impl_->local_server->stop();
}

Result<std::unique_ptr<Master>> Master::connect(const MasterOptions& options) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(options.wait_for_first_ms);
  auto master = connect_once(options);
  while (!master.is_ok() && std::chrono::steady_clock::now() < give_up) {  // no worker up yet
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    master = connect_once(options);
  }
  return master;
}

Result<std::unique_ptr<Master>> Master::connect_once(const MasterOptions& options) {
  if (options.addresses.empty()) return Status(StatusCode::kInvalidArgument, "no workers given");
  auto impl = std::make_unique<Impl>();
  Impl& m = *impl;
  m.options = options;
  LinkOptions link_options;
  link_options.connect_timeout_ms = options.connect_timeout_ms;
  link_options.handshake_timeout_ms = options.handshake_timeout_ms;
  link_options.limits = options.limits;
  link_options.key = options.key;
  link_options.reply_top_k = options.reply_top_k;
  Dialer& dialer = options.dialer ? *options.dialer : tcp_dialer();
  for (const std::string& a : options.addresses) {
    m.links.push_back(std::make_unique<WorkerLink>(a, dialer, link_options));
    m.is_local.push_back(false);
  }
  if (options.local_model) {
    auto server = WorkerServer::create(*options.local_model, options.local);
    if (!server.is_ok()) return Status(server.status().code(), "the master's own member: " + server.status().message());
    m.local_server = std::move(server.value());
    WorkerServer* s = m.local_server.get();
    m.local_network.listen(kLocalAddress, [s](std::unique_ptr<Connection> c) { s->serve(std::move(c)); });
    // The in-process link needs no key: nothing leaves the process.
    LinkOptions local_options = link_options;
    local_options.key.clear();
    m.links.push_back(std::make_unique<WorkerLink>(kLocalAddress, m.local_network, local_options));
    m.is_local.push_back(true);
  }
  const size_t n = m.links.size();
  m.up.assign(n, false);
  m.dropped_for_silence.assign(n, false);
  m.last_heard.assign(n, 0);
  m.heartbeat_sent.assign(n, {0, 0});
  m.infos.assign(n, WorkerInfo{});
  m.roles.assign(n, WorkerRole{});
  m.refused.assign(n, false);
  m.dial_failures.assign(n, 0);
  m.reports.assign(n, ResourceReport{});
  m.reported.assign(n, false);
  m.started = steady_clock().now();
  m.changed_at.assign(n, m.started);
  m.next_dial.assign(n, 0);
  std::unique_ptr<Master> master(new Master(std::move(impl)));
  // Every worker dialled side by side: one that is off costs its connect timeout once, not
  // once per worker after it.
  std::vector<Status> opened(n);
  {
    std::vector<std::thread> dials;
    for (uint32_t w = 0; w < n; ++w) dials.emplace_back([&m, &opened, w] { opened[w] = m.open(w); });
    for (std::thread& t : dials) t.join();
  }
  std::string failures;
  {
    std::lock_guard<std::mutex> lock(m.mu);
    for (uint32_t w = 0; w < n; ++w) {
      if (!opened[w].is_ok()) {
        failures += (failures.empty() ? "" : "; ") + m.links[w]->address() + ": " + opened[w].message();
        continue;
      }
      m.infos[w] = m.links[w]->info();
      if (m.shape.subnets.empty()) m.shape = m.infos[w];
      if (!m.same_shape(w)) {
        return Status(StatusCode::kInvalidArgument, "worker " + m.links[w]->address() + ": " + m.other_shape(w));
      }
      m.up[w] = true;
      m.roles[w] = m.role_from_hello(w);
    }
    if (m.shape.subnets.empty()) return Status(opened[0].code(), "no worker answered: " + failures);
  }
  if (options.local_model) {
    // Workers serving the master's own model file can run any segment of it (disnet, split):
    // those up at the start.
    const std::string digest = model_digest(*options.local_model);
    std::vector<uint32_t> holders = {static_cast<uint32_t>(n - 1)};
    for (uint32_t w = 0; w + 1 < n; ++w) {
      if (m.up[w] && m.infos[w].model_digest == digest) holders.push_back(w);
    }
    if (holders.size() > 1) {
      auto catalog = std::make_shared<SegmentCatalog>(
          segment_catalog(*options.local_model, holders, static_cast<int>(holders[0])));
      // Fluid's high-accuracy mode over the same devices, where the model splits that way
      // (and the master's engine narrows: shoal's CPU kernels).
      auto partition = partition_setup(*options.local_model, holders);
      if (partition.is_ok()) catalog->partition = std::move(partition.value());
      m.segments = std::move(catalog);
    }
  }
  {
    std::lock_guard<std::mutex> lock(m.mu);
    m.orchestrator = std::make_unique<Orchestrator>(steady_clock(), m, m.roles, m.shape.classes, options.latency,
                                                    options.orchestration);
    m.orchestrator->set_segments(m.segments);
    for (uint32_t w = 0; w < n; ++w) {
      if (m.up[w]) continue;
      m.orchestrator->on_worker_down(w);  // not up yet, or died while the others were connecting
      if (m.infos[w].subnets.empty()) {
        m.dial_failed(w, steady_clock().now());
        m.tell(WorkerEvent::Kind::kWaiting, w, opened[w].message() + "; dialling it in the background");
      }
    }
  }
  m.timer = std::thread([&m] { m.timer_loop(); });
  m.reconnector = std::thread([&m] { m.reconnect_loop(); });
  if (options.heartbeat_ms > 0) m.heartbeat = std::thread([&m] { m.heartbeat_loop(); });
  return master;
}

size_t Master::workers() const { return impl_->links.size(); }
const std::string& Master::address(uint32_t w) const { return impl_->links[w]->address(); }
bool Master::local(uint32_t w) const { return impl_->is_local[w]; }
// The shape is set once, at connect, before any other thread runs.
uint32_t Master::classes() const { return impl_->shape.classes; }
size_t Master::image_bytes() const { return size_t{impl_->shape.input_h} * impl_->shape.input_w * impl_->shape.input_c; }
uint32_t Master::input_h() const { return impl_->shape.input_h; }
uint32_t Master::input_w() const { return impl_->shape.input_w; }
uint32_t Master::input_c() const { return impl_->shape.input_c; }

WorkerInfo Master::worker(uint32_t w) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->infos[w];
}

bool Master::joined(uint32_t w) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return !impl_->infos[w].subnets.empty();
}

std::vector<std::string> Master::members() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->members;
}

int Master::member_of(uint32_t w) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->roles[w].member;
}

std::vector<std::string> Master::member_subnets(uint32_t m) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->member_subnets[m];
}

std::vector<std::string> Master::unprofiled_members() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<std::string> out;
  for (const std::string& name : impl_->members) {
    const bool has = impl_->profiled && std::any_of(impl_->profiled->members.begin(), impl_->profiled->members.end(),
                                                    [&](const ProfileMember& p) { return p.name == name; });
    if (!has) out.push_back(name);
  }
  return out;
}

bool Master::alive(uint32_t w) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->up[w];
}

void Master::set_profile(std::shared_ptr<const EnsembleProfile> profile) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& m = *impl_;
  // What it was measured over: the members and subnets as they were (they only grow at the end).
  auto names = std::make_unique<AccuracyProfile>();
  for (uint32_t k = 0; k < profile->members() && k < m.members.size(); ++k) {
    ProfileMember pm;
    pm.name = m.members[k];
    pm.subnets.assign(m.member_subnets[k].begin(),
                      m.member_subnets[k].begin() + std::min<size_t>(profile->subnets(k), m.member_subnets[k].size()));
    names->members.push_back(std::move(pm));
  }
  m.profiled = std::move(names);
  std::vector<WorkerRole> roles;
  (void)m.profiled_roles(&roles);
  m.orchestrator->set_profile(std::move(profile), std::move(roles));
}

Result<AccuracyProfile> Master::use_profile_file(const std::string& path) {
  auto profile = read_profile(path);
  if (!profile.is_ok()) return profile.status();
  const Status st = use_profile(profile.value());
  if (!st.is_ok()) return Status(st.code(), path + ": " + st.message());
  return profile;
}

Status Master::use_profile(const AccuracyProfile& profile) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& m = *impl_;
  for (uint32_t w = 0; w < m.links.size(); ++w) {
    if (m.is_local[w] || m.infos[w].subnets.empty()) continue;
    auto role = role_for_worker(profile, m.served(w));
    if (!role.is_ok()) {
      return Status(StatusCode::kInvalidArgument,
                    "worker " + m.links[w]->address() + ": " + role.status().message() + " (profile every worker's model together)");
    }
  }
  m.profiled = std::make_unique<AccuracyProfile>();
  m.profiled->members = profile.members;
  std::vector<WorkerRole> roles;
  (void)m.profiled_roles(&roles);
  m.orchestrator->set_profile(std::make_shared<EnsembleProfile>(profile.table), std::move(roles));
  return Status::ok();
}

const SegmentCatalog* Master::segments() const { return impl_->segments.get(); }

std::shared_ptr<const EnsembleProfile> Master::profile() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->orchestrator->profile();
}

Status Master::set_policy(const std::string& name, const PolicyParams& params) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->orchestrator->set_policy(name, params);
}

uint64_t Master::submit(Submission submission) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const uint64_t ticket = impl_->orchestrator->submit(std::move(submission));
  impl_->poke_timer();
  return ticket;
}

uint64_t Master::submit(const uint8_t* image, double budget_ms, int priority, std::function<void(Prediction&&)> done) {
  Submission s;
  s.image.assign(image, image + image_bytes());
  s.budget_ms = budget_ms;
  s.priority = priority;
  s.done = std::move(done);
  return submit(std::move(s));
}

Prediction Master::run(Submission submission) {
  // While it waits, this thread serves the timers itself, so the timer thread need not be
  // woken for this input; and it spins a little first, since the answer usually comes within
  // tens of microseconds and waking a sleeping thread costs about as much again.
  constexpr double kSpinMs = 0.05;
  std::condition_variable cv;  // waited on with impl_->mu, under which callbacks run
  std::atomic<bool> ready{false};
  Prediction out;
  submission.done = [&](Prediction&& p) {
    out = std::move(p);
    cv.notify_one();
    ready.store(true, std::memory_order_release);  // the last touch: run() may return at once
  };
  TimeUs first_timer;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->orchestrator->submit(std::move(submission));
    first_timer = impl_->orchestrator->next_timer();
  }
  const TimeUs spin_until = std::min(steady_clock().now() + us_from_ms(kSpinMs), first_timer);
  while (!ready.load(std::memory_order_acquire) && steady_clock().now() < spin_until) {
  }
  // Answered while spinning: nothing to wait for. (The reader that answered still holds the
  // lock; waiting for it would put this thread to sleep and cost a wake-up. It pokes the
  // timer thread itself after every reply.)
  if (ready.load(std::memory_order_acquire)) return out;
  std::unique_lock<std::mutex> lock(impl_->mu);
  while (!ready.load(std::memory_order_acquire)) {
    const TimeUs next = impl_->orchestrator->next_timer();
    if (next <= steady_clock().now()) {
      impl_->orchestrator->on_timer();
    } else if (next == kNever) {
      cv.wait(lock);
    } else {
      cv.wait_until(lock, std::chrono::steady_clock::time_point(std::chrono::microseconds(next)));
    }
  }
  impl_->poke_timer();  // what is still pending (other inputs') goes back to the timer thread
  return out;
}

Prediction Master::infer(const uint8_t* image, double budget_ms, int priority) {
  Submission s;
  s.image.assign(image, image + image_bytes());
  s.budget_ms = budget_ms;
  s.priority = priority;
  return run(std::move(s));
}

std::vector<LinkEstimate> Master::links() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<LinkEstimate> out;
  for (uint32_t w = 0; w < impl_->links.size(); ++w) out.push_back(impl_->orchestrator->latency().link(w));
  return out;
}

std::vector<std::vector<double>> Master::predictions() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const LatencyModel& l = impl_->orchestrator->latency();
  const TimeUs now = steady_clock().now();
  std::vector<std::vector<double>> out(l.workers());
  for (uint32_t w = 0; w < l.workers(); ++w) {
    for (uint32_t s = 0; s < l.subnets(w); ++s) out[w].push_back(l.predict_ms(w, s, now));
  }
  return out;
}

MasterStatus Master::status() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const Impl& m = *impl_;
  const LatencyModel& l = m.orchestrator->latency();
  const TimeUs now = steady_clock().now();
  MasterStatus s;
  s.uptime_s = ms_from_us(now - m.started) / 1000.0;
  for (uint32_t w = 0; w < m.links.size(); ++w) {
    WorkerState ws;
    ws.info = m.infos[w];
    ws.local = m.is_local[w];
    ws.joined = !m.infos[w].subnets.empty();
    ws.up = m.up[w];
    ws.refused = m.refused[w];
    ws.for_s = ms_from_us(now - m.changed_at[w]) / 1000.0;
    ws.reported = m.reported[w];
    ws.report = m.reports[w];
    ws.link = l.link(w);
    for (uint32_t k = 0; k < l.subnets(w); ++k) ws.predicted_ms.push_back(l.predict_ms(w, k, now));
    ws.in_flight = l.in_flight(w);
    const auto& work = m.orchestrator->counters().work;
    if (w < work.size()) ws.work = work[w];
    s.workers.push_back(std::move(ws));
  }
  s.counters = m.counters();
  s.outcomes = m.orchestrator->stats();
  s.timeline = s.outcomes.timeline(now);
  return s;
}

MasterCounters Master::counters() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->counters();
}

}  // namespace shoal::net
