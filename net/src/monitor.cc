#include "shoal/net/monitor.h"

#include <cmath>
#include <cstdio>

#include "shoal/json.h"

namespace shoal::net {
namespace {

// Prometheus' text format: `# HELP` and `# TYPE` once per family, then its samples.
class Metrics {
 public:
  void family(const char* name, const char* type, const char* help) {
    out_ += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  }
  void sample(const std::string& name, const std::string& labels, double value) {
    char v[40];
    std::snprintf(v, sizeof(v), "%.9g", value);
    out_ += name + (labels.empty() ? "" : "{" + labels + "}") + " " + v + "\n";
  }
  std::string str() { return std::move(out_); }

 private:
  std::string out_;
};

// name="value", the value escaped as the format says.
std::string label(const std::string& name, const std::string& value) {
  std::string out = name + "=\"";
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\', out += c;
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out + "\"";
}

const char* state_of(const WorkerState& w) {
  if (w.refused) return "refused";
  if (!w.joined) return "waiting";
  return w.up ? "up" : "down";
}

std::string name_of(const std::vector<std::string>& names, const MasterStatus& s, size_t w) {
  return w < names.size() ? names[w] : s.workers[w].local ? "master" : "worker" + std::to_string(w);
}

void histogram_json(Json& j, const LatencyHistogram& h) {
  j.key("latency").begin_object().key("bounds_ms").begin_array();
  for (double b : LatencyHistogram::kBoundsMs) j.value(b);
  j.end_array().key("counts").begin_array();
  for (uint64_t c : h.counts()) j.value(c);
  j.end_array().field("count", h.count()).field("sum_ms", h.sum_ms()).end_object();
}

}  // namespace

std::string master_metrics(const MasterStatus& s, const std::vector<std::string>& names) {
  Metrics m;
  m.family("shoal_master_uptime_seconds", "gauge", "Seconds since the master started.");
  m.sample("shoal_master_uptime_seconds", "", s.uptime_s);
  struct PolicyCounter {
    const char* name;
    const char* help;
    uint64_t PolicyOutcomes::*field;
  };
  const PolicyCounter counters[] = {
      {"shoal_master_inputs_total", "Inputs submitted, per policy.", &PolicyOutcomes::inputs},
      {"shoal_master_answered_total", "Inputs answered by the policy's members in time.", &PolicyOutcomes::answered},
      {"shoal_master_insured_total", "Inputs answered by the master's own insurance run alone.", &PolicyOutcomes::insured},
      {"shoal_master_misses_total", "Inputs answered without a label (missed, shed, too short, no worker, busy).",
       &PolicyOutcomes::misses},
      {"shoal_master_labelled_total", "Inputs submitted with their true class.", &PolicyOutcomes::labelled},
      {"shoal_master_correct_total", "Labelled inputs answered with their true class.", &PolicyOutcomes::correct},
      {"shoal_master_hedges_total", "Units hedged on another worker.", &PolicyOutcomes::hedges},
  };
  for (const PolicyCounter& c : counters) {
    m.family(c.name, "counter", c.help);
    for (const auto& [policy, p] : s.outcomes.policies()) m.sample(c.name, label("policy", policy), static_cast<double>(p.*c.field));
  }
  m.family("shoal_master_latency_seconds", "histogram", "Submit to answer, of inputs answered with a label.");
  for (const auto& [policy, p] : s.outcomes.policies()) {
    const std::string pl = label("policy", policy);
    uint64_t cumulative = 0;
    for (size_t b = 0; b < LatencyHistogram::kBoundsMs.size(); ++b) {
      cumulative += p.latency.counts()[b];
      char le[32];
      std::snprintf(le, sizeof(le), "%g", LatencyHistogram::kBoundsMs[b] / 1000.0);
      m.sample("shoal_master_latency_seconds_bucket", pl + "," + label("le", le), static_cast<double>(cumulative));
    }
    m.sample("shoal_master_latency_seconds_bucket", pl + "," + label("le", "+Inf"), static_cast<double>(p.latency.count()));
    m.sample("shoal_master_latency_seconds_sum", pl, p.latency.sum_ms() / 1000.0);
    m.sample("shoal_master_latency_seconds_count", pl, static_cast<double>(p.latency.count()));
  }
  const OrchestratorCounters& o = s.counters.orchestrator;
  struct Total {
    const char* name;
    const char* help;
    uint64_t value;
  };
  const Total totals[] = {
      {"shoal_master_late_replies_total", "Results that came after their input was answered.", o.late_replies},
      {"shoal_master_unit_failures_total", "Units that failed: an error reply, a worker gone, a send that failed.", o.failures},
      {"shoal_master_insurance_runs_total", "Runs of the master's own narrow subnet as insurance.", o.insurance_runs},
      {"shoal_master_presumed_lost_total", "Units whose reply had not come long after it was due.", o.presumed_lost},
      {"shoal_master_worker_disconnects_total", "Workers marked down.", s.counters.disconnects},
      {"shoal_master_worker_silent_drops_total", "Of those, workers that stopped answering heartbeats.", s.counters.silent_drops},
      {"shoal_master_worker_reconnects_total", "Workers used again after they came back.", s.counters.reconnects},
      {"shoal_master_worker_joins_total", "Workers whose first handshake came after the start.", s.counters.joins},
  };
  for (const Total& t : totals) {
    m.family(t.name, "counter", t.help);
    m.sample(t.name, "", static_cast<double>(t.value));
  }
  struct WorkerGauge {
    const char* name;
    const char* type;
    const char* help;
    std::function<double(const WorkerState&)> value;  // NaN: not known (left out)
  };
  const double nan = std::nan("");
  const WorkerGauge gauges[] = {
      {"shoal_master_worker_up", "gauge", "1 while the worker answers, 0 while it is down or not up yet.",
       [](const WorkerState& w) { return w.up ? 1.0 : 0.0; }},
      {"shoal_master_worker_state_seconds", "gauge", "How long the worker has been up, or down.",
       [](const WorkerState& w) { return w.for_s; }},
      {"shoal_master_worker_link_rtt_seconds", "gauge", "Round trip of a heartbeat to the worker.",
       [nan](const WorkerState& w) { return w.link.rtt_ms >= 0 ? w.link.rtt_ms / 1000.0 : nan; }},
      {"shoal_master_worker_cpu_load", "gauge", "The worker's load average per core, from its heartbeats.",
       [nan](const WorkerState& w) { return w.reported && w.report.cpu_load >= 0 ? w.report.cpu_load : nan; }},
      {"shoal_master_worker_temperature_celsius", "gauge", "The worker's temperature, where it reports one.",
       [nan](const WorkerState& w) { return w.reported && w.report.temperature_c >= 0 ? w.report.temperature_c : nan; }},
      {"shoal_master_worker_queue_length", "gauge", "Requests waiting at the worker, every master's.",
       [nan](const WorkerState& w) { return w.reported ? static_cast<double>(w.report.queue_length) : nan; }},
      {"shoal_master_worker_in_flight", "gauge", "This master's requests the worker has not answered.",
       [](const WorkerState& w) { return static_cast<double>(w.in_flight); }},
      {"shoal_master_worker_compute_seconds_total", "counter", "Compute the worker reported for this master's requests.",
       [](const WorkerState& w) { return w.work.compute_ms / 1000.0; }},
      {"shoal_master_worker_bytes_total", "counter", "Bytes of requests and replies, both ways.",
       [](const WorkerState& w) { return static_cast<double>(w.work.bytes); }},
  };
  for (const WorkerGauge& g : gauges) {
    m.family(g.name, g.type, g.help);
    for (size_t w = 0; w < s.workers.size(); ++w) {
      const double v = g.value(s.workers[w]);
      if (v == v) m.sample(g.name, label("worker", name_of(names, s, w)), v);
    }
  }
  m.family("shoal_master_worker_predicted_latency_seconds", "gauge",
           "How long a request for each subnet would take now, margins and queueing included.");
  for (size_t w = 0; w < s.workers.size(); ++w) {
    const WorkerState& ws = s.workers[w];
    for (size_t k = 0; k < ws.predicted_ms.size() && k < ws.info.subnets.size(); ++k) {
      if (!std::isfinite(ws.predicted_ms[k])) continue;
      m.sample("shoal_master_worker_predicted_latency_seconds",
               label("worker", name_of(names, s, w)) + "," + label("subnet", ws.info.subnets[k].name), ws.predicted_ms[k] / 1000.0);
    }
  }
  return m.str();
}

std::string master_status_json(const MasterStatus& s, const std::vector<std::string>& names) {
  Json j;
  j.begin_object().field("role", "master").field("uptime_s", s.uptime_s).key("workers").begin_array();
  for (size_t w = 0; w < s.workers.size(); ++w) {
    const WorkerState& ws = s.workers[w];
    j.begin_object().field("name", name_of(names, s, w)).field("state", state_of(ws)).field("for_s", ws.for_s)
        .field("local", ws.local).field("member", ws.info.member).field("model", ws.info.model_name);
    j.key("subnets").begin_array();
    for (size_t k = 0; k < ws.info.subnets.size(); ++k) {
      j.begin_object().field("name", ws.info.subnets[k].name).field("width", static_cast<double>(ws.info.subnets[k].width));
      j.field("predicted_ms", k < ws.predicted_ms.size() ? ws.predicted_ms[k] : -1.0).end_object();
    }
    j.end_array();
    if (ws.reported) {
      j.field("load", static_cast<double>(ws.report.cpu_load)).field("temperature_c", static_cast<double>(ws.report.temperature_c))
          .field("queue", ws.report.queue_length).field("clock_ratio", static_cast<double>(ws.report.clock_ratio));
    }
    j.field("rtt_ms", ws.link.rtt_ms).field("in_flight", ws.in_flight).field("compute_ms", ws.work.compute_ms)
        .field("bytes", ws.work.bytes).end_object();
  }
  j.end_array();
  const OrchestratorCounters& o = s.counters.orchestrator;
  j.key("counters").begin_object().field("submitted", o.submitted).field("answered", o.answered).field("insured", o.insured)
      .field("missed", o.missed).field("shed", o.shed).field("too_short", o.too_short).field("no_worker", o.no_worker)
      .field("busy", o.busy).field("late_replies", o.late_replies).field("failures", o.failures).field("hedges", o.hedges)
      .field("insurance_runs", o.insurance_runs).field("presumed_lost", o.presumed_lost)
      .field("disconnects", s.counters.disconnects).field("reconnects", s.counters.reconnects)
      .field("joins", s.counters.joins).field("silent_drops", s.counters.silent_drops).end_object();
  j.key("policies").begin_array();
  for (const auto& [policy, p] : s.outcomes.policies()) {
    j.begin_object().field("name", policy).field("inputs", p.inputs).field("answered", p.answered)
        .field("insured", p.insured).field("misses", p.misses).field("labelled", p.labelled).field("correct", p.correct)
        .field("hedges", p.hedges);
    histogram_json(j, p.latency);
    j.end_object();
  }
  j.end_array().key("timeline").begin_array();  // a second each, the last one now
  for (const SecondOutcomes& t : s.timeline) {
    j.begin_array().value(t.inputs).value(t.misses).value(t.labelled).value(t.correct).end_array();
  }
  j.end_array().end_object();
  return j.str();
}

std::string worker_metrics(const WorkerStatus& s) {
  Metrics m;
  struct Gauge {
    const char* name;
    const char* help;
    double value;  // < 0: not known on this device (left out)
  };
  const Gauge gauges[] = {
      {"shoal_worker_uptime_seconds", "Seconds since the worker started.", s.uptime_s},
      {"shoal_worker_peers", "Masters served now (they proved the key).", static_cast<double>(s.peers)},
      {"shoal_worker_proving_peers", "Connections still in their handshake.", static_cast<double>(s.proving)},
      {"shoal_worker_queue_length", "Requests waiting for the engine, every master's.", static_cast<double>(s.queued)},
      {"shoal_worker_cpu_load", "Load average per core.", s.report.cpu_load},
      {"shoal_worker_temperature_celsius", "The device's temperature, where it reports one.", s.report.temperature_c},
      {"shoal_worker_available_memory_bytes", "Memory available.", static_cast<double>(s.report.available_memory_bytes)},
      {"shoal_worker_clock_ratio", "Current over maximum CPU clock.", s.report.clock_ratio},
  };
  for (const Gauge& g : gauges) {
    if (g.value < 0) continue;
    m.family(g.name, "gauge", g.help);
    m.sample(g.name, "", g.value);
  }
  m.family("shoal_worker_requests_total", "counter", "Requests, by what came of them.");
  const std::pair<const char*, uint64_t> results[] = {{"served", s.served}, {"expired", s.expired}, {"busy", s.busy},
                                                      {"malformed", s.malformed}, {"rejected", s.rejected}};
  for (const auto& [result, n] : results) m.sample("shoal_worker_requests_total", label("result", result), static_cast<double>(n));
  const std::pair<const char*, uint64_t> peers[] = {{"shoal_worker_connections_total", s.connections},
                                                    {"shoal_worker_peers_refused_total", s.peers_refused},
                                                    {"shoal_worker_peers_dropped_total", s.peers_dropped},
                                                    {"shoal_worker_peers_displaced_total", s.peers_displaced}};
  for (const auto& [name, n] : peers) {
    m.family(name, "counter", "Peers: accepted, refused (a failed handshake, no slot), dropped, displaced.");
    m.sample(name, "", static_cast<double>(n));
  }
  m.family("shoal_worker_subnet_seconds", "gauge", "Each subnet's smoothed compute time here.");
  for (size_t k = 0; k < s.took_ms.size() && k < s.info.subnets.size(); ++k) {
    if (s.took_ms[k] >= 0) m.sample("shoal_worker_subnet_seconds", label("subnet", s.info.subnets[k].name), s.took_ms[k] / 1000.0);
  }
  return m.str();
}

std::string worker_status_json(const WorkerStatus& s) {
  Json j;
  j.begin_object().field("role", "worker").field("uptime_s", s.uptime_s).field("member", s.info.member)
      .field("model", s.info.model_name).field("peers", s.peers).field("proving", s.proving).field("queue", s.queued)
      .field("load", static_cast<double>(s.report.cpu_load)).field("temperature_c", static_cast<double>(s.report.temperature_c))
      .field("clock_ratio", static_cast<double>(s.report.clock_ratio)).key("subnets").begin_array();
  for (size_t k = 0; k < s.info.subnets.size(); ++k) {
    j.begin_object().field("name", s.info.subnets[k].name).field("width", static_cast<double>(s.info.subnets[k].width))
        .field("took_ms", k < s.took_ms.size() ? s.took_ms[k] : -1.0).end_object();
  }
  j.end_array().key("counters").begin_object().field("served", s.served).field("expired", s.expired).field("busy", s.busy)
      .field("malformed", s.malformed).field("rejected", s.rejected).field("connections", s.connections)
      .field("peers_refused", s.peers_refused).field("peers_dropped", s.peers_dropped)
      .field("peers_displaced", s.peers_displaced).end_object().end_object();
  return j.str();
}

HttpServer::Handler monitor_handler(std::function<std::string()> metrics, std::function<std::string()> status_json) {
  return [metrics = std::move(metrics), status_json = std::move(status_json)](const HttpRequest& req) {
    HttpResponse r;
    if (req.path == "/metrics") {
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      r.body = metrics();
    } else if (req.path == "/status") {
      r.content_type = "application/json";
      r.body = status_json();
    } else if (req.path == "/health") {
      r.body = "ok\n";
    } else if (req.path == "/" || req.path == "/index.html") {
      r.content_type = "text/html; charset=utf-8";
      r.body = monitor_page();
    } else {
      r.status = 404;
      r.body = "not here: try /, /status, /metrics or /health\n";
    }
    return r;
  };
}

HttpServer::Handler master_monitor(const Master& master, std::vector<std::string> names) {
  auto shared = std::make_shared<const std::vector<std::string>>(std::move(names));
  return monitor_handler([&master, shared] { return master_metrics(master.status(), *shared); },
                         [&master, shared] { return master_status_json(master.status(), *shared); });
}

HttpServer::Handler worker_monitor(const WorkerServer& worker) {
  return monitor_handler([&worker] { return worker_metrics(worker.status()); },
                         [&worker] { return worker_status_json(worker.status()); });
}

}  // namespace shoal::net
