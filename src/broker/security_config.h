// Listener, TLS and SASL settings (Kafka's names): parsing, cross-checks and what the broker
// derives from them. docs/SECURITY.md describes them for operators.
#pragma once

#include <functional>
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

// The TLS settings every SSL / SASL_SSL listener uses.
security::TlsSettings tls_settings(const Config& cfg);

// Adds the settings to the broker's list (config.cc).
void add_security_settings(std::vector<Setting>& s);

// Cross-checks; `source_of(name)` is where a setting's value came from ("default" or "" when unknown).
Status validate_security(const Config& cfg, const std::function<std::string(std::string_view)>& source_of);

}  // namespace ks::broker
