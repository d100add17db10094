// One hex digit's value: 0..15, or -1 for anything else (either letter case). For the decoders of
// percent-encoded keys and URIs and of hex topic ids.
#pragma once

namespace ks {

constexpr int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace ks
