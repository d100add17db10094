// CRC32C (Castagnoli), the checksum of Kafka RecordBatch v2 and of our own
// storage formats.
#pragma once

#include <cstdint>
#include <string_view>

namespace ks {

// Standard CRC32C of `data` (pre- and post-inverted, as in RFC 3720 / Kafka).
// Pass a previous result as `crc` to continue it:
// crc32c(b, crc32c(a)) == crc32c(a + b).
uint32_t crc32c(std::string_view data, uint32_t crc = 0);

}  // namespace ks
