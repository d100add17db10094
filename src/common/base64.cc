#include "common/base64.h"

#include <algorithm>
#include <array>
#include <cstdint>

namespace ks {
namespace {

constexpr std::string_view kStandard = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kUrl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// Character -> 6-bit value, -1 outside the alphabet.
constexpr std::array<signed char, 256> decode_table(std::string_view alphabet) {
  std::array<signed char, 256> t{};
  t.fill(-1);
  for (std::size_t i = 0; i < alphabet.size(); ++i) {
    t[static_cast<unsigned char>(alphabet[i])] = static_cast<signed char>(i);
  }
  return t;
}

constexpr auto kStandardTable = decode_table(kStandard);
constexpr auto kUrlTable = decode_table(kUrl);

}  // namespace

std::string base64_encode(std::string_view in, Base64 alphabet) {
  const std::string_view chars = alphabet == Base64::url ? kUrl : kStandard;
  const bool pad = alphabet == Base64::standard;
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  auto byte = [&](std::size_t i) -> std::uint32_t { return i < in.size() ? std::uint8_t(in[i]) : 0; };
  for (std::size_t i = 0; i < in.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, in.size() - i);  // input bytes in this group
    const std::uint32_t v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    for (std::size_t k = 0; k < 4; ++k) {
      if (k <= n) {
        out += chars[v >> (18 - 6 * k) & 63];
      } else if (pad) {
        out += '=';
      }
    }
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view in, Base64 alphabet) {
  const auto& table = alphabet == Base64::url ? kUrlTable : kStandardTable;
  if (alphabet == Base64::standard) {
    if (in.size() % 4 != 0) return std::nullopt;
    // At most two '=', only at the end.
    std::size_t pad = 0;
    while (pad < in.size() && pad < 3 && in[in.size() - 1 - pad] == '=') ++pad;
    if (pad > 2) return std::nullopt;
    in.remove_suffix(pad);
  }
  if (in.size() % 4 == 1) return std::nullopt;  // 6 bits cannot end a byte
  std::string out;
  out.reserve(in.size() / 4 * 3 + 2);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const int d = table[static_cast<unsigned char>(c)];
    if (d < 0) return std::nullopt;
    acc = (acc << 6 | static_cast<std::uint32_t>(d)) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>(acc >> bits & 0xff));
    }
  }
  return out;
}

}  // namespace ks
