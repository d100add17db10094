// libFuzzer target: a log object as read back from the object store (whole-object parse, the
// trailer and footer reads recovery does with ranged GETs, and the producer digest chunk).
//
// The first input byte picks a mode; the rest is the object. In odd modes the footer CRC in the
// trailer is recomputed first, so mutations reach the footer's entries instead of stopping at the
// checksum. Whatever parses must be self-consistent (entries inside the data area).
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "common/assert.h"
#include "common/crc32c.h"
#include "log/object_format.h"
#include "log/producer_state.h"

namespace {

using namespace ks::log;

// Our storage formats are little-endian (common/binary.h).
template <class T>
T le(const char* p) {
  T v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i)
    v |= static_cast<T>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

// Rewrites the trailer's footer CRC for the footer it locates, when that location is in bounds.
void fix_footer_crc(std::string& obj) {
  if (obj.size() < kObjectHeaderSize + kObjectTrailerSize) return;
  const char* t = obj.data() + obj.size() - kObjectTrailerSize;
  const auto pos = le<std::uint64_t>(t);
  const auto len = le<std::uint32_t>(t + 8);
  const std::size_t footer_end = obj.size() - kObjectTrailerSize;
  if (pos > footer_end || len > footer_end - pos) return;
  const std::uint32_t crc = ks::crc32c(std::string_view(obj).substr(pos, len));
  char* c = obj.data() + obj.size() - kObjectTrailerSize + 12;
  for (int i = 0; i < 4; ++i) c[i] = static_cast<char>(crc >> (8 * i));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string obj(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1) fix_footer_crc(obj);
  auto parsed = parse_object(obj);
  if (parsed.ok()) {
    const std::uint64_t footer_pos = parsed->footer.position;
    for (const ObjectEntry& e : parsed->entries) {
      KS_ASSERT(e.position >= kObjectHeaderSize && e.position + e.length <= footer_pos,
                "entry [{}, +{}) outside the data area [{}, {})", e.position, e.length, kObjectHeaderSize,
                footer_pos);
      if (e.topic == kProducerDigestTopic) {
        auto digest = decode_producer_digest(std::string_view(obj).substr(e.position, e.length));
        if (digest.ok()) {
          auto again = decode_producer_digest(encode_producer_digest(*digest));
          KS_ASSERT(again.ok(), "re-encoded producer digest does not decode: {}", again.status().to_string());
        }
      }
    }
  }
  // Recovery's path: the trailer alone, then the footer it locates.
  if (obj.size() >= kObjectTrailerSize) {
    auto trailer = parse_trailer(std::string_view(obj).substr(obj.size() - kObjectTrailerSize));
    if (trailer.ok() && trailer->footer.position <= obj.size() &&
        trailer->footer.length <= obj.size() - trailer->footer.position) {
      (void)decode_footer(std::string_view(obj).substr(trailer->footer.position, trailer->footer.length),
                          trailer->footer_crc);
    }
  }
  return 0;
}
