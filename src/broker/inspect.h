// `kafscale inspect`: prints an object's or checkpoint's contents (implemented in inspect.cc).
#pragma once

#include <string>

#include "common/env.h"

namespace ks::broker {

struct InspectOptions {
  std::string target;        // path or object key, or "placement"
  std::string object_store;  // URL; never empty (defaults like the broker's object-store)
  std::string metadata;      // URL; never empty (defaults like the broker's metadata)
};
// target "placement": the cluster as the metadata store holds it (controller,
// live brokers, each stream's placement, owner and checkpoint). `env`
// supplies the stores' credentials (stores.h).
int run_inspect(const InspectOptions& opt, const EnvLookup& env);

}  // namespace ks::broker
