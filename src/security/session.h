// A client connection's security: the listener it came in on, its protocol,
// and whether (and as whom) it has authenticated.
//
// net::Server makes one per connection (ConnectionInfo::session); TLS sets the
// principal of a verified client certificate, the SASL handlers
// (handlers/sasl.cc) drive an exchange and set `authenticated`. Loop thread only.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "security/scram.h"

namespace ks::security {

// Kafka's security.protocol values.
enum class SecurityProtocol { kPlaintext, kSsl, kSaslPlaintext, kSaslSsl };

std::string_view protocol_name(SecurityProtocol p);  // "PLAINTEXT", "SSL", ...
// Case-insensitive; nullopt for anything else.
std::optional<SecurityProtocol> parse_security_protocol(std::string_view s);
inline bool uses_tls(SecurityProtocol p) {
  return p == SecurityProtocol::kSsl || p == SecurityProtocol::kSaslSsl;
}
inline bool uses_sasl(SecurityProtocol p) {
  return p == SecurityProtocol::kSaslPlaintext || p == SecurityProtocol::kSaslSsl;
}

inline const std::string kAnonymous = "User:ANONYMOUS";

struct Session {
  std::string listener;  // e.g. "PLAINTEXT", "SASL_SSL", "EXTERNAL"
  SecurityProtocol protocol = SecurityProtocol::kPlaintext;
  // False until SASL succeeded on a SASL listener; true from the start elsewhere.
  bool authenticated = true;
  // "User:ANONYMOUS", "User:<subject DN>" (mTLS) or "User:<name>" (SASL).
  std::string principal = kAnonymous;

  // SASL progress.
  std::string mechanism;       // chosen by SaslHandshake; empty before it
  int handshake_version = -1;  // -1: no SaslHandshake yet
  // SaslHandshake v0 (kafka-python): the exchange's tokens come as raw
  // size-prefixed frames instead of SaslAuthenticate requests.
  bool raw_tokens = false;
  std::unique_ptr<ScramServer> scram;  // the SCRAM exchange in progress

  // A session of a new connection on `listener`: authenticated unless the protocol uses SASL.
  static std::shared_ptr<Session> make(std::string listener, SecurityProtocol p);
};

// A client-supplied string made safe for one log line: control bytes, '\\'
// and non-ASCII bytes become \xNN, and it is cut at `max` bytes ("..." added).
std::string printable(std::string_view s, std::size_t max = 128);

}  // namespace ks::security
