#include "security/session.h"

#include <fmt/format.h>

#include <cctype>

namespace ks::security {

std::string_view protocol_name(SecurityProtocol p) {
  switch (p) {
    case SecurityProtocol::kPlaintext:
      return "PLAINTEXT";
    case SecurityProtocol::kSsl:
      return "SSL";
    case SecurityProtocol::kSaslPlaintext:
      return "SASL_PLAINTEXT";
    case SecurityProtocol::kSaslSsl:
      return "SASL_SSL";
  }
  return "PLAINTEXT";
}

std::optional<SecurityProtocol> parse_security_protocol(std::string_view s) {
  std::string up;
  for (char c : s) up += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (auto p : {SecurityProtocol::kPlaintext, SecurityProtocol::kSsl, SecurityProtocol::kSaslPlaintext,
                 SecurityProtocol::kSaslSsl}) {
    if (up == protocol_name(p)) return p;
  }
  return std::nullopt;
}

std::shared_ptr<Session> Session::make(std::string listener, SecurityProtocol p) {
  auto s = std::make_shared<Session>();
  s->listener = std::move(listener);
  s->protocol = p;
  s->authenticated = !uses_sasl(p);
  return s;
}

std::string printable(std::string_view s, std::size_t max) {
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < max; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c >= 0x7f || c == '\\') {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

}  // namespace ks::security
