// Base64 (RFC 4648): the standard alphabet with '=' padding (etcd's JSON
// gateway, our group records, S3's Content-MD5) and the URL-safe alphabet
// without padding (Kafka's printed UUIDs).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ks {

enum class Base64 {
  standard,  // A-Z a-z 0-9 + /, padded with '=' to a multiple of 4
  url,       // A-Z a-z 0-9 - _, no padding
};

std::string base64_encode(std::string_view in, Base64 alphabet = Base64::standard);

// nullopt on a character outside the alphabet, a length no encoding has, or
// (standard) padding anywhere but the end or more than two of it. The unused
// low bits of the last character are ignored.
std::optional<std::string> base64_decode(std::string_view in, Base64 alphabet = Base64::standard);

}  // namespace ks
