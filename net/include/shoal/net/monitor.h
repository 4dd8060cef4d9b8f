// Health and metrics of a running master or worker, for people and for scrapers: `/metrics`
// in the Prometheus text format (counters and histograms, units in the names), `/status` as
// JSON, `/health` ("ok"), and `/` a small self-contained page (no outside script or font)
// that polls /status and draws it live: the workers, a latency histogram, accuracy and misses
// over time. Served by net/http_server.h; `shoal master --http` and `shoal worker --http`.
#ifndef SHOAL_NET_MONITOR_H_
#define SHOAL_NET_MONITOR_H_

#include <functional>
#include <string>
#include <vector>

#include "shoal/net/http_server.h"
#include "shoal/net/master.h"
#include "shoal/net/worker_server.h"

namespace shoal::net {

// `names` per worker, as the cluster file names them (an address where it does not).
std::string master_metrics(const MasterStatus& status, const std::vector<std::string>& names);
std::string master_status_json(const MasterStatus& status, const std::vector<std::string>& names);
std::string worker_metrics(const WorkerStatus& status);
std::string worker_status_json(const WorkerStatus& status);

// The page at `/`: one for both, drawing whichever /status it finds.
const std::string& monitor_page();

// Routes /, /metrics, /status and /health to these (each called per request).
HttpServer::Handler monitor_handler(std::function<std::string()> metrics, std::function<std::string()> status_json);
HttpServer::Handler master_monitor(const Master& master, std::vector<std::string> names);
HttpServer::Handler worker_monitor(const WorkerServer& worker);

}  // namespace shoal::net

#endif  // SHOAL_NET_MONITOR_H_
