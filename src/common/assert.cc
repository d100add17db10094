#include "common/assert.h"

#include <cstdio>
#include <cstdlib>

namespace ks::detail {

void assert_failed(const char* file, int line, const char* condition, const std::string& message) {
  std::fprintf(stderr, "%s:%d: invariant violated: %s: %s\n", file, line, condition, message.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace ks::detail
