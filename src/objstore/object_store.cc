#include "objstore/object_store.h"

namespace ks::objstore {

namespace {

// Keys become file paths in the local backend and URL paths in S3, so only a
// conservative character set is accepted.
bool valid_key_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-' || c == '/';
}

}  // namespace

bool valid_key(std::string_view key) {
  if (key.empty() || key.size() > 1024) return false;
  for (char c : key) {
    if (!valid_key_char(c)) return false;
  }
  // Every '/'-separated segment must be a plain name: this rejects a leading
  // or trailing '/', "//", and "." / ".." segments.
  std::size_t start = 0;
  while (true) {
    std::size_t end = key.find('/', start);
    std::string_view seg = key.substr(start, end == std::string_view::npos ? key.npos : end - start);
    if (seg.empty() || seg == "." || seg == "..") return false;
    if (end == std::string_view::npos) return true;
    start = end + 1;
  }
}

}  // namespace ks::objstore
