#include "common/crc32c.h"

#include <isa-l/crc.h>

#include <algorithm>
#include <cstddef>

namespace ks {

uint32_t crc32c(std::string_view data, uint32_t crc) {
  // isa-l takes an int length, so feed it at most 1 GiB at a time. Its
  // register neither pre- nor post-inverts: undo the previous final inversion,
  // run, and invert again; this is what makes chaining work.
  constexpr size_t kChunk = size_t{1} << 30;
  uint32_t reg = crc ^ 0xFFFFFFFFu;
  // isa-l's signature is not const-correct; it only reads the buffer.
  auto* p = reinterpret_cast<unsigned char*>(const_cast<char*>(data.data()));
  size_t left = data.size();
  while (left > 0) {
    size_t n = std::min(left, kChunk);
    reg = crc32_iscsi(p, static_cast<int>(n), reg);
    p += n;
    left -= n;
  }
  return reg ^ 0xFFFFFFFFu;
}

}  // namespace ks
