#include "shoal/net/cluster.h"

#include <flatbuffers/idl.h>

#include <fstream>
#include <sstream>

#include "shoal/net/connection.h"
#include "shoal/net/transport.h"
#include "shoal/schema/cluster_generated.h"
#include "shoal/schema/cluster_schema_text.h"

namespace shoal::net {
namespace {

Result<PowerModel> power_model(const cluster::Power* p, const std::string& who) {
  PowerModel m;
  if (!p) return m;
  m.idle_watts = p->idle_watts(), m.active_watts = p->active_watts(), m.nanojoules_per_byte = p->nanojoules_per_byte();
  if (!(m.idle_watts >= 0 && m.active_watts >= m.idle_watts && m.nanojoules_per_byte >= 0)) {
    return Status(StatusCode::kInvalidArgument, who + "'s power: watts and nanojoules must be 0 or more, and "
                                                      "active_watts at least idle_watts");
  }
  return m;
}

}  // namespace

bool ClusterConfig::has_power() const {
  if (master_power.given()) return true;
  for (const PowerModel& p : power) {
    if (p.given()) return true;
  }
  return false;
}

Result<ClusterConfig> parse_cluster(const std::string& json, const std::string& origin) {
  flatbuffers::Parser parser;
  if (!parser.Parse(kClusterSchemaText)) {
    return Status(StatusCode::kUnsupported, "internal: cluster schema does not parse: " + parser.error_);
  }
  if (!parser.Parse(json.c_str())) {
    return Status(StatusCode::kInvalidArgument, origin + " does not match schema/cluster.fbs: " + parser.error_);
  }
  flatbuffers::Verifier verifier(parser.builder_.GetBufferPointer(), parser.builder_.GetSize());
  if (!cluster::VerifyClusterBuffer(verifier)) {
    return Status(StatusCode::kInvalidArgument, origin + ": the cluster description does not verify");
  }
  const cluster::Cluster* c = cluster::GetCluster(parser.builder_.GetBufferPointer());
  ClusterConfig config;
  for (const cluster::Worker* w : *c->workers()) {
    std::string host;
    uint16_t port = 0;
    SHOAL_RETURN_IF_ERROR(parse_address(w->address()->str(), &host, &port));
    config.addresses.push_back(w->address()->str());
    config.names.push_back(w->name() ? w->name()->str() : w->address()->str());
    auto power = power_model(w->power(), origin + ": worker " + config.names.back());
    if (!power.is_ok()) return power.status();
    config.power.push_back(power.value());
  }
  auto master_power = power_model(c->master_power(), origin + ": the master");
  if (!master_power.is_ok()) return master_power.status();
  config.master_power = master_power.value();
  if (config.addresses.empty()) return Status(StatusCode::kInvalidArgument, origin + " lists no workers");
  if (c->policy()) config.policy = c->policy()->str();
  config.deadline_ms = c->deadline_ms();
  config.margin_ms = c->margin_ms();
  config.margin_fraction = c->margin_fraction();
  config.static_target_ms = c->static_target_ms();
  if (c->transport()) {
    SHOAL_RETURN_IF_ERROR(parse_transport(c->transport()->str()).status());
    config.transport = c->transport()->str();
  }
  if (c->key_file()) {
    auto key = load_key_file(c->key_file()->str());
    if (!key.is_ok()) return key.status();
    config.key = key.value();
  }
  return config;
}

Result<ClusterConfig> load_cluster(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status(StatusCode::kNotFound, "cannot open cluster file '" + path + "'");
  std::stringstream text;
  text << in.rdbuf();
  return parse_cluster(text.str(), "cluster file '" + path + "'");
}

Result<MasterOptions> master_options(const ClusterConfig& cluster) {
  auto transport = parse_transport(cluster.transport);
  if (!transport.is_ok()) return transport.status();
  MasterOptions options;
  options.addresses = cluster.addresses;
  options.latency.margin_ms = cluster.margin_ms;
  options.latency.margin_fraction = cluster.margin_fraction;
  options.key = cluster.key;
  options.dialer = &dialer_for(transport.value());
  return options;
}

}  // namespace shoal::net
