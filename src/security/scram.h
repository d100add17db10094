// SCRAM (RFC 5802, RFC 7677): salted credentials and the server side of one exchange.
//
// A credential keeps what the server needs and nothing that lets anyone log in
// with it directly: salt, iterations, StoredKey = H(ClientKey) and ServerKey.
// The exchange is three steps driven by the caller (the SASL handler): parse
// the client-first message, answer with server-first once the credential was
// looked up, then check the client-final message's proof.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace ks::security {

// kSha1 exists only for RFC 5802's test vectors; it is not a mechanism we offer.
enum class ScramHash { kSha1, kSha256, kSha512 };

// "SCRAM-SHA-256" / "SCRAM-SHA-512" -> the hash; nullopt for any other name.
std::optional<ScramHash> scram_mechanism(std::string_view name);
std::string_view scram_mechanism_name(ScramHash h);  // "SCRAM-SHA-256", ...

// Kafka's bounds for iterations (4096..16384).
inline constexpr std::int32_t kMinScramIterations = 4096;
inline constexpr std::int32_t kMaxScramIterations = 16384;

struct ScramCredential {
  ScramHash hash = ScramHash::kSha256;
  std::string salt;        // raw bytes
  std::string stored_key;  // raw bytes, H(ClientKey)
  std::string server_key;  // raw bytes
  std::int32_t iterations = kMinScramIterations;
};

// Derives a credential from a password (PBKDF2-HMAC with `iterations`).
Result<ScramCredential> make_scram_credential(ScramHash hash, std::string_view password,
                                              std::string_view salt, std::int32_t iterations);
// A credential from SaltedPassword = Hi(password, salt, iterations) computed by
// the client (AlterUserScramCredentials sends that, never the password).
Result<ScramCredential> scram_credential_from_salted(ScramHash hash, std::string_view salt,
                                                     std::string_view salted, std::int32_t iterations);
// A credential with a fresh random 32-byte salt.
Result<ScramCredential> new_scram_credential(ScramHash hash, std::string_view password,
                                             std::int32_t iterations);

// {"v":1,"mechanism":"SCRAM-SHA-256","iterations":4096,"salt":b64,"stored_key":b64,"server_key":b64}
std::string encode_scram_credential(const ScramCredential& c);
// corrupt for anything else.
Result<ScramCredential> decode_scram_credential(std::string_view text);

// Random bytes from OpenSSL's generator.
std::string random_bytes(std::size_t n);

// The primitives, exposed for the test vectors.
std::string scram_hmac(ScramHash h, std::string_view key, std::string_view data);
std::string scram_digest(ScramHash h, std::string_view data);

// The server side of one exchange.
class ScramServer {
 public:
  explicit ScramServer(ScramHash hash) : hash_(hash) {}

  // Step 1: the client-first message ("n,,n=user,r=nonce"). Returns the user
  // name (decoded from SCRAM's "=2C"/"=3D" escapes). invalid_argument for a
  // malformed message or channel binding (which we do not offer).
  Result<std::string> client_first(std::string_view msg);
  // Step 2: the server-first message for this user's credential. The server
  // nonce is random unless given (tests).
  std::string server_first(const ScramCredential& cred, std::string_view server_nonce = {});
  // Step 3: checks the client-final message; on a good proof returns the
  // server-final message ("v=..."). invalid_argument for a malformed message
  // or a nonce mismatch, Errc::fenced for a wrong proof (wrong password).
  Result<std::string> client_final(std::string_view msg);

  const std::string& user() const { return user_; }

 private:
  ScramHash hash_;
  int step_ = 0;
  std::string user_;
  std::string gs2_header_;
  std::string client_first_bare_;
  std::string client_nonce_;
  std::string nonce_;  // client + server
  std::string server_first_;
  ScramCredential cred_;
};

// For tests and tools: the client's proof and the expected server signature.
struct ScramClientProof {
  std::string proof;             // raw
  std::string server_signature;  // raw
};
ScramClientProof scram_client_proof(ScramHash h, std::string_view password, std::string_view salt,
                                    std::int32_t iterations, std::string_view auth_message);

}  // namespace ks::security
