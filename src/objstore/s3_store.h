// S3ObjectStore: ObjectStore over the S3 REST API (AWS S3, Swift s3api, ...),
// with libcurl doing the SigV4 signing.
//
// URL: s3://BUCKET/PREFIX?endpoint=URL&region=R&path_style=true|false
//   endpoint    percent-encoded base URL (http://127.0.0.1:8080); default
//               https://s3.REGION.amazonaws.com
//   region      default us-east-1
//   path_style  default true with an explicit endpoint, else false
//               (virtual-hosted: https://BUCKET.s3.REGION.amazonaws.com)
// Object "k" lives at key "PREFIX/k".
//
// Requests carry x-amz-content-sha256: UNSIGNED-PAYLOAD (the payload is
// protected by Content-MD5 instead, sent on every PUT and multi-object
// delete). Failures map to Errc as follows:
//   404 NoSuchKey                -> not_found
//   404 NoSuchBucket             -> unavailable (never "object missing")
//   403 (bad key, signature...)  -> unavailable, message names the problem
//   416 / range past the end     -> invalid_argument
//   other 4xx                    -> io_error (not retried)
//   timeouts                     -> timeout (a PUT/DELETE may have applied)
//   5xx, SlowDown, connection    -> retried with exponential backoff and
//                                   full jitter, then unavailable (timeout
//                                   when an attempt's outcome is unknown)
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "objstore/aws_credentials.h"
#include "objstore/object_store.h"

namespace ks::objstore {

struct S3Location {
  std::string bucket;
  std::string prefix;    // "" or ending in '/'
  std::string endpoint;  // scheme://host[:port], no trailing '/'
  std::string region = "us-east-1";
  bool path_style = true;
};

// Parses the URL form above. invalid_argument with a reason otherwise.
Result<S3Location> parse_s3_url(const std::string& url);

struct S3Options {
  // Required. See default_credentials_provider().
  std::shared_ptr<CredentialsProvider> credentials;
  // Concurrent requests (and pooled keep-alive connections); more callers wait.
  int max_connections = 16;
  std::chrono::milliseconds connect_timeout{3000};
  // Per attempt, plus transfer time at min_throughput for the body size.
  std::chrono::milliseconds request_timeout{15000};
  std::uint64_t min_throughput = 1 << 20;  // bytes/s
  int max_attempts = 4;                    // first try included
  std::chrono::milliseconds retry_base_delay{100};
  std::chrono::milliseconds retry_max_delay{5000};
  // Objects larger than this are uploaded in parts of part_size (S3 allows
  // at most 10,000 parts of >= 5 MiB except the last).
  std::uint64_t multipart_threshold = 64ull << 20;
  std::uint64_t part_size = 16ull << 20;
  int list_page_size = 1000;  // ListObjectsV2 max-keys (S3 caps it at 1000)
  // open() checks the bucket answers with these credentials.
  bool verify_on_open = true;
};

class S3ObjectStore final : public ObjectStore {
 public:
  static Result<std::unique_ptr<S3ObjectStore>> open(const std::string& url, S3Options options);
  static Result<std::unique_ptr<S3ObjectStore>> open(S3Location location, S3Options options);

  ~S3ObjectStore() override;
  S3ObjectStore(const S3ObjectStore&) = delete;
  S3ObjectStore& operator=(const S3ObjectStore&) = delete;

  Status put(std::string_view key, std::string_view data) override;
  Result<std::string> get(std::string_view key, std::optional<ByteRange> range = std::nullopt) override;
  Result<std::vector<ObjectInfo>> list(std::string_view prefix) override;
  Status remove(std::string_view key) override;
  std::string describe() const override;  // "s3://bucket/prefix (endpoint)"

  // Keys are limited to 1024 bytes minus the prefix length (S3 caps whole
  // keys at 1024); longer ones are invalid_argument.

  // Multi-object delete (1000 keys per request); missing keys are ok.
  Status remove_many(const std::vector<std::string>& keys);
  // A ListObjectsV2 of one key under the prefix: fails when the bucket is
  // missing or the credentials are refused.
  Status check_access();
  // Creates / deletes (must be empty) the bucket itself: for tests and
  // tooling; the broker expects an existing bucket.
  Status create_bucket();
  Status delete_bucket();

  const S3Location& location() const { return loc_; }

  // Same limits as the local backend: whole-object gets return one string,
  // and one list() call cannot grow without bound.
  static constexpr std::uint64_t kMaxObjectSize = 5ull << 30;
  static constexpr std::size_t kMaxListResults = 1'000'000;

  struct Request;   // one HTTP exchange (s3_store.cc)
  struct Response;  // its outcome

 private:
  S3ObjectStore(S3Location loc, S3Options opts);

  Result<Response> execute(const Request& req);
  Result<Response> attempt(const Request& req, bool& outcome_unknown);
  Status check_key(std::string_view key) const;
  Status put_multipart(const std::string& object, std::string_view data);
  std::string url_for(const std::string& object, const std::string& query) const;
  void* acquire();
  void release(void* handle);

  const S3Location loc_;
  const S3Options opts_;

  // Pool of idle curl easy handles; each keeps its own keep-alive
  // connection. At most opts_.max_connections exist (the concurrency limit).
  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::vector<void*> idle_;
  int created_ = 0;
};

}  // namespace ks::objstore
