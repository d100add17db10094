// HTTP transport to etcd's JSON gateway, internal to the etcd backend: a pool
// of curl handles (each keeps its keep-alive connection), failover across
// the endpoints and the auth token. The error rules are those of
// etcd_store.h: a request that never reached a server is tried on the next
// endpoint; a lost write is a timeout; a lost read is retried.
#pragma once

#include <curl/curl.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "metastore/etcd_codec.h"
#include "metastore/etcd_store.h"

namespace ks::metastore::etcd {

// Sent with every unary request (not with watch streams): etcd's gateway
// passes it on as the gRPC metadata "hasleader", with which a member that has
// no leader (an election in progress, or cut off from the quorum) refuses the
// request at once with "etcdserver: no leader" (known not applied: tried on
// the next endpoint) instead of holding it for its request timeout (7 s with
// the default election timeout) and then answering "request timed out"
// (outcome unknown for a write, and the same member tried first again).
// Watches go without it: etcd would cancel every watch of a member that lost
// its leader and refuse new ones, so a quorum loss would turn into watches
// reconnecting in a loop, each attempt holding a worker thread; a watch on a
// member without a leader delivers nothing until the member has one again.
inline constexpr const char* kRequireLeaderHeader = "Grpc-Metadata-hasleader: true";

// Request headers of one transfer, freed with the object.
struct Headers {
  curl_slist* list = nullptr;
  Headers() = default;
  Headers(const Headers&) = delete;
  Headers& operator=(const Headers&) = delete;
  ~Headers() { curl_slist_free_all(list); }
  void add(const std::string& h) { list = curl_slist_append(list, h.c_str()); }
};

// Thread-safe.
class Transport {
 public:
  explicit Transport(EtcdOptions options);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  const EtcdOptions& options() const { return opts_; }
  // The endpoint to try first: requests move it past endpoints they could not reach.
  std::size_t preferred() const { return preferred_.load(); }

  // POSTs `req` to `path` ("/v3/kv/range") on the endpoints in turn, from
  // the preferred one, until one answers HTTP 200 with a JSON object, all
  // within options().timeout. `idempotent` requests (reads) are also retried
  // on the next endpoint after a response was lost. With a username, sends
  // the auth token and authenticates again once when etcd rejects it.
  Result<json> call(const std::string& path, const json& req, bool idempotent);

  // The auth token, authenticating first when there is none. Only with a username.
  Result<std::string> auth_token();
  // Forgets the token `used` (etcd rejected it) so the next request authenticates again.
  void drop_token(const std::string& used);

  // Options shared by requests and watch streams: URL, POST body, headers
  // (JSON, the token when not empty, kRequireLeaderHeader when
  // `require_leader`), no proxy, no signals, TLS files, `errbuf`
  // (CURL_ERROR_SIZE bytes). `url`, `body`, `headers` and `errbuf` must
  // outlive the transfer.
  void setup(CURL* h, const std::string& url, const std::string& body, Headers& headers,
             const std::string& token, char* errbuf, bool require_leader) const;

 private:
  enum class Outcome { ok, not_sent, lost, error };
  struct Attempt {
    Outcome outcome = Outcome::error;
    json body;
    Status status;
  };

  Result<json> call(const std::string& path, const json& req, bool idempotent, bool with_token);
  // One request to endpoint `ep` within `budget`.
  Attempt attempt(std::size_t ep, const std::string& path, const std::string& body,
                  std::chrono::milliseconds budget, const std::string& token);
  CURL* acquire();
  void release(CURL* h);

  const EtcdOptions opts_;
  std::atomic<std::size_t> preferred_{0};

  std::mutex pool_mu_;
  std::vector<CURL*> pool_;  // idle handles

  std::mutex token_mu_;  // serialises authentication too
  std::string token_;
};

}  // namespace ks::metastore::etcd
