// The one reader of the process environment. Everything else gets an
// EnvLookup (common/env.h) from the top: main() hands process_env() to the
// command line, which passes it on to configuration and store opening.
#pragma once

#include "common/env.h"

namespace ks::broker {

// Reads the process environment (getenv) at each call.
EnvLookup process_env();

}  // namespace ks::broker
