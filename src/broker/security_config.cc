#include "broker/security_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <boost/asio/ip/address.hpp>
#include <cctype>
#include <charconv>
#include <set>

#include "broker/setting.h"
#include "common/assert.h"
#include "security/acl.h"
#include "security/principal_mapping.h"
#include "security/sasl.h"

namespace ks::broker {
namespace {

Status invalid(std::string msg) { return Status(Errc::invalid_argument, std::move(msg)); }

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Comma-separated items, trimmed, empty ones dropped.
std::vector<std::string> split_list(std::string_view s) {
  std::vector<std::string> out;
  while (true) {
    std::size_t comma = s.find(',');
    std::string_view item = trim(s.substr(0, comma));
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& x : v) out += (out.empty() ? "" : ",") + x;
  return out;
}

std::optional<std::string> listener_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return std::nullopt;
  std::string out;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return std::nullopt;
    out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string show_listeners(const std::vector<ListenerAddress>& v) {
  std::string out;
  for (const auto& l : v) out += (out.empty() ? "" : ",") + l.name + "://" + l.address.to_string();
  return out;
}

Setting string_setting(std::string name, std::string form, std::string help, std::string def,
                       std::string Config::*field) {
  return Setting{name,
                 form,
                 help,
                 def,
                 [=](Config& c, std::string_view raw) -> Status {
                   c.*field = std::string(raw);
                   return {};
                 },
                 [=](const Config& c) { return c.*field; },
                 nullptr};
}

Setting bool_setting(std::string name, std::string help, std::string def, bool Config::*field) {
  return Setting{name,
                 "BOOL",
                 help,
                 def,
                 [=](Config& c, std::string_view raw) -> Status {
                   auto b = parse_bool(raw);
                   if (!b.ok()) return b.status();
                   c.*field = *b;
                   return {};
                 },
                 [=](const Config& c) { return std::string(c.*field ? "true" : "false"); },
                 nullptr};
}

Setting listeners_setting(std::string name, std::string help, std::vector<ListenerAddress> Config::*field,
                          bool advertised) {
  return Setting{name,
                 "LISTENERS",
                 help,
                 "(empty)",
                 [=](Config& c, std::string_view raw) -> Status {
                   auto v = parse_listener_list(raw, advertised);
                   if (!v.ok()) return v.status();
                   c.*field = std::move(*v);
                   return {};
                 },
                 [=](const Config& c) { return show_listeners(c.*field); },
                 nullptr};
}

}  // namespace

std::vector<std::string> default_ssl_protocols() {
  std::vector<std::string> v;
  v.emplace_back("TLSv1.2");
  v.emplace_back("TLSv1.3");
  return v;
}

std::vector<std::string> default_sasl_mechanisms() {
  std::vector<std::string> v;
  v.emplace_back("SCRAM-SHA-256");
  v.emplace_back("SCRAM-SHA-512");
  return v;
}

Result<std::vector<ListenerAddress>> parse_listener_list(std::string_view s, bool advertised) {
  std::vector<ListenerAddress> out;
  for (const std::string& item : split_list(s)) {
    std::size_t sep = item.find("://");
    if (sep == std::string::npos) return invalid(fmt::format("'{}': expected NAME://HOST:PORT", item));
    auto name = listener_name(std::string_view(item).substr(0, sep));
    if (!name) return invalid(fmt::format("'{}': a listener name is 1..64 characters of [A-Za-z0-9_]", item));
    std::string hostport = item.substr(sep + 3);
    if (!hostport.empty() && hostport.front() == ':') hostport = "0.0.0.0" + hostport;
    auto hp = parse_host_port(hostport);
    if (!hp.ok()) return invalid(fmt::format("'{}': {}", item, hp.status().message()));
    if (advertised && hp->is_wildcard()) {
      return invalid(fmt::format("'{}': advertise the address clients connect to, not a wildcard", item));
    }
    if (advertised && hp->port == 0)
      return invalid(fmt::format("'{}': an advertised port must be 1..65535", item));
    for (const auto& l : out) {
      if (l.name == *name) return invalid(fmt::format("listener {} appears twice", *name));
    }
    out.push_back(ListenerAddress{*name, *hp});
  }
  return out;
}

Result<std::vector<std::pair<std::string, security::SecurityProtocol>>> parse_protocol_map(
    std::string_view s) {
  std::vector<std::pair<std::string, security::SecurityProtocol>> out;
  for (const std::string& item : split_list(s)) {
    std::size_t colon = item.find(':');
    auto name = listener_name(std::string_view(item).substr(0, colon));
    auto p = colon == std::string::npos
                 ? std::nullopt
                 : security::parse_security_protocol(std::string_view(item).substr(colon + 1));
    if (!name || !p) {
      return invalid(
          fmt::format("'{}': expected NAME:PROTOCOL with PROTOCOL one of PLAINTEXT, SSL, "
                      "SASL_PLAINTEXT, SASL_SSL",
                      item));
    }
    for (const auto& e : out) {
      if (e.first == *name) return invalid(fmt::format("listener {} appears twice", *name));
    }
    out.emplace_back(*name, *p);
  }
  return out;
}

Result<std::map<std::string, uint32_t>> parse_connection_overrides(std::string_view s) {
  std::map<std::string, uint32_t> out;
  for (const std::string& item : split_list(s)) {
    const std::size_t colon = item.rfind(':');
    const auto form = [&] {
      return invalid(fmt::format("'{}': expected IP:COUNT (an IPv6 address in brackets: [::1]:10)", item));
    };
    if (colon == std::string::npos || colon == 0) return form();
    std::string host = item.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    uint32_t count = 0;
    const std::string_view n = std::string_view(item).substr(colon + 1);
    auto [p, ec] = std::from_chars(n.data(), n.data() + n.size(), count);
    if (n.empty() || ec != std::errc{} || p != n.data() + n.size() || count > 1000000) {
      return invalid(fmt::format("'{}': the count is an integer in 0..1000000", item));
    }
    boost::system::error_code bad;
    auto addr = boost::asio::ip::make_address(host, bad);
    if (bad) {
      return invalid(fmt::format("'{}': {} is not an IP address (hostnames are not resolved)", item, host));
    }
    if (addr.is_v6() && addr.to_v6().is_v4_mapped()) {
      addr = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, addr.to_v6());
    }
    if (!out.emplace(addr.to_string(), count).second) {
      return invalid(fmt::format("'{}': {} appears twice", item, addr.to_string()));
    }
  }
  return out;
}

namespace {

std::optional<security::SecurityProtocol> protocol_of(const Config& cfg, const std::string& name) {
  for (const auto& [n, p] : cfg.listener_protocols) {
    if (n == name) return p;
  }
  return security::parse_security_protocol(name);
}

}  // namespace

std::vector<ResolvedListener> effective_listeners(const Config& cfg) {
  std::vector<ResolvedListener> out;
  if (cfg.listeners.empty()) {
    out.push_back(
        ResolvedListener{"PLAINTEXT", security::SecurityProtocol::kPlaintext, cfg.listen, cfg.advertise});
    return out;
  }
  for (const auto& l : cfg.listeners) {
    ResolvedListener r;
    r.name = l.name;
    r.protocol = protocol_of(cfg, l.name).value_or(security::SecurityProtocol::kPlaintext);
    r.bind = l.address;
    for (const auto& a : cfg.advertised_listeners) {
      if (a.name == l.name) r.advertised = a.address;
    }
    out.push_back(std::move(r));
  }
  return out;
}

HostPort advertised_address(const ResolvedListener& l, uint16_t bound_port) {
  if (l.advertised) return *l.advertised;
  return HostPort{l.bind.host, bound_port};
}

security::TlsSettings tls_settings(const Config& cfg) {
  security::TlsSettings t;
  t.keystore_location = cfg.ssl_keystore_location;
  t.truststore_location = cfg.ssl_truststore_location;
  t.client_auth = cfg.ssl_client_auth;
  t.enabled_protocols = cfg.ssl_enabled_protocols;
  t.cipher_suites = cfg.ssl_cipher_suites;
  return t;
}

namespace {

// The ssl-* settings that may differ per listener, by Kafka's suffix after "ssl.".
constexpr std::array<std::string_view, 7> kPerListenerSsl = {
    "keystore.type",     "keystore.location", "truststore.location",    "client.auth",
    "enabled.protocols", "cipher.suites",     "principal.mapping.rules"};

std::string setting_of_suffix(std::string_view suffix) {
  std::string out = "ssl-";
  for (char c : suffix) out += c == '.' ? '-' : c;
  return out;
}

std::string lower(std::string_view s) {
  std::string out;
  for (char c : s) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string ListenerSslKey::kafka_name() const {
  std::string suffix = setting.substr(4);  // after "ssl-"
  std::replace(suffix.begin(), suffix.end(), '-', '.');
  return "listener.name." + lower(listener) + ".ssl." + suffix;
}

std::string ListenerSslKey::env_name() const {
  return broker::env_name("listener-name-" + listener + "-" + setting);
}

std::optional<ListenerSslKey> parse_listener_ssl_key(std::string_view key) {
  constexpr std::string_view kPrefix = "listener.name.";
  if (!key.starts_with(kPrefix)) return std::nullopt;
  key.remove_prefix(kPrefix.size());
  const std::size_t dot = key.find(".ssl.");
  if (dot == std::string_view::npos) return std::nullopt;
  auto name = listener_name(key.substr(0, dot));
  const std::string_view suffix = key.substr(dot + 5);
  if (!name || std::find(kPerListenerSsl.begin(), kPerListenerSsl.end(), suffix) == kPerListenerSsl.end()) {
    return std::nullopt;
  }
  return ListenerSslKey{*name, setting_of_suffix(suffix)};
}

std::vector<ListenerSslKey> listener_ssl_keys(const std::string& listener) {
  std::vector<ListenerSslKey> out;
  for (std::string_view suffix : kPerListenerSsl)
    out.push_back(ListenerSslKey{listener, setting_of_suffix(suffix)});
  return out;
}

Status apply_listener_ssl(Config& cfg, const ListenerSslKey& key, std::string_view raw) {
  const Setting* s = find_setting(key.setting);
  KS_ASSERT(s != nullptr, "no setting {} for {}", key.setting, key.kafka_name());
  Config scratch = cfg;
  if (Status st = s->apply(scratch, raw); !st.ok()) return st;
  cfg.listener_ssl[key.listener][key.setting] = std::string(raw);
  return {};
}

Config listener_config(const Config& cfg, const std::string& listener) {
  Config out = cfg;
  auto it = cfg.listener_ssl.find(listener);
  if (it == cfg.listener_ssl.end()) return out;
  for (const auto& [setting, raw] : it->second) {
    const Setting* s = find_setting(setting);
    KS_ASSERT(s != nullptr, "no setting {}", setting);
    Status st = s->apply(out, raw);
    KS_ASSERT(st.ok(), "listener {} {} '{}' was checked when set: {}", listener, setting, raw, st.message());
  }
  return out;
}

namespace {

// The flags the flag parser did not know, in order: each must be --listener.name.<name>.ssl.<x> VALUE
// (or =VALUE).
Result<std::vector<std::pair<ListenerSslKey, std::string>>> listener_ssl_flags(
    const std::vector<std::string>& extras) {
  std::vector<std::pair<ListenerSslKey, std::string>> out;
  for (std::size_t i = 0; i < extras.size(); ++i) {
    const std::string& arg = extras[i];
    std::optional<ListenerSslKey> key;
    std::string value;
    bool has_value = false;
    if (arg.starts_with("--")) {
      const std::size_t eq = arg.find('=');
      key = parse_listener_ssl_key(std::string_view(arg).substr(2, eq == std::string::npos ? eq : eq - 2));
      if (eq != std::string::npos) {
        value = arg.substr(eq + 1);
        has_value = true;
      }
    }
    if (!key) return invalid(fmt::format("unknown option or argument '{}'", arg));
    if (!has_value) {
      if (i + 1 >= extras.size()) return invalid(fmt::format("{} needs a value", arg));
      value = extras[++i];
    }
    out.emplace_back(*key, std::move(value));
  }
  return out;
}

}  // namespace

Status resolve_listener_ssl(Config& cfg, const std::vector<std::string>& extras, const EnvLookup& env,
                            const std::map<std::string, std::string>& file_values,
                            const std::string& file_source,
                            std::map<std::string, std::string, std::less<>>& sources) {
  auto flags = listener_ssl_flags(extras);
  if (!flags.ok()) return flags.status();
  std::map<std::string, std::pair<ListenerSslKey, std::string>> raw_values;  // kafka name -> key, raw
  for (const auto& [name, raw] : file_values) {
    if (auto k = parse_listener_ssl_key(name)) {
      raw_values.insert_or_assign(name, std::make_pair(*k, raw));
      sources[name] = file_source;
    }
  }
  for (const auto& l : cfg.listeners) {
    for (const ListenerSslKey& k : listener_ssl_keys(l.name)) {
      if (auto v = env(k.env_name())) {
        raw_values.insert_or_assign(k.kafka_name(), std::make_pair(k, *v));
        sources[k.kafka_name()] = "environment variable " + k.env_name();
      }
    }
  }
  for (const auto& [k, raw] : *flags) {
    raw_values.insert_or_assign(k.kafka_name(), std::make_pair(k, raw));
    sources[k.kafka_name()] = "flag --" + k.kafka_name();
  }
  for (const auto& [name, entry] : raw_values) {
    if (Status st = apply_listener_ssl(cfg, entry.first, entry.second); !st.ok()) {
      return invalid(
          fmt::format("invalid {} '{}' from {}: {}", name, entry.second, sources[name], st.message()));
    }
  }
  return {};
}

void add_security_settings(std::vector<Setting>& s) {
  s.push_back(listeners_setting(
      "listeners", "Kafka listeners NAME://HOST:PORT,...; empty: one PLAINTEXT listener on listen.",
      &Config::listeners, /*advertised=*/false));
  s.push_back(
      kafka_named(listeners_setting("advertised-listeners",
                                    "Per listener, the address clients are told (NAME://HOST:PORT,...); "
                                    "a listener not named here advertises its own host and port.",
                                    &Config::advertised_listeners, /*advertised=*/true),
                  "advertised.listeners"));
  s.push_back(kafka_named(
      Setting{
          "listener-security-protocol-map", "NAME:PROTOCOL,...",
          "Security protocol of each listener; a listener named PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL "
          "needs no entry.",
          "(empty)",
          [](Config& c, std::string_view raw) -> Status {
            auto m = parse_protocol_map(raw);
            if (!m.ok()) return m.status();
            c.listener_protocols = std::move(*m);
            return {};
          },
          [](const Config& c) {
            std::string out;
            for (const auto& [n, p] : c.listener_protocols) {
              out += (out.empty() ? "" : ",") + n + ":" + std::string(security::protocol_name(p));
            }
            return out;
          },
          nullptr},
      "listener.security.protocol.map"));
  s.push_back(kafka_named(Setting{"ssl-keystore-type", "PEM", "Keystore format; only PEM.", "PEM",
                                  [](Config&, std::string_view raw) -> Status {
                                    if (raw != "PEM") return invalid("only PEM keystores are supported");
                                    return {};
                                  },
                                  [](const Config&) { return std::string("PEM"); }, nullptr},
                          "ssl.keystore.type"));
  s.push_back(
      kafka_named(string_setting("ssl-keystore-location", "PATH",
                                 "PEM file with the certificate chain and the (unencrypted) private key "
                                 "of SSL and SASL_SSL listeners.",
                                 "(empty)", &Config::ssl_keystore_location),
                  "ssl.keystore.location"));
  s.push_back(
      kafka_named(string_setting("ssl-truststore-location", "PATH",
                                 "PEM file with the CA certificates client certificates must chain to.",
                                 "(empty)", &Config::ssl_truststore_location),
                  "ssl.truststore.location"));
  s.push_back(kafka_named(
      Setting{"ssl-client-auth", "none|requested|required",
              "Client certificates (mTLS): required, checked when sent (requested), or not asked for.",
              "none",
              [](Config& c, std::string_view raw) -> Status {
                auto a = security::parse_client_auth(raw);
                if (!a) return invalid("expected none, requested or required");
                c.ssl_client_auth = *a;
                return {};
              },
              [](const Config& c) { return std::string(security::client_auth_name(c.ssl_client_auth)); },
              nullptr},
      "ssl.client.auth"));
  s.push_back(kafka_named(
      Setting{"ssl-enabled-protocols", "LIST", "TLS versions accepted: TLSv1.2, TLSv1.3.", "TLSv1.2,TLSv1.3",
              [](Config& c, std::string_view raw) -> Status {
                security::TlsSettings t;
                t.enabled_protocols = split_list(raw);
                if (Status st = security::check_tls_settings(t); !st.ok()) return st;
                c.ssl_enabled_protocols = std::move(t.enabled_protocols);
                return {};
              },
              [](const Config& c) { return join(c.ssl_enabled_protocols); }, nullptr},
      "ssl.enabled.protocols"));
  s.push_back(kafka_named(Setting{"ssl-cipher-suites", "LIST",
                                  "Cipher suites: TLS 1.3 IANA names and OpenSSL TLS 1.2 names; empty: "
                                  "OpenSSL's defaults.",
                                  "(empty)",
                                  [](Config& c, std::string_view raw) -> Status {
                                    security::TlsSettings t;
                                    t.cipher_suites = split_list(raw);
                                    if (Status st = security::check_tls_settings(t); !st.ok()) return st;
                                    c.ssl_cipher_suites = std::move(t.cipher_suites);
                                    return {};
                                  },
                                  [](const Config& c) { return join(c.ssl_cipher_suites); }, nullptr},
                          "ssl.cipher.suites"));
  s.push_back(kafka_named(
      Setting{"ssl-principal-mapping-rules", "RULES",
              "The principal of a client certificate: DEFAULT (the whole subject DN) or "
              "RULE:pattern/replacement/[L|U] rules, comma-separated, as Kafka's; no rule applying refuses "
              "the connection.",
              "DEFAULT",
              [](Config& c, std::string_view raw) -> Status {
                auto m = security::SslPrincipalMapper::parse(raw);
                if (!m.ok()) return m.status();
                c.ssl_principal_mapping_rules = std::string(raw);
                return {};
              },
              [](const Config& c) { return c.ssl_principal_mapping_rules; }, nullptr},
      "ssl.principal.mapping.rules"));
  s.push_back(Setting{"ssl-reload-interval-ms", "MS",
                      "How often the keystore and truststore files are checked; a change applies to new "
                      "connections. 0: never.",
                      "30000",
                      [](Config& c, std::string_view raw) -> Status {
                        auto v = parse_duration_ms(raw);
                        if (!v.ok() || v->count() > 86400000)
                          return invalid("expected milliseconds in 0..86400000");
                        c.ssl_reload_interval = *v;
                        return {};
                      },
                      [](const Config& c) { return std::to_string(c.ssl_reload_interval.count()); },
                      nullptr});
  s.push_back(
      kafka_named(Setting{"sasl-enabled-mechanisms", "LIST",
                          "SASL mechanisms of SASL listeners: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512.",
                          "SCRAM-SHA-256,SCRAM-SHA-512",
                          [](Config& c, std::string_view raw) -> Status {
                            auto v = split_list(raw);
                            for (const auto& m : v) {
                              if (!security::known_mechanism(m)) {
                                return invalid(fmt::format(
                                    "'{}' is not supported (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)", m));
                              }
                            }
                            c.sasl_enabled_mechanisms = std::move(v);
                            return {};
                          },
                          [](const Config& c) { return join(c.sasl_enabled_mechanisms); }, nullptr},
                  "sasl.enabled.mechanisms"));
  s.push_back(string_setting("sasl-plain-users-file", "PATH",
                             "PLAIN users, one 'name:password' line each (read at start); needed for PLAIN.",
                             "(empty)", &Config::sasl_plain_users_file));
  s.push_back(kafka_named(
      Setting{"sasl-server-max-receive-size", "SIZE", "Largest request accepted before authentication.",
              "512KiB",
              [](Config& c, std::string_view raw) -> Status {
                auto v = parse_size(raw);
                if (!v.ok() || *v < 1024 || *v > 100 * kMiB)
                  return invalid("expected a size in 1KiB..100MiB");
                c.sasl_server_max_receive_size = *v;
                return {};
              },
              [](const Config& c) { return std::to_string(c.sasl_server_max_receive_size); }, nullptr},
      "sasl.server.max.receive.size"));
  s.push_back(Setting{
      "authentication-timeout-ms", "MS",
      "How long a connection may take to finish TLS and SASL authentication before it is closed.", "10000",
      [](Config& c, std::string_view raw) -> Status {
        auto v = parse_duration_ms(raw);
        if (!v.ok() || v->count() < 100 || v->count() > 600000) {
          return invalid("expected milliseconds in 100..600000");
        }
        c.authentication_timeout = *v;
        return {};
      },
      [](const Config& c) { return std::to_string(c.authentication_timeout.count()); }, nullptr});
  s.push_back(
      bool_setting("authorizer",
                   "Check every request against the ACLs (CreateAcls / DescribeAcls / DeleteAcls); off: "
                   "every client may do everything.",
                   "false", &Config::authorizer));
  s.push_back(kafka_named(
      Setting{"super-users", "PRINCIPALS",
              "Principals allowed everything when the authorizer is on, ';'-separated (User:admin;User:ops).",
              "(empty)",
              [](Config& c, std::string_view raw) -> Status {
                auto v = security::parse_super_users(raw);
                if (!v)
                  return invalid("expected Type:name principals separated by ';' (User:admin;User:ops)");
                c.super_users = std::move(*v);
                return {};
              },
              [](const Config& c) {
                std::string out;
                for (const auto& p : c.super_users) out += (out.empty() ? "" : ";") + p;
                return out;
              },
              nullptr},
      "super.users"));
  s.push_back(
      kafka_named(bool_setting("allow-everyone-if-no-acl-found",
                               "With the authorizer on: a resource no ACL matches is open to everyone "
                               "(false: only super users).",
                               "false", &Config::allow_everyone_if_no_acl_found),
                  "allow.everyone.if.no.acl.found"));
  s.push_back(kafka_named(
      Setting{"max-connections-per-ip-overrides", "IP:N,...",
              "Per-address connection limits (each listener) replacing max-connections-per-ip for those "
              "addresses; 0 refuses an address. IP addresses only.",
              "(empty)",
              [](Config& c, std::string_view raw) -> Status {
                auto v = parse_connection_overrides(raw);
                if (!v.ok()) return v.status();
                c.max_connections_per_ip_overrides = std::move(*v);
                return {};
              },
              [](const Config& c) {
                std::string out;
                for (const auto& [ip, n] : c.max_connections_per_ip_overrides) {
                  const bool v6 = ip.find(':') != std::string::npos;
                  out +=
                      fmt::format("{}{}{}{}:{}", out.empty() ? "" : ",", v6 ? "[" : "", ip, v6 ? "]" : "", n);
                }
                return out;
              },
              nullptr},
      "max.connections.per.ip.overrides"));
  s.push_back(Setting{"max-acls", "N", "ACLs the cluster may hold; CreateAcls beyond it is refused.", "10000",
                      [](Config& c, std::string_view raw) -> Status {
                        std::uint32_t v = 0;
                        auto [p, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), v);
                        if (ec != std::errc{} || p != raw.data() + raw.size() || v < 1 || v > 1000000) {
                          return invalid("expected an integer in 1..1000000");
                        }
                        c.max_acls = v;
                        return {};
                      },
                      [](const Config& c) { return std::to_string(c.max_acls); }, nullptr});
}

Status validate_security(const Config& cfg, const std::function<std::string(std::string_view)>& source_of) {
  auto from = [&](std::string_view name) {
    std::string src = source_of(name);
    return src.empty() ? std::string() : " (" + src + ")";
  };
  if (!cfg.listeners.empty()) {
    const std::string listen_src = source_of("listen");
    const bool listen_set = listen_src.empty() ? !(cfg.listen == Config{}.listen) : listen_src != "default";
    if (listen_set || cfg.advertise) {
      return invalid(fmt::format("listeners{} replaces listen and advertise; set one or the other, not both",
                                 from("listeners")));
    }
  } else if (!cfg.advertised_listeners.empty()) {
    return invalid(fmt::format("advertised-listeners{} needs listeners", from("advertised-listeners")));
  }
  std::set<std::string> names;
  bool any_sasl = false;
  for (const auto& l : cfg.listeners) {
    names.insert(l.name);
    auto p = protocol_of(cfg, l.name);
    if (!p) {
      return invalid(fmt::format(
          "listener {} has no security protocol: add {}:PROTOCOL to listener-security-protocol-map{}", l.name,
          l.name, from("listener-security-protocol-map")));
    }
    any_sasl = any_sasl || security::uses_sasl(*p);
    bool advertised = false;
    for (const auto& a : cfg.advertised_listeners) advertised = advertised || a.name == l.name;
    if (l.address.is_wildcard() && !advertised) {
      return invalid(
          fmt::format("listener {} binds the wildcard address {}; name it in advertised-listeners{}", l.name,
                      l.address.host, from("advertised-listeners")));
    }
    for (const auto& other : cfg.listeners) {
      if (&other != &l && other.address.port != 0 && other.address == l.address) {
        return invalid(
            fmt::format("listeners {} and {} both bind {}", l.name, other.name, l.address.to_string()));
      }
    }
  }
  for (const auto& a : cfg.advertised_listeners) {
    if (!names.count(a.name)) {
      return invalid(fmt::format("advertised-listeners{} names {}, which is not in listeners",
                                 from("advertised-listeners"), a.name));
    }
  }
  if (cfg.ssl_client_auth != security::ClientAuth::kNone && cfg.ssl_truststore_location.empty()) {
    return invalid(fmt::format("ssl-client-auth{} {} needs ssl-truststore-location", from("ssl-client-auth"),
                               security::client_auth_name(cfg.ssl_client_auth)));
  }
  for (const auto& [listener, overrides] : cfg.listener_ssl) {
    auto p = names.count(listener) ? protocol_of(cfg, listener) : std::nullopt;
    if (!p || !security::uses_tls(*p)) {
      const ListenerSslKey k{listener, overrides.begin()->first};
      return invalid(fmt::format("{}{}: listener {} is not an SSL or SASL_SSL listener of listeners",
                                 k.kafka_name(), from(k.kafka_name()), listener));
    }
  }
  for (const auto& l : cfg.listeners) {
    const auto p = protocol_of(cfg, l.name);
    if (!p || !security::uses_tls(*p)) continue;
    const Config view = listener_config(cfg, l.name);
    if (view.ssl_keystore_location.empty()) {
      return invalid(fmt::format(
          "listener {} ({}) needs ssl-keystore-location or listener.name.{}.ssl.keystore.location (PEM "
          "certificate chain and key)",
          l.name, security::protocol_name(*p), lower(l.name)));
    }
    if (view.ssl_client_auth != security::ClientAuth::kNone && view.ssl_truststore_location.empty()) {
      return invalid(
          fmt::format("listener {}: ssl.client.auth {} needs a truststore (ssl-truststore-location or "
                      "listener.name.{}.ssl.truststore.location)",
                      l.name, security::client_auth_name(view.ssl_client_auth), lower(l.name)));
    }
  }
  if (any_sasl && cfg.sasl_enabled_mechanisms.empty()) {
    return invalid(
        fmt::format("a SASL listener needs sasl-enabled-mechanisms{}", from("sasl-enabled-mechanisms")));
  }
  const bool plain = std::count(cfg.sasl_enabled_mechanisms.begin(), cfg.sasl_enabled_mechanisms.end(),
                                std::string(security::kPlain)) > 0;
  if (any_sasl && plain && cfg.sasl_plain_users_file.empty()) {
    return invalid(fmt::format("sasl-enabled-mechanisms{} has PLAIN, which needs sasl-plain-users-file",
                               from("sasl-enabled-mechanisms")));
  }
  return {};
}

}  // namespace ks::broker
