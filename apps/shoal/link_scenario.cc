#include "link_scenario.h"

#include <algorithm>
#include <cstdio>

#include "shoal/stats.h"

namespace shoal::cli {
namespace {

double percentile(std::vector<double> samples, bool p95) {
  if (samples.empty()) return 0;
  const LatencySummary s = summarize(samples);
  return p95 ? s.p95 : s.p50;
}

}  // namespace

Result<LinkScenario> LinkScenario::from_args(const Args& args, net::Transport transport) {
  auto slowdowns = parse_numbers(args.get("--local-slowdown", "1"), "--local-slowdown");
  if (!slowdowns.is_ok()) return slowdowns.status();
  auto kbps = parse_numbers(args.get("--link-kbps", "0"), "--link-kbps");
  if (!kbps.is_ok()) return kbps.status();
  const size_t n = std::max(slowdowns->size(), kbps->size());
  if ((slowdowns->size() != 1 && slowdowns->size() != n) || (kbps->size() != 1 && kbps->size() != n)) {
    return Status(StatusCode::kInvalidArgument,
                  "--local-slowdown and --link-kbps take one value, or one per phase: as many of each");
  }
  auto deadline = args.number("--deadline", 0);
  if (!deadline.is_ok() || !(deadline.value() >= 0)) {
    return Status(StatusCode::kInvalidArgument, "--deadline takes milliseconds");
  }
  LinkScenario s;
  s.phases_.resize(n);
  for (size_t k = 0; k < n; ++k) {
    s.phases_[k].slowdown = slowdowns.value()[slowdowns->size() == 1 ? 0 : k];
    s.phases_[k].kbps = kbps.value()[kbps->size() == 1 ? 0 : k];
    if (!(s.phases_[k].slowdown >= 1)) {
      return Status(StatusCode::kInvalidArgument, "--local-slowdown takes factors of 1 or more");
    }
    if (!(s.phases_[k].kbps >= 0)) {
      return Status(StatusCode::kInvalidArgument, "--link-kbps takes kilobits per second, 0 for no limit");
    }
  }
  s.deadline_ms_ = deadline.value();
  s.shaped_ = args.has("--link-kbps");
  s.direct_ = &net::dialer_for(transport);
  s.relay_ = std::make_unique<net::FaultNetwork>(*s.direct_);
  s.enter(0, 1);  // the first phase's bandwidth for the dialing
  return s;
}

size_t LinkScenario::enter(uint32_t i, uint32_t n) {
  const size_t k = n ? size_t{i} * phases_.size() / n : 0;
  if (k != at_) {
    at_ = k;
    net::FaultPlan plan;
    plan.bandwidth_kbps = phases_[k].kbps;
    relay_->set_all(plan);
  }
  return k;
}

void LinkScenario::record(LinkPhase& phase, double ms) const {
  phase.total_ms.push_back(ms);
  phase.over_deadline += deadline_ms_ > 0 && ms > deadline_ms_;
}

std::string LinkScenario::label(const LinkPhase& phase) {
  char buf[96];
  if (phase.kbps > 0) {
    std::snprintf(buf, sizeof(buf), "this device x%g, links %g kbit/s", phase.slowdown, phase.kbps);
  } else {
    std::snprintf(buf, sizeof(buf), "this device x%g, links as they are", phase.slowdown);
  }
  return buf;
}

void LinkScenario::print(const std::vector<LinkPhase>& phases, const char* indent,
                         const std::function<std::string(size_t)>& more) const {
  for (size_t k = 0; k < phases.size(); ++k) {
    const LinkPhase& ph = phases[k];
    std::printf("%s%-38s %4zu images, p50 %8.3f ms, p95 %8.3f ms", indent, label(ph).c_str(), ph.total_ms.size(),
                percentile(ph.total_ms, false), percentile(ph.total_ms, true));
    if (deadline_ms_ > 0) std::printf(", %u over %g ms", ph.over_deadline, deadline_ms_);
    if (!ph.chosen.empty()) {
      std::printf("; chose");
      for (const auto& [what, times] : ph.chosen) std::printf(" %s %u,", what.c_str(), times);
    }
    std::printf("%s\n", more ? more(k).c_str() : "");
  }
}

void LinkScenario::json_fields(const LinkPhase& ph, Json& j) const {
  j.field("local_slowdown", ph.slowdown).field("link_kbps", ph.kbps).field("images", uint64_t{ph.total_ms.size()})
      .field("p50_ms", percentile(ph.total_ms, false)).field("p95_ms", percentile(ph.total_ms, true))
      .field("over_deadline", ph.over_deadline);
  if (!ph.chosen.empty()) {
    j.key("chosen").begin_object();
    for (const auto& [what, times] : ph.chosen) j.field(what, times);
    j.end_object();
  }
}

}  // namespace shoal::cli
