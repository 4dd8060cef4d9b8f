// The master: connects to its workers (and, optionally, runs a member of its own as
// insurance), and feeds the orchestrator (runtime/orchestrator.h), which decides, collects
// and fuses. Many inputs may be in flight: submit() returns at once and the callback gets
// the answer; infer() is submit-and-wait. It starts with whoever is up: one worker (or its own
// engine) answering is enough; the others are dialled in the background, with backoff, and
// join the plans when their handshake completes (their latency measured by a few probes, their
// member planned when the accuracy profile has it). A worker that dies is marked down at once
// (its units fail, and the inputs re-plan on the others), and is reconnected when it comes back.
// Heartbeats go to every worker each `heartbeat_ms`; a worker from which nothing has come for
// `down_after_heartbeats` periods (stalled, partitioned: TCP may never close) is marked down
// the same way, and used again once it answers a new handshake. Sending never blocks.
//
// Threads: one reader per link, one timer thread (deadlines, hedges, insurance), one that
// heartbeats, one that dials (its dials run side by side). All of them, and submit(), take one
// lock around the orchestrator. Callbacks run under it: hand the Prediction to your own thread
// and do not call the Master from them.
#ifndef SHOAL_NET_MASTER_H_
#define SHOAL_NET_MASTER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "shoal/model.h"
#include "shoal/net/dialer.h"
#include "shoal/net/messages.h"
#include "shoal/net/worker_server.h"
#include "shoal/orchestrator.h"
#include "shoal/profile_file.h"

namespace shoal::net {

// What happened to a worker, as it happened (MasterOptions::on_event).
struct WorkerEvent {
  enum class Kind : uint8_t {
    kWaiting,  // not up when the master started: dialled in the background (why: the dial's error)
    kJoined,   // its first handshake, later than the start (why: what it serves, and whether planned)
    kRefused,  // it answered, but takes other inputs or classes than the others: never used
    kDown,     // why: its connection closed, or it stopped answering heartbeats
    kBack,
  };
  Kind kind = Kind::kDown;
  uint32_t worker = 0;
  std::string address;
  std::string why;
};
const char* worker_event_name(WorkerEvent::Kind kind);  // "waiting", "joined", "refused", "down", "back"

struct MasterOptions {
  std::vector<std::string> addresses;  // HOST:PORT per worker
  LatencyOptions latency;
  OrchestratorOptions orchestration;
  int connect_timeout_ms = 2000;
  int handshake_timeout_ms = 1000;
  int reconnect_ms = 300;               // a worker that was up and went down: dialled this often
  int join_backoff_max_ms = 800;       // one never up yet: from reconnect_ms, doubling up to this
  int wait_for_first_ms = 0;           // connect: keep trying this long for the first to answer (0: once)
  uint32_t reply_top_k = 0;            // workers reply with the k most probable classes only (0: all)
  int heartbeat_ms = 100;              // 0: no heartbeats (a silent worker is then noticed only by TCP)
  int down_after_heartbeats = 3;
  Limits limits;
  std::string key;                     // pre-shared key, the same as the workers' (empty: none)
  Dialer* dialer = nullptr;            // null: TCP
  // The master's own member, run in this process as insurance (null: none). Must outlive the
  // master. `local` sets its backend, threads and slowdown; its member name defaults to the
  // model's.
  const Model* local_model = nullptr;
  WorkerOptions local;
  // Called as a worker goes down or comes back, on the master's threads and under its lock
  // (as prediction callbacks are): hand the event on, do not call the Master from it.
  std::function<void(const WorkerEvent&)> on_event;
};

struct MasterCounters {
  OrchestratorCounters orchestrator;
  uint64_t disconnects = 0, reconnects = 0;
  uint64_t joins = 0;         // workers whose first handshake came after the start
  uint64_t silent_drops = 0;  // of the disconnects: workers that stopped answering heartbeats
};

// A worker as the master sees it now (Master::status): what /status and /metrics show.
struct WorkerState {
  WorkerInfo info;             // from its first handshake (empty until it joins)
  bool local = false, joined = false, up = false, refused = false;
  double for_s = 0;            // how long it has been up, or down (or waiting, since the start)
  bool reported = false;       // a heartbeat has said how it is:
  ResourceReport report;       // its load, memory, temperature, clock and queue
  LinkEstimate link;
  std::vector<double> predicted_ms;  // per subnet: how long a request would take now
  uint32_t in_flight = 0;
  WorkerWork work;             // its compute and bytes so far
};

struct MasterStatus {
  double uptime_s = 0;
  std::vector<WorkerState> workers;
  MasterCounters counters;
  OutcomeStats outcomes;       // per policy: inputs, misses, accuracy where labelled, latency
  std::vector<SecondOutcomes> timeline;  // the last 2 minutes, a second each, the last one now
};

class Master {
 public:
  // Connects to every worker it can (side by side) and starts once one of them, or its own
  // engine, answers; the workers must agree on input shape and classes. Fails, naming each
  // worker and why, when none answers (within `wait_for_first_ms`).
  static Result<std::unique_ptr<Master>> connect(const MasterOptions& options);
  ~Master();

  // Workers in the order given, then the master's own engine (local(w)) if it has one. A
  // worker that has not joined yet has an empty WorkerInfo (no subnets) and member -1.
  size_t workers() const;
  WorkerInfo worker(uint32_t w) const;
  bool joined(uint32_t w) const;
  const std::string& address(uint32_t w) const;
  bool local(uint32_t w) const;
  bool alive(uint32_t w) const;
  uint32_t classes() const;
  uint32_t input_h() const;
  uint32_t input_w() const;
  uint32_t input_c() const;
  size_t image_bytes() const;
  // The distinct members the (remote) workers serve, in order of first appearance (growing as
  // workers join); workers serving the same one are its replicas. member_of(w) is -1 for the
  // master's own engine and a worker that has not joined.
  std::vector<std::string> members() const;
  int member_of(uint32_t w) const;
  // Every subnet name a member is served at, over its replicas (what a profile measures).
  std::vector<std::string> member_subnets(uint32_t member) const;
  // Members that serving workers have and the accuracy profile lacks (a worker that joined with
  // a new one): they are not planned until a profile has them (measure, then set_profile).
  std::vector<std::string> unprofiled_members() const;

  // Accuracy over members(), each at member_subnets(), as they were when it was measured (as
  // the calibrator measures it).
  void set_profile(std::shared_ptr<const EnsembleProfile> profile);
  // A profile file's ('shoal profile accuracy'); every worker's member and subnets must be in it.
  Status use_profile(const AccuracyProfile& profile);
  // The same from a file; errors name it. Returns what it read.
  Result<AccuracyProfile> use_profile_file(const std::string& path);
  std::shared_ptr<const EnsembleProfile> profile() const;
  // The master's own model's cuts and the workers that serve the same file: what the segment
  // policies (disnet, split) run on; null when no worker serves the --local-model.
  const SegmentCatalog* segments() const;
  // A policy from the registry (policy_registry.h); needs a profile.
  Status set_policy(const std::string& name, const PolicyParams& params = {});

  uint64_t submit(Submission submission);
  uint64_t submit(const uint8_t* image, double budget_ms, int priority, std::function<void(Prediction&&)> done);
  Prediction infer(const uint8_t* image, double budget_ms, int priority = 0);
  Prediction run(Submission submission);  // submit and wait

  // Predicted latency (margins and queueing included) for each worker and subnet, now.
  std::vector<std::vector<double>> predictions() const;
  // The measured network to each worker (heartbeat round trips, request transfer times).
  std::vector<LinkEstimate> links() const;
  MasterCounters counters() const;
  MasterStatus status() const;

 private:
  struct Impl;
  explicit Master(std::unique_ptr<Impl> impl);
  static Result<std::unique_ptr<Master>> connect_once(const MasterOptions& options);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shoal::net

#endif  // SHOAL_NET_MASTER_H_
