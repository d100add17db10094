// Wall-clock time in milliseconds since the epoch (record timestamps,
// retention, commit times). Durations and deadlines use the monotonic Clock
// (common/async.h) instead.
#pragma once

#include <chrono>
#include <cstdint>

namespace ks {

inline std::int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace ks
