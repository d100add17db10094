// Broker entry point (implemented in broker.cc).
#pragma once

#include "broker/config.h"
#include "common/env.h"

namespace ks::broker {
// `env` supplies the stores' credentials (AWS_*, KAFSCALE_ETCD_*); see stores.h.
int run_broker(const Config& cfg, const EnvLookup& env);
}  // namespace ks::broker
