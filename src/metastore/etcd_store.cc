#include "metastore/etcd_store.h"

#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <charconv>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <thread>

#include "metastore/request_checks.h"

namespace ks::metastore {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Idle curl handles kept for reuse (each holds one keep-alive connection).
constexpr std::size_t kMaxIdleHandles = 16;
// A response larger than this is refused (limit_exceeded), e.g. a range over
// a huge prefix without a limit.
constexpr std::size_t kMaxResponseBytes = 256u << 20;
// One streamed watch message; etcd batches events, so this is generous.
constexpr std::size_t kMaxWatchMessageBytes = 64u << 20;
// Each watch holds a thread and a connection; the broker needs a handful.
constexpr std::size_t kMaxWatches = 64;
// Endpoints accepted in one URL.
constexpr std::size_t kMaxEndpoints = 32;
// Backoff between reconnect attempts of a broken watch stream.
constexpr milliseconds kWatchBackoffMin{50};
constexpr milliseconds kWatchBackoffMax{1000};

// ---------------------------------------------------------------------------
// base64 (etcd's JSON gateway encodes bytes fields this way)

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string b64(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto u = [&](std::size_t k) { return static_cast<std::uint32_t>(static_cast<unsigned char>(in[k])); };
  for (; i + 3 <= in.size(); i += 3) {
    std::uint32_t v = u(i) << 16 | u(i + 1) << 8 | u(i + 2);
    out += kB64[v >> 18 & 63];
    out += kB64[v >> 12 & 63];
    out += kB64[v >> 6 & 63];
    out += kB64[v & 63];
  }
  if (in.size() - i == 1) {
    std::uint32_t v = u(i) << 16;
    out += kB64[v >> 18 & 63];
    out += kB64[v >> 12 & 63];
    out += "==";
  } else if (in.size() - i == 2) {
    std::uint32_t v = u(i) << 16 | u(i + 1) << 8;
    out += kB64[v >> 18 & 63];
    out += kB64[v >> 12 & 63];
    out += kB64[v >> 6 & 63];
    out += '=';
  }
  return out;
}

bool unb64(std::string_view in, std::string* out) {
  static const auto table = [] {
    std::array<signed char, 256> t{};
    t.fill(-1);
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kB64[i])] = static_cast<signed char>(i);
    return t;
  }();
  out->clear();
  out->reserve(in.size() / 4 * 3);
  std::uint32_t acc = 0;
  int bits = 0;
  std::size_t pad = 0;
  for (char c : in) {
    if (c == '=') {
      ++pad;
      continue;
    }
    if (pad != 0) return false;
    int d = table[static_cast<unsigned char>(c)];
    if (d < 0) return false;
    acc = acc << 6 | static_cast<std::uint32_t>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>(acc >> bits & 0xff));
    }
  }
  return pad <= 2;
}

// ---------------------------------------------------------------------------
// JSON helpers: responses are untrusted, so every access checks types and
// nothing throws.

const json* field(const json& j, const char* name) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(name);
  return it == j.end() || it->is_null() ? nullptr : &*it;
}

// int64 fields arrive as strings ("123"); absent means 0 (proto3 default).
std::int64_t num(const json& j, const char* name) {
  const json* f = field(j, name);
  if (f == nullptr) return 0;
  if (f->is_number_integer()) return f->get<std::int64_t>();
  if (f->is_string()) {
    const auto& s = f->get_ref<const std::string&>();
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && p == s.data() + s.size()) return v;
  }
  return 0;
}

bool flag(const json& j, const char* name) {
  const json* f = field(j, name);
  return f != nullptr && f->is_boolean() && f->get<bool>();
}

std::string str(const json& j, const char* name) {
  const json* f = field(j, name);
  return f != nullptr && f->is_string() ? f->get<std::string>() : std::string();
}

std::string num_str(std::int64_t v) { return std::to_string(v); }

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

Status corrupt(const std::string& what) { return Status(Errc::corrupt, "etcd: malformed response: " + what); }

// ---------------------------------------------------------------------------
// URL parsing

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    unsigned v = 0;
    auto [p, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
    if (ec != std::errc() || p != s.data() + i + 3) return std::nullopt;
    out += static_cast<char>(v);
    i += 2;
  }
  return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    std::size_t p = s.find(sep, start);
    out.push_back(s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start));
    if (p == std::string_view::npos) return out;
    start = p + 1;
  }
}

bool parse_uint(std::string_view s, std::uint64_t max, std::uint64_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size() && *out <= max;
}

Status bad_url(const std::string& why) {
  return Status(Errc::invalid_argument, "metadata: etcd URL: " + why);
}

// "host", "host:port", "[v6]:port" -> "host:port".
Result<std::string> parse_endpoint(std::string_view hp) {
  std::string_view host;
  std::string_view port = "2379";
  if (!hp.empty() && hp[0] == '[') {
    std::size_t close = hp.find(']');
    if (close == std::string_view::npos) return bad_url("unterminated '[' in '" + std::string(hp) + "'");
    host = hp.substr(0, close + 1);
    std::string_view rest = hp.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return bad_url("bad endpoint '" + std::string(hp) + "'");
      port = rest.substr(1);
    }
  } else {
    std::size_t colon = hp.rfind(':');
    host = hp.substr(0, colon);
    if (colon != std::string_view::npos) port = hp.substr(colon + 1);
  }
  if (host.empty() || host == "[]") return bad_url("empty host in '" + std::string(hp) + "'");
  for (char c : host) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' || c == ':' ||
              c == '[' || c == ']';
    if (!ok) return bad_url("bad character in host '" + std::string(host) + "'");
  }
  std::uint64_t p = 0;
  if (!parse_uint(port, 65535, &p) || p == 0) return bad_url("bad port in '" + std::string(hp) + "'");
  return std::string(host) + ":" + std::string(port);
}

// ---------------------------------------------------------------------------
// Curl plumbing

std::once_flag curl_init_once;

void init_curl() {
  std::call_once(curl_init_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

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

struct Headers {
  curl_slist* list = nullptr;
  ~Headers() { curl_slist_free_all(list); }
  void add(const std::string& h) { list = curl_slist_append(list, h.c_str()); }
};

// An error body of the gateway: {"error": "...", "message": "...", "code": N}
// (streams wrap it in {"error": {...}}).
Status error_from_body(const json& body) {
  const json* e = field(body, "error");
  const json& obj = e != nullptr && e->is_object() ? *e : body;
  std::string msg = str(obj, "message");
  if (msg.empty()) msg = str(obj, "error");
  return etcd_error(static_cast<int>(num(obj, "code")), msg);
}

bool is_auth_token_error(const Status& s) {
  return s.message().find("invalid auth token") != std::string::npos;
}

}  // namespace

// ---------------------------------------------------------------------------

Status etcd_error(int code, const std::string& message) {
  auto has = [&](const char* s) { return message.find(s) != std::string::npos; };
  Errc e;
  if (has("too many operations in txn request") || has("request is too large") || has("larger than max")) {
    e = Errc::limit_exceeded;
  } else if (has("required revision has been compacted")) {
    e = Errc::compacted;
  } else if (has("future revision")) {
    e = Errc::invalid_argument;
  } else if (has("lease not found")) {
    e = Errc::not_found;
  } else if (has("database space exceeded") || has("NOSPACE")) {
    e = Errc::nospace;
  } else if (has("request timed out") || has("leader changed") || has("server stopped")) {
    e = Errc::timeout;  // proposed, then lost track: may have applied
  } else if (has("no leader") || has("too many requests") || has("not capable")) {
    e = Errc::unavailable;  // refused before proposing
  } else {
    switch (code) {  // gRPC status codes
      case 3:        // INVALID_ARGUMENT
      case 9:        // FAILED_PRECONDITION
      case 11:       // OUT_OF_RANGE
        e = Errc::invalid_argument;
        break;
      case 5:  // NOT_FOUND
        e = Errc::not_found;
        break;
      case 6:  // ALREADY_EXISTS
        e = Errc::already_exists;
        break;
      case 7:   // PERMISSION_DENIED
      case 16:  // UNAUTHENTICATED
      case 12:  // UNIMPLEMENTED
        e = Errc::io_error;
        break;
      case 8:   // RESOURCE_EXHAUSTED (rate limits)
      case 14:  // UNAVAILABLE
        e = Errc::unavailable;
        break;
      default:  // CANCELLED, UNKNOWN, DEADLINE_EXCEEDED, INTERNAL, ...: outcome unknown
        e = Errc::timeout;
        break;
    }
  }
  return Status(e, "etcd: " + (message.empty() ? "error code " + std::to_string(code) : message));
}

Result<EtcdOptions> parse_etcd_url(const std::string& url) {
  EtcdOptions o;
  std::string_view rest = url;
  std::string scheme;
  if (rest.rfind("etcd://", 0) == 0) {
    scheme = "http";
    rest.remove_prefix(7);
  } else if (rest.rfind("etcds://", 0) == 0) {
    scheme = "https";
    rest.remove_prefix(8);
  } else {
    return bad_url("'" + url + "' must start with etcd:// or etcds://");
  }
  std::string_view query;
  if (std::size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  std::string_view path;
  std::string_view hosts = rest;
  if (std::size_t slash = rest.find('/'); slash != std::string_view::npos) {
    hosts = rest.substr(0, slash);
    path = rest.substr(slash + 1);
  }
  if (hosts.find('@') != std::string_view::npos) {
    return bad_url(
        "credentials do not belong in the URL; set KAFSCALE_ETCD_USERNAME and "
        "KAFSCALE_ETCD_PASSWORD or KAFSCALE_ETCD_PASSWORD_FILE");
  }
  if (hosts.empty()) return bad_url("'" + url + "' names no endpoint");
  for (std::string_view hp : split(hosts, ',')) {
    auto ep = parse_endpoint(hp);
    if (!ep.ok()) return ep.status();
    o.endpoints.push_back(scheme + "://" + *ep);
  }
  if (o.endpoints.size() > kMaxEndpoints)
    return bad_url("more than " + std::to_string(kMaxEndpoints) + " endpoints");

  auto prefix = percent_decode(path);
  if (!prefix) return bad_url("bad %-escape in prefix '" + std::string(path) + "'");
  while (!prefix->empty() && prefix->back() == '/') prefix->pop_back();
  if (!prefix->empty()) o.prefix = "/" + *prefix;

  if (!query.empty()) {
    for (std::string_view kv : split(query, '&')) {
      std::size_t eq = kv.find('=');
      std::string_view name = kv.substr(0, eq);
      auto value = percent_decode(eq == std::string_view::npos ? std::string_view() : kv.substr(eq + 1));
      if (!value) return bad_url("bad %-escape in parameter '" + std::string(name) + "'");
      std::uint64_t ms = 0;
      if (name == "timeout_ms" || name == "connect_timeout_ms") {
        // Up to an hour: anything longer is a typo.
        if (!parse_uint(*value, 3600 * 1000, &ms) || ms == 0) {
          return bad_url(std::string(name) + " must be 1..3600000, got '" + *value + "'");
        }
        (name == "timeout_ms" ? o.timeout : o.connect_timeout) = milliseconds(ms);
      } else if (name == "cacert" || name == "cert" || name == "key") {
        if (scheme != "https") return bad_url(std::string(name) + " needs etcds://");
        (name == "cacert" ? o.ca_file : name == "cert" ? o.cert_file : o.key_file) = *value;
      } else {
        return bad_url("unknown parameter '" + std::string(name) +
                       "' (known: timeout_ms, connect_timeout_ms, cacert, cert, key)");
      }
    }
  }
  return o;
}

// ---------------------------------------------------------------------------
// Impl: endpoints, auth token, curl handle pool, request/response mapping.

struct EtcdMetadataStore::Impl {
  EtcdOptions opts;
  std::atomic<std::size_t> preferred{0};  // endpoint to try first
  std::atomic<std::size_t> watches{0};

  std::mutex pool_mu;
  std::vector<CURL*> pool;  // idle handles, at most kMaxIdleHandles

  std::mutex token_mu;  // serialises authentication too
  std::string token;

  explicit Impl(EtcdOptions o) : opts(std::move(o)) {}
  ~Impl() {
    for (CURL* h : pool) curl_easy_cleanup(h);
  }

  // ---- keys

  std::string key(const std::string& k) const { return opts.prefix + k; }
  // "" = single key; "\0" = to the end of our prefix; else prefixed.
  std::string end(const std::string& e) const {
    if (e.empty()) return {};
    if (e.size() == 1 && e[0] == '\0') return opts.prefix.empty() ? e : prefix_end(opts.prefix);
    return opts.prefix + e;
  }
  std::string strip(std::string k) const {
    if (!opts.prefix.empty() && k.compare(0, opts.prefix.size(), opts.prefix) == 0)
      k.erase(0, opts.prefix.size());
    return k;
  }

  // ---- transport

  CURL* acquire() {
    {
      std::lock_guard l(pool_mu);
      if (!pool.empty()) {
        CURL* h = pool.back();
        pool.pop_back();
        return h;
      }
    }
    return curl_easy_init();
  }
  void release(CURL* h) {
    curl_easy_reset(h);  // keeps its connection for reuse
    std::lock_guard l(pool_mu);
    if (pool.size() < kMaxIdleHandles) {
      pool.push_back(h);
      return;
    }
    curl_easy_cleanup(h);
  }

  // Options shared by requests and watch streams.
  void setup(CURL* h, const std::string& url, const std::string& body, Headers& headers,
             const std::string& tok, char* errbuf) const {
    headers.add("Content-Type: application/json");
    headers.add("Expect:");  // no 100-continue round trip for large bodies
    if (!tok.empty()) headers.add("Authorization: " + tok);
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.list);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROXY, "");  // etcd is never reached through http_proxy
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    if (!opts.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, opts.ca_file.c_str());
    if (!opts.cert_file.empty()) curl_easy_setopt(h, CURLOPT_SSLCERT, opts.cert_file.c_str());
    if (!opts.key_file.empty()) curl_easy_setopt(h, CURLOPT_SSLKEY, opts.key_file.c_str());
  }

  enum class Outcome { ok, not_sent, lost, error };
  struct Attempt {
    Outcome outcome = Outcome::error;
    json body;
    Status status;
  };

  Attempt attempt(std::size_t ep, const std::string& path, const std::string& body, milliseconds budget,
                  const std::string& tok) {
    CURL* h = acquire();
    if (h == nullptr)
      return {Outcome::not_sent, {}, Status(Errc::unavailable, "etcd: curl_easy_init failed")};
    const std::string url = opts.endpoints[ep] + path;
    Headers headers;
    char errbuf[CURL_ERROR_SIZE] = {};
    Sink sink;
    setup(h, url, body, headers, tok, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<std::int64_t>(1, budget.count())));
    curl_easy_setopt(
        h, CURLOPT_CONNECTTIMEOUT_MS,
        static_cast<long>(std::max<std::int64_t>(1, std::min(budget, opts.connect_timeout).count())));
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
    Status s;
    if (!j.is_discarded() && j.is_object() &&
        (field(j, "error") != nullptr || field(j, "message") != nullptr)) {
      s = error_from_body(j);
    } else if (http == 503) {
      s = Status(Errc::unavailable, "etcd: HTTP 503");
    } else if (http >= 500) {
      s = Status(Errc::timeout, "etcd: HTTP " + std::to_string(http));
    } else {
      s = Status(Errc::io_error, "etcd: HTTP " + std::to_string(http));
    }
    s = Status(s.code(), s.message() + where);
    if (s.code() == Errc::unavailable) return {Outcome::not_sent, {}, std::move(s)};
    if (s.code() == Errc::timeout) return {Outcome::lost, {}, std::move(s)};
    return {Outcome::error, {}, std::move(s)};
  }

  // Sends `req` to the endpoints in turn until one answers. `idempotent`
  // requests (reads) are also retried after a response was lost.
  Result<json> call(const std::string& path, const json& req, bool idempotent, bool with_token = true) {
    const std::string body = dump(req);
    const auto deadline = Clock::now() + opts.timeout;
    const std::size_t n = opts.endpoints.size();
    const std::size_t first = preferred.load();
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
      if (with_token && !opts.username.empty()) {
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
          preferred.compare_exchange_strong(expected, (ep + 1) % n);
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

  // ---- auth

  Result<std::string> auth_token() {
    std::lock_guard l(token_mu);
    if (!token.empty()) return token;
    json req = {{"name", opts.username}, {"password", opts.password}};
    auto r = call("/v3/auth/authenticate", req, true, false);
    if (!r.ok())
      return Status(r.code(), "etcd authentication as '" + opts.username + "': " + r.status().message());
    token = str(*r, "token");
    if (token.empty()) return corrupt("authenticate returned no token");
    return token;
  }
  void drop_token(const std::string& used) {
    std::lock_guard l(token_mu);
    if (token == used) token.clear();
  }

  // ---- responses

  Result<KeyValue> kv_from(const json& j) const {
    KeyValue kv;
    if (!unb64(str(j, "key"), &kv.key)) return corrupt("key is not base64");
    if (!unb64(str(j, "value"), &kv.value)) return corrupt("value is not base64");
    kv.key = strip(std::move(kv.key));
    kv.create_revision = num(j, "create_revision");
    kv.mod_revision = num(j, "mod_revision");
    kv.version = num(j, "version");
    kv.lease = num(j, "lease");
    return kv;
  }

  Status kvs_from(const json& j, const char* name, std::vector<KeyValue>* out) const {
    const json* arr = field(j, name);
    if (arr == nullptr) return {};
    if (!arr->is_array()) return corrupt(std::string(name) + " is not an array");
    for (const json& e : *arr) {
      auto kv = kv_from(e);
      if (!kv.ok()) return kv.status();
      out->push_back(std::move(kv).value());
    }
    return {};
  }

  static std::int64_t header_rev(const json& j) {
    const json* h = field(j, "header");
    return h != nullptr ? num(*h, "revision") : 0;
  }

  Result<RangeResponse> range_from(const json& j) const {
    RangeResponse r;
    if (Status s = kvs_from(j, "kvs", &r.kvs); !s.ok()) return s;
    r.count = num(j, "count");
    r.more = flag(j, "more");
    r.revision = header_rev(j);
    return r;
  }

  // ---- requests (plain JSON builders)

  json range_json(const std::string& k, const std::string& e) const {
    json j = json::object();
    j["key"] = b64(key(k));
    if (!e.empty()) j["range_end"] = b64(end(e));
    return j;
  }

  json op_json(const Op& op) const {
    json j = json::object();
    switch (op.type) {
      case Op::Type::put: {
        json p = json::object();
        p["key"] = b64(key(op.key));
        p["value"] = b64(op.value);
        if (op.lease != 0) p["lease"] = num_str(op.lease);
        if (op.prev_kv) p["prev_kv"] = true;
        j["request_put"] = std::move(p);
        break;
      }
      case Op::Type::delete_range: {
        json d = range_json(op.key, op.range_end);
        if (op.prev_kv) d["prev_kv"] = true;
        j["request_delete_range"] = std::move(d);
        break;
      }
      case Op::Type::range:
        j["request_range"] = range_json(op.key, op.range_end);
        break;
    }
    return j;
  }

  json compare_json(const Compare& c) const {
    static constexpr const char* kTargets[] = {"VERSION", "CREATE", "MOD", "VALUE", "LEASE"};
    static constexpr const char* kResults[] = {"EQUAL", "GREATER", "LESS", "NOT_EQUAL"};
    json j = json::object();
    j["key"] = b64(key(c.key));
    j["target"] = kTargets[static_cast<int>(c.target)];
    j["result"] = kResults[static_cast<int>(c.result)];
    switch (c.target) {
      case Compare::Target::version:
        j["version"] = num_str(c.number);
        break;
      case Compare::Target::create_revision:
        j["create_revision"] = num_str(c.number);
        break;
      case Compare::Target::mod_revision:
        j["mod_revision"] = num_str(c.number);
        break;
      case Compare::Target::value:
        j["value"] = b64(c.value);
        break;
      case Compare::Target::lease:
        j["lease"] = num_str(c.number);
        break;
    }
    return j;
  }

  json txn_json(const TxnRequest& req) const {
    json j = json::object();
    json cmp = json::array();
    for (const Compare& c : req.compare) cmp.push_back(compare_json(c));
    json ok = json::array();
    for (const Op& op : req.success) ok.push_back(op_json(op));
    json fail = json::array();
    for (const Op& op : req.failure) fail.push_back(op_json(op));
    j["compare"] = std::move(cmp);
    j["success"] = std::move(ok);
    j["failure"] = std::move(fail);
    return j;
  }

  Result<TxnResponse> txn_from(const json& j) const {
    TxnResponse r;
    r.succeeded = flag(j, "succeeded");
    r.revision = header_rev(j);
    const json* arr = field(j, "responses");
    if (arr == nullptr) return r;
    if (!arr->is_array()) return corrupt("responses is not an array");
    for (const json& e : *arr) {
      OpResult res;
      if (const json* p = field(e, "response_put")) {
        res.type = Op::Type::put;
        if (const json* prev = field(*p, "prev_kv")) {
          auto kv = kv_from(*prev);
          if (!kv.ok()) return kv.status();
          res.prev_kvs.push_back(std::move(kv).value());
        }
      } else if (const json* d = field(e, "response_delete_range")) {
        res.type = Op::Type::delete_range;
        res.deleted = num(*d, "deleted");
        if (Status s = kvs_from(*d, "prev_kvs", &res.prev_kvs); !s.ok()) return s;
      } else if (const json* g = field(e, "response_range")) {
        res.type = Op::Type::range;
        auto rr = range_from(*g);
        if (!rr.ok()) return rr.status();
        res.range = std::move(rr).value();
        if (res.range.revision == 0) res.range.revision = r.revision;
      } else {
        return corrupt("unknown txn response");
      }
      r.results.push_back(std::move(res));
    }
    return r;
  }
};

// ---------------------------------------------------------------------------
// Watches: one thread and one streaming POST /v3/watch each.

namespace {

struct WatchState {
  std::shared_ptr<EtcdMetadataStore::Impl> impl;
  std::string key;  // prefixed, base64 in requests
  std::string end;
  WatchCallback cb;
  std::int64_t next_rev = 0;  // watch-thread only: where a new stream starts (0 = now)

  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;       // guarded by mu
  CURLM* multi = nullptr;  // guarded by mu: woken by stop
  bool starting = true;    // guarded by mu: watch() still waits for the first "created"
  bool start_failed = false;
  Status start_status;

  // Per stream, watch-thread only.
  std::string buf;
  bool created = false;
  long http = 0;
  std::optional<Status> ended;  // etcd ended the watch (compacted, error)

  bool stopped() {
    std::lock_guard l(mu);
    return stop;
  }
};

// Handles one streamed message: {"result": WatchResponse} or {"error": ...}.
// Returns false to abort the stream.
bool on_watch_message(WatchState& st, const json& msg) {
  if (field(msg, "error") != nullptr) {
    st.ended = error_from_body(msg);
    return false;
  }
  const json* res = field(msg, "result");
  if (res == nullptr) return true;  // nothing we know: ignore
  if (flag(*res, "created")) {
    st.created = true;
    if (st.next_rev == 0) st.next_rev = EtcdMetadataStore::Impl::header_rev(*res) + 1;
    std::lock_guard l(st.mu);
    if (st.starting) {
      st.starting = false;
      st.cv.notify_all();
    }
  }
  if (flag(*res, "canceled")) {
    if (std::int64_t compact = num(*res, "compact_revision"); compact != 0) {
      st.ended = Status(Errc::compacted, "etcd: watch from revision " + std::to_string(st.next_rev) +
                                             " is older than the compaction at " + std::to_string(compact));
    } else {
      std::string reason = str(*res, "cancel_reason");
      st.ended = etcd_error(3, reason.empty() ? "watch canceled" : reason);
    }
    return false;
  }
  const json* evs = field(*res, "events");
  if (evs == nullptr || !evs->is_array() || evs->empty()) return true;
  std::vector<WatchEvent> events;
  for (const json& e : *evs) {
    WatchEvent ev;
    ev.type = str(e, "type") == "DELETE" ? WatchEvent::Type::del : WatchEvent::Type::put;
    const json* kv = field(e, "kv");
    if (kv == nullptr) {
      st.ended = corrupt("watch event without kv");
      return false;
    }
    auto parsed = st.impl->kv_from(*kv);
    if (!parsed.ok()) {
      st.ended = parsed.status();
      return false;
    }
    ev.kv = std::move(parsed).value();
    events.push_back(std::move(ev));
  }
  st.next_rev = events.back().kv.mod_revision + 1;
  if (st.stopped()) return false;
  st.cb(events, Status());
  return !st.stopped();
}

std::size_t watch_write(char* ptr, std::size_t size, std::size_t n, void* user) {
  auto& st = *static_cast<WatchState*>(user);
  const std::size_t bytes = size * n;
  if (st.http != 200) {  // an error body: kept for the end of the stream
    if (st.buf.size() + bytes > kMaxWatchMessageBytes) return 0;
    st.buf.append(ptr, bytes);
    return bytes;
  }
  st.buf.append(ptr, bytes);
  std::size_t start = 0;
  for (std::size_t nl; (nl = st.buf.find('\n', start)) != std::string::npos; start = nl + 1) {
    json msg = json::parse(std::string_view(st.buf).substr(start, nl - start), nullptr, false);
    if (msg.is_discarded()) {
      st.ended = corrupt("unparsable watch message");
      return 0;
    }
    if (!on_watch_message(st, msg)) return 0;
  }
  st.buf.erase(0, start);
  if (st.buf.size() > kMaxWatchMessageBytes) {
    st.ended = Status(Errc::limit_exceeded,
                      "etcd: watch message larger than " + std::to_string(kMaxWatchMessageBytes) + " bytes");
    return 0;
  }
  return bytes;
}

std::size_t watch_header(char* ptr, std::size_t size, std::size_t n, void* user) {
  auto& st = *static_cast<WatchState*>(user);
  std::string_view line(ptr, size * n);
  if (line.rfind("HTTP/", 0) == 0) {  // status line: "HTTP/1.1 200 OK"
    std::size_t sp = line.find(' ');
    if (sp != std::string_view::npos) {
      long code = 0;
      std::from_chars(line.data() + sp + 1, line.data() + line.size(), code);
      st.http = code;
    }
  }
  return size * n;
}

// Runs one watch stream on endpoint `ep` until it ends, breaks or stop.
// Returns a description of the transport failure when it broke.
std::string stream_once(WatchState& st, std::size_t ep) {
  auto& impl = *st.impl;
  st.buf.clear();
  st.created = false;
  st.http = 0;
  st.ended.reset();

  std::string tok;
  if (!impl.opts.username.empty()) {
    auto t = impl.auth_token();
    if (!t.ok()) {
      if (t.code() != Errc::unavailable && t.code() != Errc::timeout) st.ended = t.status();
      return t.status().message();
    }
    tok = std::move(t).value();
  }
  json create = json::object();
  create["key"] = b64(st.key);
  if (!st.end.empty()) create["range_end"] = b64(st.end);
  if (st.next_rev != 0) create["start_revision"] = num_str(st.next_rev);
  json req = json::object();
  req["create_request"] = std::move(create);
  const std::string body = dump(req);
  const std::string url = impl.opts.endpoints[ep] + "/v3/watch";

  CURL* h = curl_easy_init();
  CURLM* m = curl_multi_init();
  if (h == nullptr || m == nullptr) {
    if (h != nullptr) curl_easy_cleanup(h);
    if (m != nullptr) curl_multi_cleanup(m);
    return "curl init failed";
  }
  Headers headers;
  char errbuf[CURL_ERROR_SIZE] = {};
  impl.setup(h, url, body, headers, tok, errbuf);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, watch_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &st);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, watch_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &st);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(impl.opts.connect_timeout.count()));
  // A dead peer without a RST is noticed by keepalive probes.
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 10L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 5L);
  curl_multi_add_handle(m, h);
  {
    std::lock_guard l(st.mu);
    st.multi = m;
  }
  // etcd must confirm the watch within the request timeout.
  const auto create_deadline = Clock::now() + impl.opts.timeout;
  std::string failure;
  for (;;) {
    int running = 0;
    curl_multi_perform(m, &running);
    if (running == 0 || st.stopped()) break;
    if (!st.created && Clock::now() >= create_deadline) {
      failure = "no watch confirmation within " + std::to_string(impl.opts.timeout.count()) + " ms";
      break;
    }
    curl_multi_poll(m, nullptr, 0, 1000, nullptr);
  }
  CURLcode rc = CURLE_OK;
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(m, &left)) {
    if (msg->msg == CURLMSG_DONE) rc = msg->data.result;
  }
  {
    std::lock_guard l(st.mu);
    st.multi = nullptr;
  }
  curl_multi_remove_handle(m, h);
  curl_easy_cleanup(h);
  curl_multi_cleanup(m);

  if (st.ended) return {};
  if (st.http != 0 && st.http != 200) {
    json j = json::parse(st.buf, nullptr, false);
    Status s = !j.is_discarded() && j.is_object()
                   ? error_from_body(j)
                   : Status(Errc::unavailable, "HTTP " + std::to_string(st.http));
    if (is_auth_token_error(s)) {
      impl.drop_token(tok);
      return s.message();
    }
    if (s.code() != Errc::unavailable && s.code() != Errc::timeout) st.ended = s;
    return s.message();
  }
  if (!failure.empty()) return failure + " (" + url + ")";
  if (rc != CURLE_OK)
    return std::string(errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc)) + " (" + url + ")";
  return "stream closed by server (" + url + ")";
}

// Ends the watch: during watch() the status goes back to the caller,
// afterwards to the callback (unless the watch is being destroyed).
void finish(WatchState& st, const Status& s) {
  {
    std::lock_guard l(st.mu);
    if (st.starting) {
      st.starting = false;
      st.start_failed = true;
      st.start_status = s;
      st.cv.notify_all();
      return;
    }
    if (st.stop) return;
  }
  st.cb({}, s);
}

void run_watch(std::shared_ptr<WatchState> st) {
  auto& impl = *st->impl;
  const std::size_t n = impl.opts.endpoints.size();
  std::size_t ep = impl.preferred.load();
  auto deadline = Clock::now() + impl.opts.timeout;  // to (re)establish the stream
  milliseconds backoff = kWatchBackoffMin;
  for (;;) {
    std::string failure = stream_once(*st, ep);
    if (st->stopped()) return;
    if (st->ended) {
      finish(*st, *st->ended);
      return;
    }
    if (st->created) {  // it was healthy: a fresh retry window
      deadline = Clock::now() + impl.opts.timeout;
      backoff = kWatchBackoffMin;
    }
    if (Clock::now() >= deadline) {
      finish(*st, Status(Errc::unavailable, "etcd: watch stream lost: " + failure));
      return;
    }
    ep = (ep + 1) % n;
    std::unique_lock l(st->mu);
    if (st->cv.wait_for(l, backoff, [&] { return st->stop; })) return;
    backoff = std::min(backoff * 2, kWatchBackoffMax);
  }
}

class EtcdWatch final : public Watch {
 public:
  EtcdWatch(std::shared_ptr<WatchState> st, std::thread th) : st_(std::move(st)), th_(std::move(th)) {}
  ~EtcdWatch() override {
    {
      std::lock_guard l(st_->mu);
      st_->stop = true;
      if (st_->multi != nullptr) curl_multi_wakeup(st_->multi);
      st_->cv.notify_all();
    }
    // Destroyed from its own callback: the thread ends by itself.
    if (th_.get_id() == std::this_thread::get_id()) {
      th_.detach();
    } else {
      th_.join();
    }
    st_->impl->watches.fetch_sub(1);
  }

 private:
  std::shared_ptr<WatchState> st_;
  std::thread th_;
};

}  // namespace

// ---------------------------------------------------------------------------

EtcdMetadataStore::EtcdMetadataStore(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
EtcdMetadataStore::~EtcdMetadataStore() = default;

Result<std::unique_ptr<EtcdMetadataStore>> EtcdMetadataStore::open(const std::string& url) {
  auto opts = parse_etcd_url(url);
  if (!opts.ok()) return opts.status();
  return open(std::move(opts).value());
}

Result<std::unique_ptr<EtcdMetadataStore>> EtcdMetadataStore::open(EtcdOptions options) {
  if (options.endpoints.empty()) return Status(Errc::invalid_argument, "metadata: etcd: no endpoints");
  if (options.timeout.count() <= 0 || options.connect_timeout.count() <= 0) {
    return Status(Errc::invalid_argument, "metadata: etcd: timeouts must be positive");
  }
  init_curl();
  const bool check = options.check_connection;
  std::unique_ptr<EtcdMetadataStore> store(new EtcdMetadataStore(std::make_shared<Impl>(std::move(options))));
  if (check) {
    // Any cheap authenticated read proves an endpoint answers.
    RangeRequest probe;
    probe.key = "/";
    probe.count_only = true;
    auto r = store->range(probe);
    if (!r.ok()) return Status(r.code(), "metadata: " + store->describe() + ": " + r.status().message());
  }
  return store;
}

Result<RangeResponse> EtcdMetadataStore::range(const RangeRequest& req) {
  if (Status s = check_range(req); !s.ok()) return s;
  json j = impl_->range_json(req.key, req.range_end);
  if (req.limit != 0) j["limit"] = num_str(req.limit);
  if (req.revision != 0) j["revision"] = num_str(req.revision);
  if (req.keys_only) j["keys_only"] = true;
  if (req.count_only) j["count_only"] = true;
  auto r = impl_->call("/v3/kv/range", j, true);
  if (!r.ok()) return r.status();
  return impl_->range_from(*r);
}

Result<std::int64_t> EtcdMetadataStore::put(const std::string& key, const std::string& value, LeaseId lease) {
  if (Status s = check_put(key, value); !s.ok()) return s;
  json j = json::object();
  j["key"] = b64(impl_->key(key));
  j["value"] = b64(value);
  if (lease != 0) j["lease"] = num_str(lease);
  auto r = impl_->call("/v3/kv/put", j, false);
  if (!r.ok()) return r.status();
  return Impl::header_rev(*r);
}

Result<std::int64_t> EtcdMetadataStore::delete_range(const std::string& key, const std::string& range_end) {
  if (Status s = check_delete(key); !s.ok()) return s;
  auto r = impl_->call("/v3/kv/deleterange", impl_->range_json(key, range_end), false);
  if (!r.ok()) return r.status();
  return num(*r, "deleted");
}

Result<TxnResponse> EtcdMetadataStore::txn(const TxnRequest& req) {
  if (Status s = check_txn(req); !s.ok()) return s;
  auto r = impl_->call("/v3/kv/txn", impl_->txn_json(req), false);
  if (!r.ok()) return r.status();
  return impl_->txn_from(*r);
}

Result<LeaseId> EtcdMetadataStore::lease_grant(std::int64_t ttl_seconds) {
  if (ttl_seconds <= 0) return Status(Errc::invalid_argument, "lease TTL must be positive");
  json j = json::object();
  j["TTL"] = num_str(ttl_seconds);
  auto r = impl_->call("/v3/lease/grant", j, false);
  if (!r.ok()) return r.status();
  if (std::string err = str(*r, "error"); !err.empty()) return etcd_error(0, err);
  LeaseId id = num(*r, "ID");
  if (id == 0) return corrupt("lease grant without ID");
  return id;
}

Status EtcdMetadataStore::lease_keepalive(LeaseId id) {
  json j = json::object();
  j["ID"] = num_str(id);
  // A one-message stream: {"result": {...}} or {"error": {...}}.
  auto r = impl_->call("/v3/lease/keepalive", j, true);
  if (!r.ok()) return r.status();
  if (field(*r, "error") != nullptr) return error_from_body(*r);
  const json* res = field(*r, "result");
  if (res == nullptr) return corrupt("keepalive without result");
  // etcd answers TTL 0 for a lease it does not know (expired or revoked).
  if (num(*res, "TTL") <= 0)
    return Status(Errc::not_found, "etcd: lease " + std::to_string(id) + " not found");
  return {};
}

Status EtcdMetadataStore::lease_revoke(LeaseId id) {
  json j = json::object();
  j["ID"] = num_str(id);
  auto r = impl_->call("/v3/lease/revoke", j, false);
  return r.ok() ? Status() : r.status();
}

Result<std::unique_ptr<Watch>> EtcdMetadataStore::watch(const std::string& key, const std::string& range_end,
                                                        std::int64_t start_revision, WatchCallback cb) {
  if (key.empty()) return Status(Errc::invalid_argument, "key is not provided");
  if (start_revision < 0) return Status(Errc::invalid_argument, "negative start revision");
  if (impl_->watches.fetch_add(1) >= kMaxWatches) {
    impl_->watches.fetch_sub(1);
    return Status(Errc::limit_exceeded, "more than " + std::to_string(kMaxWatches) + " etcd watches");
  }
  struct Release {  // undone once an EtcdWatch owns the count
    Impl* impl;
    ~Release() {
      if (impl != nullptr) impl->watches.fetch_sub(1);
    }
  } release{impl_.get()};

  // etcd confirms a watch from a compacted revision and cancels it just
  // after; a read at that revision tells the caller synchronously.
  if (start_revision > 0) {
    RangeRequest probe;
    probe.key = key;
    probe.revision = start_revision;
    probe.count_only = true;
    auto r = range(probe);
    if (!r.ok() && r.code() != Errc::invalid_argument) return r.status();  // invalid: a future revision
  }
  auto st = std::make_shared<WatchState>();
  st->impl = impl_;
  st->key = impl_->key(key);
  st->end = impl_->end(range_end);
  st->cb = std::move(cb);
  st->next_rev = start_revision;
  std::thread th(run_watch, st);
  {
    std::unique_lock l(st->mu);
    st->cv.wait(l, [&] { return !st->starting; });  // run_watch leaves `starting` within the timeout
  }
  if (st->start_failed) {
    th.join();
    return st->start_status;
  }
  release.impl = nullptr;
  return std::unique_ptr<Watch>(std::make_unique<EtcdWatch>(st, std::move(th)));
}

Status EtcdMetadataStore::compact(std::int64_t revision) {
  json j = json::object();
  j["revision"] = num_str(revision);
  auto r = impl_->call("/v3/kv/compaction", j, false);
  return r.ok() ? Status() : r.status();
}

Result<EtcdStatus> EtcdMetadataStore::status() {
  auto r = impl_->call("/v3/maintenance/status", json::object(), true);
  if (!r.ok()) return r.status();
  EtcdStatus st;
  st.version = str(*r, "version");
  st.db_size = num(*r, "dbSize");
  st.db_size_in_use = num(*r, "dbSizeInUse");
  if (const json* errs = field(*r, "errors"); errs != nullptr && errs->is_array()) {
    // Bounded: a member reports a handful of alarms at most; ignore anything past 64.
    for (std::size_t i = 0; i < errs->size() && i < 64; ++i) {
      if (!(*errs)[i].is_string()) continue;
      st.errors.push_back((*errs)[i].get<std::string>());
      if (st.errors.back().find("NOSPACE") != std::string::npos) st.nospace_alarm = true;
    }
  }
  if (st.version.empty() && st.db_size == 0) return corrupt("maintenance status without version or dbSize");
  return st;
}

std::string EtcdMetadataStore::describe() const {
  std::string s = impl_->opts.endpoints.front().rfind("https", 0) == 0 ? "etcds://" : "etcd://";
  for (std::size_t i = 0; i < impl_->opts.endpoints.size(); ++i) {
    const std::string& e = impl_->opts.endpoints[i];
    s += (i == 0 ? "" : ",") + e.substr(e.find("://") + 3);
  }
  return s + impl_->opts.prefix;
}

}  // namespace ks::metastore
