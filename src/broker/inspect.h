// `kafscale inspect`: prints an object's or checkpoint's contents (implemented in inspect.cc).
#pragma once

#include <string>

namespace ks::broker {

struct InspectOptions {
  std::string target;        // path or object key
  std::string object_store;  // URL; never empty (defaults like the broker's object-store)
};
int run_inspect(const InspectOptions&);

}  // namespace ks::broker
