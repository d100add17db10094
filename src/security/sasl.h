// The SASL side of authentication on SASL_PLAINTEXT and SASL_SSL listeners:
// the mechanism chosen by SaslHandshake and each token of the exchange
// (SaslAuthenticate, or raw frames after SaslHandshake v0).
//
// Mechanisms: PLAIN (users from a file the broker loaded), SCRAM-SHA-256 and
// SCRAM-SHA-512 (salted credentials looked up in the metadata store by the
// broker's lookup function). No secret (password, proof, key) is logged.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/async.h"
#include "common/status.h"
#include "security/scram.h"
#include "security/session.h"

namespace ks::security {

inline constexpr const char* kPlain = "PLAIN";

// The mechanisms we implement, as Kafka names them.
bool known_mechanism(std::string_view name);

// PLAIN users: "name:password" lines; blank lines and lines starting with '#'
// are skipped. invalid_argument (with the line number, never the password) for
// anything else or a repeated name.
Result<std::map<std::string, std::string>> parse_plain_users(std::string_view text);

struct SaslStep {
  enum class Outcome {
    kContinue,  // send `token`, wait for the next one
    kDone,      // send `token` (may be empty); the session is authenticated
    kFailed,    // authentication failed: send the error, then close
    kIllegal,   // out of order (no handshake, already authenticated): close
  };
  Outcome outcome = Outcome::kFailed;
  std::string token;
  std::string error;  // for the client; names no secret
};

enum class HandshakeResult { kOk, kUnsupportedMechanism, kIllegalState };

class Authenticator {
 public:
  // Looks a SCRAM credential up; ok(nullopt) when the user has none. Called on the
  // loop thread; the returned awaitable may do the store call elsewhere.
  using CredentialLookup = std::function<awaitable<Result<std::optional<ScramCredential>>>(
      ScramHash hash, const std::string& user)>;

  Authenticator(std::vector<std::string> mechanisms, std::map<std::string, std::string> plain_users,
                CredentialLookup lookup)
      : mechanisms_(std::move(mechanisms)),
        plain_users_(std::move(plain_users)),
        lookup_(std::move(lookup)) {}

  const std::vector<std::string>& mechanisms() const { return mechanisms_; }

  HandshakeResult handshake(Session& s, std::string_view mechanism, int version) const;
  awaitable<SaslStep> step(const std::shared_ptr<Session>& session, const std::string& token);

 private:
  SaslStep plain(Session& s, std::string_view token) const;

  std::vector<std::string> mechanisms_;
  std::map<std::string, std::string> plain_users_;
  CredentialLookup lookup_;
};

// PLAIN token "authzid\0user\0password" -> (user, password); nullopt when malformed
// or when authzid names someone else.
std::optional<std::pair<std::string, std::string>> parse_plain_token(std::string_view token);

}  // namespace ks::security
