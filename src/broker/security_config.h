// Listener, TLS and SASL settings (Kafka's names): parsing, cross-checks and what the broker
// derives from them. docs/SECURITY.md describes them for operators.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/config.h"
#include "security/session.h"
#include "security/tls.h"

namespace ks::broker {

struct Setting;

// "PLAINTEXT://127.0.0.1:9092,SSL://:9093" -> entries. An empty host means every interface
// (0.0.0.0). `advertised`: no wildcard host, no port 0. Names are upper-cased.
Result<std::vector<ListenerAddress>> parse_listener_list(std::string_view s, bool advertised);
// "EXTERNAL:SASL_SSL,INTERNAL:PLAINTEXT" -> entries.
Result<std::vector<std::pair<std::string, security::SecurityProtocol>>> parse_protocol_map(
    std::string_view s);

// Kafka's max.connections.per.ip.overrides: "10.0.0.7:200,[::1]:50,192.168.1.9:0" -> address (spelled
// as the broker spells client addresses) -> limit. Only IP addresses: a hostname is refused (it would
// need a DNS lookup at start, whose answer may change).
Result<std::map<std::string, uint32_t>> parse_connection_overrides(std::string_view s);

// One listener as the broker runs it.
struct ResolvedListener {
  std::string name;
  security::SecurityProtocol protocol = security::SecurityProtocol::kPlaintext;
  HostPort bind;
  std::optional<HostPort> advertised;  // unset: the bind host with the bound port
};

// The listeners to open, in order: `listeners` when set, else one PLAINTEXT listener on `listen`.
// The config must have passed validate().
std::vector<ResolvedListener> effective_listeners(const Config& cfg);
HostPort advertised_address(const ResolvedListener& l, uint16_t bound_port);

// The TLS settings of a config (for one listener: of listener_config()).
security::TlsSettings tls_settings(const Config& cfg);

// Kafka's per-listener TLS settings, "listener.name.<name>.ssl.<x>" for the ssl-* settings below
// (any case of the listener name): flag --listener.name.external.ssl.client.auth, YAML key of the
// same spelling, environment variable KAFSCALE_LISTENER_NAME_EXTERNAL_SSL_CLIENT_AUTH.
struct ListenerSslKey {
  std::string listener;  // upper-cased, as listeners spells it
  std::string setting;   // ssl-client-auth
  // listener.name.<listener in lower case>.ssl.client.auth
  std::string kafka_name() const;
  std::string env_name() const;
};
// nullopt: `key` is not such a name (or names a setting that has no per-listener form).
std::optional<ListenerSslKey> parse_listener_ssl_key(std::string_view key);
// Every per-listener key of one listener (for the environment, which cannot be listed).
std::vector<ListenerSslKey> listener_ssl_keys(const std::string& listener);
// Checks `raw` as the setting does and records it for the listener.
Status apply_listener_ssl(Config& cfg, const ListenerSslKey& key, std::string_view raw);
// `cfg` as one listener sees it: its overrides applied over the ssl-* settings.
Config listener_config(const Config& cfg, const std::string& listener);
// Reads the per-listener keys into cfg.listener_ssl: from `extras` (the flags the flag parser did not
// know, each --listener.name.<name>.ssl.<x> VALUE or =VALUE; anything else there is an error), the
// environment (asked for the keys of cfg.listeners) and `file_values` (the config file's keys, from
// `file_source`); flag > environment > file, key by key. Each key's source goes to `sources`.
Status resolve_listener_ssl(Config& cfg, const std::vector<std::string>& extras, const EnvLookup& env,
                            const std::map<std::string, std::string>& file_values,
                            const std::string& file_source,
                            std::map<std::string, std::string, std::less<>>& sources);

// Adds the settings to the broker's list (config.cc).
void add_security_settings(std::vector<Setting>& s);

// Cross-checks; `source_of(name)` is where a setting's value came from ("default" or "" when unknown).
Status validate_security(const Config& cfg, const std::function<std::string(std::string_view)>& source_of);

}  // namespace ks::broker
