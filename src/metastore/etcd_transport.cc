#include "metastore/etcd_transport.h"

#include <algorithm>
#include <chrono>

namespace ks::metastore::etcd {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Idle curl handles kept for reuse (each holds one keep-alive connection).
constexpr std::size_t kMaxIdleHandles = 16;
// A response larger than this is refused (limit_exceeded), e.g. a range over
// a huge prefix without a limit.
constexpr std::size_t kMaxResponseBytes = 256u << 20;

struct Sink {
  std::string data;
  std::size_t limit = kMaxResponseBytes;
  bool overflow = false;
};

std::size_t sink_write(char* ptr, std::size_t size, std::size_t n, void* user) {
  auto* sink = static_cast<Sink*>(user);
  std::size_t bytes = size * n;
  if (sink->data.size() + bytes > sink->limit) {
    sink->overflow = true;
    return 0;  // aborts the transfer
  }
  sink->data.append(ptr, bytes);
  return bytes;
}

// The connection was never established (or the TLS handshake failed), so the
// request cannot have reached etcd.
bool never_connected(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
      return true;
    default:
      return false;
  }
}

}  // namespace

Transport::Transport(EtcdOptions options) : opts_(std::move(options)) {}

Transport::~Transport() {
  for (CURL* h : pool_) curl_easy_cleanup(h);
}

CURL* Transport::acquire() {
  {
    std::lock_guard l(pool_mu_);
    if (!pool_.empty()) {
      CURL* h = pool_.back();
      pool_.pop_back();
      return h;
    }
  }
  return curl_easy_init();
}

void Transport::release(CURL* h) {
  curl_easy_reset(h);  // keeps its connection for reuse
  std::lock_guard l(pool_mu_);
  if (pool_.size() < kMaxIdleHandles) {
    pool_.push_back(h);
    return;
  }
  curl_easy_cleanup(h);
}

void Transport::setup(CURL* h, const std::string& url, const std::string& body, Headers& headers,
                      const std::string& token, char* errbuf, bool require_leader) const {
  headers.add("Content-Type: application/json");
  headers.add("Expect:");  // no 100-continue round trip for large bodies
  if (!token.empty()) headers.add("Authorization: " + token);
  if (require_leader) headers.add(kRequireLeaderHeader);
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_POST, 1L);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.list);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PROXY, "");  // etcd is never reached through http_proxy
  curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  if (!opts_.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, opts_.ca_file.c_str());
  if (!opts_.cert_file.empty()) curl_easy_setopt(h, CURLOPT_SSLCERT, opts_.cert_file.c_str());
  if (!opts_.key_file.empty()) curl_easy_setopt(h, CURLOPT_SSLKEY, opts_.key_file.c_str());
}

Transport::Attempt Transport::attempt(std::size_t ep, const std::string& path, const std::string& body,
                                      milliseconds budget, const std::string& token) {
  CURL* h = acquire();
  if (h == nullptr) return {Outcome::not_sent, {}, Status(Errc::unavailable, "etcd: curl_easy_init failed")};
  const std::string url = opts_.endpoints[ep] + path;
  Headers headers;
  char errbuf[CURL_ERROR_SIZE] = {};
  Sink sink;
  setup(h, url, body, headers, token, errbuf, /*require_leader=*/true);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<std::int64_t>(1, budget.count())));
  curl_easy_setopt(
      h, CURLOPT_CONNECTTIMEOUT_MS,
      static_cast<long>(std::max<std::int64_t>(1, std::min(budget, opts_.connect_timeout).count())));
  CURLcode rc = curl_easy_perform(h);
  long http = 0;
  long request_size = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &http);
  curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &request_size);
  release(h);

  const std::string where = " (" + url + ")";
  if (rc != CURLE_OK) {
    std::string what = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
    if (sink.overflow) {
      return {Outcome::error,
              {},
              Status(Errc::limit_exceeded,
                     "etcd: response larger than " + std::to_string(kMaxResponseBytes) + " bytes" + where)};
    }
    // Not connected, or timed out before a byte of the request went out.
    if (never_connected(rc) || (rc == CURLE_OPERATION_TIMEDOUT && request_size == 0)) {
      return {Outcome::not_sent, {}, Status(Errc::unavailable, "etcd: " + what + where)};
    }
    return {
        Outcome::lost, {}, Status(Errc::timeout, "etcd: " + what + " after the request was sent" + where)};
  }
  json j = json::parse(sink.data, nullptr, false);
  if (http == 200) {
    if (j.is_discarded() || !j.is_object()) {
      return {Outcome::lost, {}, Status(Errc::timeout, "etcd: unparsable response" + where)};
    }
    return {Outcome::ok, std::move(j), {}};
  }
  Status s = http_error(http, j);
  s = Status(s.code(), s.message() + where);
  if (s.code() == Errc::unavailable) return {Outcome::not_sent, {}, std::move(s)};
  if (s.code() == Errc::timeout) return {Outcome::lost, {}, std::move(s)};
  return {Outcome::error, {}, std::move(s)};
}

Result<json> Transport::call(const std::string& path, const json& req, bool idempotent) {
  return call(path, req, idempotent, true);
}

Result<json> Transport::call(const std::string& path, const json& req, bool idempotent, bool with_token) {
  const std::string body = dump(req);
  const auto deadline = Clock::now() + opts_.timeout;
  const std::size_t n = opts_.endpoints.size();
  const std::size_t first = preferred_.load();
  Status last(Errc::unavailable, "etcd: no endpoint tried");
  bool lost = false;
  bool reauthed = false;
  for (std::size_t i = 0; i < n;) {
    const std::size_t ep = (first + i) % n;
    auto budget = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (budget.count() <= 0) {
      if (!lost) return last;
      return Status(Errc::timeout, "etcd: request timed out; last error: " + last.message());
    }
    std::string tok;
    if (with_token && !opts_.username.empty()) {
      auto t = auth_token();
      if (!t.ok()) return t.status();
      tok = std::move(t).value();
    }
    Attempt a = attempt(ep, path, body, budget, tok);
    switch (a.outcome) {
      case Outcome::ok:
        return std::move(a.body);
      case Outcome::not_sent: {
        last = std::move(a.status);
        std::size_t expected = ep;
        preferred_.compare_exchange_strong(expected, (ep + 1) % n);
        ++i;
        break;
      }
      case Outcome::lost:
        if (!idempotent) return std::move(a.status);
        last = std::move(a.status);
        lost = true;
        ++i;
        break;
      case Outcome::error:
        if (!tok.empty() && !reauthed && is_auth_token_error(a.status)) {
          reauthed = true;  // token expired: authenticate again, same endpoint
          drop_token(tok);
          break;
        }
        return std::move(a.status);
    }
  }
  if (lost) return Status(Errc::timeout, last.message());
  return Status(Errc::unavailable, "etcd: no endpoint reachable; last error: " + last.message());
}

Result<std::string> Transport::auth_token() {
  std::lock_guard l(token_mu_);
  if (!token_.empty()) return token_;
  auto r = call("/v3/auth/authenticate", encode_authenticate(opts_.username, opts_.password), true, false);
  if (!r.ok())
    return Status(r.code(), "etcd authentication as '" + opts_.username + "': " + r.status().message());
  auto t = decode_auth_token(*r);
  if (!t.ok()) return t.status();
  token_ = std::move(t).value();
  return token_;
}

void Transport::drop_token(const std::string& used) {
  std::lock_guard l(token_mu_);
  if (token_ == used) token_.clear();
}

}  // namespace ks::metastore::etcd
