// Value forms shared by the settings: sizes, durations, booleans, host:port, log levels.
#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <cctype>
#include <limits>

#include "broker/config.h"
#include "broker/setting.h"

namespace ks::broker {
namespace {

Status invalid(std::string msg) { return Status(Errc::invalid_argument, std::move(msg)); }

bool valid_hostname(std::string_view h) {
  if (h.empty() || h.size() > 253) return false;
  return std::all_of(h.begin(), h.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
  });
}

std::optional<boost::asio::ip::address> as_ip(const std::string& host) {
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(host, ec);
  if (ec) return std::nullopt;
  return a;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// Unsigned decimal without sign or spaces.
std::optional<uint64_t> parse_uint(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

// Shortest exact spelling of a size: "4MiB", "1500".
std::string format_size(uint64_t v) {
  static constexpr std::pair<uint64_t, const char*> kUnits[] = {
      {1024 * kGiB, "TiB"}, {kGiB, "GiB"}, {kMiB, "MiB"}, {kKiB, "KiB"}};
  for (auto [unit, name] : kUnits) {
    if (v != 0 && v % unit == 0) return fmt::format("{}{}", v / unit, name);
  }
  return std::to_string(v);
}

std::string HostPort::to_string() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

bool HostPort::is_wildcard() const {
  auto ip = as_ip(host);
  return ip && ip->is_unspecified();
}

Result<HostPort> parse_host_port(std::string_view s) {
  std::string_view host, port;
  if (!s.empty() && s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') {
      return invalid("expected [IPV6]:PORT");
    }
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
    auto ip = as_ip(std::string(host));
    if (!ip || !ip->is_v6()) return invalid("expected an IPv6 address inside [...]");
  } else {
    size_t colon = s.rfind(':');
    if (colon == std::string_view::npos) return invalid("expected HOST:PORT");
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return invalid("IPv6 addresses need brackets: [::1]:9092");
    if (!valid_hostname(host)) return invalid("expected HOST:PORT with a hostname or IP address as HOST");
  }
  auto p = parse_uint(port);
  if (!p || *p > 65535) return invalid("expected HOST:PORT with PORT in 0..65535");
  return HostPort{std::string(host), static_cast<uint16_t>(*p)};
}

Result<uint64_t> parse_size(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  auto n = parse_uint(s.substr(0, i));
  std::string_view suffix = s.substr(i);
  if (!suffix.empty() && suffix.front() == ' ') suffix.remove_prefix(1);  // "4 MiB"
  uint64_t mult = 0;
  static constexpr std::pair<const char*, uint64_t> kSuffixes[] = {
      {"", 1},     {"k", kKiB},   {"kib", kKiB},      {"m", kMiB},         {"mib", kMiB},
      {"g", kGiB}, {"gib", kGiB}, {"t", 1024 * kGiB}, {"tib", 1024 * kGiB}};
  for (auto [name, m] : kSuffixes) {
    if (iequals(suffix, name)) mult = m;
  }
  if (!n || mult == 0)
    return invalid("expected a size: an integer with optional suffix K/KiB, M/MiB or G/GiB");
  if (*n > std::numeric_limits<uint64_t>::max() / mult) return invalid("size is too large");
  return *n * mult;
}

Result<bool> parse_bool(std::string_view s) {
  for (const char* t : {"true", "1", "yes"}) {
    if (iequals(s, t)) return true;
  }
  for (const char* f : {"false", "0", "no"}) {
    if (iequals(s, f)) return false;
  }
  return invalid("expected true/false/1/0/yes/no");
}

Result<std::chrono::milliseconds> parse_duration_ms(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  auto n = parse_uint(s.substr(0, i));
  std::string_view suffix = s.substr(i);
  uint64_t mult = 0;
  static constexpr std::pair<const char*, uint64_t> kSuffixes[] = {
      {"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 3600 * 1000}};
  for (auto [name, m] : kSuffixes) {
    if (iequals(suffix, name)) mult = m;
  }
  if (!n || mult == 0)
    return invalid("expected a duration: integer milliseconds, or with suffix ms, s, m or h");
  // Durations beyond ~292 million years do not fit; far beyond any setting's maximum anyway.
  if (*n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / mult) {
    return invalid("duration is too large");
  }
  return std::chrono::milliseconds(static_cast<int64_t>(*n * mult));
}

std::string_view log_level_name(LogLevel l) {
  switch (l) {
    case LogLevel::kTrace:
      return "trace";
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

}  // namespace ks::broker
