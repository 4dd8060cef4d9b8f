// A cluster description: people write it as JSON; it is checked against schema/cluster.fbs.
#ifndef SHOAL_NET_CLUSTER_H_
#define SHOAL_NET_CLUSTER_H_

#include <string>
#include <vector>

#include "shoal/energy.h"
#include "shoal/net/key_file.h"
#include "shoal/net/master.h"
#include "shoal/status.h"

namespace shoal::net {

struct ClusterConfig {
  std::vector<std::string> names, addresses;
  std::string policy = "adaensemble";
  double deadline_ms = 0;  // 0: not given
  double margin_ms = 0.3, margin_fraction = 0.1;
  double static_target_ms = 0;  // 0: the deadline
  std::string key;              // from key_file, if given
  std::string transport = "tcp";
  std::vector<PowerModel> power;  // per worker (all zero where the file gives none)
  PowerModel master_power;
  bool has_power() const;         // any device has a power model
};

// Errors name the file and, for JSON that does not fit the schema, the line.
Result<ClusterConfig> load_cluster(const std::string& path);
Result<ClusterConfig> parse_cluster(const std::string& json, const std::string& origin);

// What a master takes from a cluster description: its workers, margins, key and transport
// (an unknown transport is an error). The rest of MasterOptions is left at its defaults.
Result<MasterOptions> master_options(const ClusterConfig& cluster);

}  // namespace shoal::net

#endif  // SHOAL_NET_CLUSTER_H_
