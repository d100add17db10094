// libFuzzer target: what authentication parses. The first input byte picks a
// mode; the rest is split at the first NUL into two parts:
//   0: a SCRAM-SHA-256 exchange: part 1 the client-first message, part 2 the
//      client-final message (the server's nonce is fixed, so a seed can carry
//      a matching final message);
//   1: ssl.principal.mapping.rules (part 1, at most 256 bytes) and a subject DN
//      (part 2, at most 512 bytes: a DN comes from a CA-signed certificate);
//   2: a stored SCRAM credential (decode, then encode and decode again).
#include <cstdint>
#include <string>
#include <string_view>

#include "common/assert.h"
#include "security/principal_mapping.h"
#include "security/scram.h"

namespace {

using namespace ks::security;

const ScramCredential& credential() {
  static const ScramCredential c =
      make_scram_credential(ScramHash::kSha256, "pencil", "0123456789abcdef", kMinScramIterations).value();
  return c;
}

void scram(std::string_view first, std::string_view final_msg) {
  ScramServer s(ScramHash::kSha256);
  auto user = s.client_first(first);
  if (!user.ok()) return;
  KS_ASSERT(user->size() <= first.size(), "user name longer than the message it came from");
  (void)s.server_first(credential(), "fixednonce");
  (void)s.client_final(final_msg);
}

void principal(std::string_view rules, std::string_view dn) {
  if (rules.size() > 256 || dn.size() > 512) return;
  auto m = SslPrincipalMapper::parse(rules);
  if (!m.ok()) return;
  (void)m->name(std::string(dn));
}

void stored(std::string_view text) {
  auto c = decode_scram_credential(text);
  if (!c.ok()) return;
  auto again = decode_scram_credential(encode_scram_credential(*c));
  KS_ASSERT(again.ok(), "re-encoded credential does not decode: {}", again.status().to_string());
  KS_ASSERT(again->salt == c->salt && again->stored_key == c->stored_key &&
                again->server_key == c->server_key && again->iterations == c->iterations &&
                again->hash == c->hash,
            "re-encoded credential decodes to other values");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t nul = in.find('\0');
  const std::string_view a = in.substr(0, nul);
  const std::string_view b = nul == std::string_view::npos ? std::string_view() : in.substr(nul + 1);
  switch (data[0] % 3) {
    case 0:
      scram(a, b);
      break;
    case 1:
      principal(a, b);
      break;
    default:
      stored(in);
      break;
  }
  return 0;
}
