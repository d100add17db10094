// libFuzzer target: a checkpoint object as recovery reads it (decode_checkpoint, then the
// idempotent-producer snapshot it carries).
//
// The first input byte picks a mode; the rest is the checkpoint. In odd modes the trailing CRC32C
// is recomputed first, so mutations reach the body instead of stopping at the checksum. A
// checkpoint that decodes must encode to bytes that decode to the same values.
#include <cstdint>
#include <string>
#include <string_view>

#include "common/assert.h"
#include "common/crc32c.h"
#include "log/checkpoint.h"
#include "log/producer_state.h"

namespace {

using namespace ks::log;

void fix_crc(std::string& cp) {
  if (cp.size() < 8) return;
  const std::uint32_t crc = ks::crc32c(std::string_view(cp).substr(0, cp.size() - 8));
  char* c = cp.data() + cp.size() - 8;
  for (int i = 0; i < 4; ++i) c[i] = static_cast<char>(crc >> (8 * i));  // little-endian
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string cp(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1) fix_crc(cp);
  auto c = decode_checkpoint(cp);
  if (!c.ok()) return 0;
  (void)decode_producer_snapshot(c->producer_state);
  auto again = decode_checkpoint(encode_checkpoint(*c));
  KS_ASSERT(again.ok(), "re-encoded checkpoint does not decode: {}", again.status().to_string());
  KS_ASSERT(again->partitions.size() == c->partitions.size() && again->covers_seq == c->covers_seq &&
                again->producer_state == c->producer_state,
            "re-encoded checkpoint decodes to other values");
  return 0;
}
