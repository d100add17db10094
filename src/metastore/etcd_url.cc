// parse_etcd_url: etcd://HOST:PORT[,...][/PREFIX][?PARAMS] to EtcdOptions.
#include <cctype>
#include <charconv>
#include <optional>
#include <string_view>

#include "metastore/etcd_store.h"

namespace ks::metastore {
namespace {

// Endpoints accepted in one URL.
constexpr std::size_t kMaxEndpoints = 32;

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

}  // namespace

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
        (name == "timeout_ms" ? o.timeout : o.connect_timeout) = std::chrono::milliseconds(ms);
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

}  // namespace ks::metastore
