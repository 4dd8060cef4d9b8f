// The conditions `shoal split` and `shoal partition` run their images under, in phases (one
// per equal share of the images): this device's slowdown, the links' bandwidth (through an
// in-process relay that limits it), and a deadline; and per phase, what the images took.
// One harness for both commands: the options, the relay, the phase each image falls in,
// the percentiles and the report's lines.
#ifndef SHOAL_APPS_LINK_SCENARIO_H_
#define SHOAL_APPS_LINK_SCENARIO_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "command.h"
#include "shoal/json.h"
#include "shoal/net/fault_network.h"
#include "shoal/net/transport.h"

namespace shoal::cli {

struct LinkPhase {
  double slowdown = 1;  // this device's compute, stretched
  double kbps = 0;      // every link's bandwidth (0: as it is)
  std::vector<double> total_ms;  // each image's latency
  uint32_t over_deadline = 0;
  std::map<std::string, uint32_t> chosen;  // what a planner chose, and how often
};

class LinkScenario {
 public:
  // --local-slowdown F[,...], --link-kbps K[,...] (one value, or one per phase: as many of
  // each) and --deadline MS, over `transport`.
  static Result<LinkScenario> from_args(const Args& args, net::Transport transport);
  LinkScenario(LinkScenario&&) = default;

  // What to dial workers through: the relay when --link-kbps is given.
  net::Dialer& dialer() { return shaped_ ? static_cast<net::Dialer&>(*relay_) : *direct_; }
  // The phases, with nothing recorded yet: one run's record.
  std::vector<LinkPhase> phases() const { return phases_; }
  // The phase image i of n falls in; the relay takes its bandwidth as it begins.
  size_t enter(uint32_t i, uint32_t n);
  // Records one image's latency in its phase (and whether it missed the deadline).
  void record(LinkPhase& phase, double ms) const;

  double deadline_ms() const { return deadline_ms_; }
  // Whether a report should show the phases: more than one, a shaped link or a deadline.
  bool phased() const { return phases_.size() > 1 || shaped_ || deadline_ms_ > 0; }
  // "this device x2, links 500 kbit/s"
  static std::string label(const LinkPhase& phase);
  // One line per phase (p50, p95, misses, what was chosen), each after `indent` and ending
  // with what `more` (if given) says of that phase.
  void print(const std::vector<LinkPhase>& phases, const char* indent,
             const std::function<std::string(size_t)>& more = nullptr) const;
  // A phase's fields, for a JSON array's object (the caller opens and closes it).
  void json_fields(const LinkPhase& phase, Json& j) const;

 private:
  LinkScenario() = default;
  std::vector<LinkPhase> phases_;
  double deadline_ms_ = 0;
  bool shaped_ = false;
  size_t at_ = SIZE_MAX;
  net::Dialer* direct_ = nullptr;
  std::unique_ptr<net::FaultNetwork> relay_;
};

}  // namespace shoal::cli

#endif  // SHOAL_APPS_LINK_SCENARIO_H_
