// `kafscale inspect`: prints an object's or checkpoint's contents (implemented in inspect.cc).
#pragma once

#include <string>

#include "common/env.h"

namespace ks::broker {

struct InspectOptions {
  std::string target;        // path or object key
  std::string object_store;  // URL; never empty (defaults like the broker's object-store)
};
// `env` supplies the object store's credentials (stores.h).
int run_inspect(const InspectOptions& opt, const EnvLookup& env);

}  // namespace ks::broker
