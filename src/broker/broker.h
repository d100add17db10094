// Broker entry point (implemented in broker.cc).
#pragma once

#include "broker/config.h"

namespace ks::broker {
int run_broker(const Config& cfg);
}  // namespace ks::broker
