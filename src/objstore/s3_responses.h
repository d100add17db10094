// Reading S3's XML answers: error bodies, ListObjectsV2 pages, CreateMultipartUpload, and the per-key
// errors of DeleteObjects / CompleteMultipartUpload. Pure functions over untrusted bytes (no I/O): the
// S3 backend calls them, the s3_xml fuzz target drives them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ks::objstore::s3 {

// <Error><Code>..</Code><Message>..</Message></Error>; empty fields when absent.
struct ErrorBody {
  std::string code;
  std::string message;
};
ErrorBody parse_error(std::string_view body);

struct ListEntry {
  std::string key;  // the whole key, the store's prefix included
  std::uint64_t size = 0;
};
struct ListPage {
  std::vector<ListEntry> entries;
  bool truncated = false;
  std::string next_token;  // NextContinuationToken; empty when absent
};
// One ListObjectsV2 page. Every <Contents> needs a Key and a decimal Size; at most max_entries
// entries (S3 sends at most the max-keys asked for). Errors name what is malformed.
Result<ListPage> parse_list_page(std::string_view body, std::size_t max_entries);

// CreateMultipartUpload's UploadId; nullopt when absent or empty.
std::optional<std::string> parse_upload_id(std::string_view body);

// The <Error> elements of a DeleteObjects result (quiet mode lists only failures) or of a
// CompleteMultipartUpload answered 200 with an error body.
struct KeyError {
  std::string key;  // empty for CompleteMultipartUpload
  std::string code;
  std::string message;
};
struct KeyErrors {
  std::size_t count = 0;
  std::optional<KeyError> first;
};
KeyErrors parse_key_errors(std::string_view body);

}  // namespace ks::objstore::s3
