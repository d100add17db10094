// `kafscale broker --check-config`: validates the settings and the store URLs without starting
// anything (no connection, no file written), so a deployment's arguments and environment can be
// checked before they run (deploy/, tests/integration/test_kubernetes.py).
#pragma once

#include <ostream>

#include "broker/config.h"

namespace ks::broker {

// The flag that turns `kafscale broker` into the check.
inline constexpr const char* kCheckConfigFlag = "--check-config";

// Offline checks of a parsed configuration: the object store and metadata URLs parse, the etcd login
// variables are complete (a password file named by KAFSCALE_ETCD_PASSWORD_FILE must be readable), and
// AWS credentials in the environment are not half set. Absent AWS credentials are not an error (in a
// pod, IRSA injects them). Prints "configuration OK" and every resolved setting to `out` and returns 0,
// or prints the error to `err` and returns 2.
int check_config(const Config& cfg, const EnvLookup& env, std::ostream& out, std::ostream& err);

}  // namespace ks::broker
