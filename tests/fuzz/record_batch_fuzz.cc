// libFuzzer target: RecordBatch validation and recompression with every codec (untrusted produce input).
//
// The first input byte picks a mode:
//   even: the rest is a whole record set, as a Produce request carries it (validate_record_set, then every
//         valid batch recompressed to each codec, and the result validated again);
//   odd:  the rest is the payload of one batch whose codec is (byte >> 1) % 5, wrapped in a well-formed
//         header with a correct CRC, so the decompressors and the record parser see arbitrary payloads.
// Any crash, sanitizer report or failed assertion is a finding; a refused input is not.
#include <cstdint>
#include <string>
#include <string_view>

#include "common/assert.h"
#include "protocol/compression.h"
#include "protocol/record_batch.h"

namespace {

using namespace ks::protocol;

constexpr std::size_t kLimit = 1 << 20;

void recompress_all(std::string_view records) {
  auto v = validate_record_set(records);
  const auto* batches = std::get_if<std::vector<BatchInfo>>(&v);
  if (batches == nullptr) return;
  for (const auto& b : *batches) {
    for (int codec = kCompressionNone; codec <= kCompressionZstd; ++codec) {
      auto out = recompress_batch(records.substr(b.position, b.size), codec, kLimit);
      if (const auto* s = std::get_if<std::string>(&out)) {
        auto again = validate_record_set(*s);
        KS_ASSERT(std::holds_alternative<std::vector<BatchInfo>>(again),
                  "recompressed batch does not validate");
        KS_ASSERT(parse_batch_header(*s).compression() == codec, "recompressed batch has another codec");
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 1) == 0) {
    recompress_all(rest);
    return 0;
  }
  const int codec = (data[0] >> 1) % 5;
  std::string error;
  (void)decompress(codec, rest, kLimit, error);
  // One record per byte of the count, at most 8: the payload decides whether they parse.
  const int count = 1 + (data[0] >> 5);
  std::string batch = build_batch(std::vector<TestRecord>(static_cast<std::size_t>(count)), 0, 0);
  batch.resize(kBatchHeaderSize);
  batch.append(rest);
  const auto len = static_cast<std::uint32_t>(batch.size() - kBatchLogOverhead);
  for (int i = 0; i < 4; ++i) batch[8 + i] = static_cast<char>(len >> (24 - 8 * i));
  batch[22] = static_cast<char>((batch[22] & ~kAttrCompressionMask) | codec);
  update_batch_crc(batch.data(), batch.size());
  recompress_all(batch);
  return 0;
}
