#include "security/scram.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <nlohmann/json.hpp>

#include "common/assert.h"
#include "common/base64.h"
#include "common/versioned_json.h"

namespace ks::security {
namespace {

const EVP_MD* md(ScramHash h) {
  switch (h) {
    case ScramHash::kSha1:
      return EVP_sha1();
    case ScramHash::kSha256:
      return EVP_sha256();
    case ScramHash::kSha512:
      return EVP_sha512();
  }
  return EVP_sha256();
}

Status bad(std::string msg) { return Status(Errc::invalid_argument, std::move(msg)); }

std::string xor_bytes(std::string_view a, std::string_view b) {
  KS_ASSERT(a.size() == b.size(), "xor of {} and {} bytes", a.size(), b.size());
  std::string out(a.size(), '\0');
  for (std::size_t i = 0; i < a.size(); ++i) out[i] = static_cast<char>(a[i] ^ b[i]);
  return out;
}

// Constant-time equality of two byte strings of equal length.
bool same_bytes(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char d = 0;
  for (std::size_t i = 0; i < a.size(); ++i) d |= static_cast<unsigned char>(a[i] ^ b[i]);
  return d == 0;
}

std::string salted_password(ScramHash h, std::string_view password, std::string_view salt,
                            std::int32_t iterations) {
  std::string out(static_cast<std::size_t>(EVP_MD_get_size(md(h))), '\0');
  int ok = PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                             reinterpret_cast<const unsigned char*>(salt.data()),
                             static_cast<int>(salt.size()), iterations, md(h), static_cast<int>(out.size()),
                             reinterpret_cast<unsigned char*>(out.data()));
  KS_ASSERT(ok == 1, "PBKDF2 failed ({} iterations)", iterations);
  return out;
}

// Splits "a=..,b=.." into its attributes in order; nullopt on an empty or
// malformed attribute. Values may contain '=' but not ','. Keys are one letter
// except in extensions (Kafka's "tokenauth=true").
std::optional<std::vector<std::pair<std::string_view, std::string_view>>> attributes(std::string_view s) {
  std::vector<std::pair<std::string_view, std::string_view>> out;
  while (true) {
    std::size_t comma = s.find(',');
    std::string_view part = s.substr(0, comma);
    std::size_t eq = part.find('=');
    if (eq == std::string_view::npos || eq == 0) return std::nullopt;
    out.emplace_back(part.substr(0, eq), part.substr(eq + 1));
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

// saslname: "=2C" is ',', "=3D" is '=', any other '=' is an error.
std::optional<std::string> decode_saslname(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '=') {
      out += s[i];
      continue;
    }
    if (s.substr(i, 3) == "=2C") {
      out += ',';
    } else if (s.substr(i, 3) == "=3D") {
      out += '=';
    } else {
      return std::nullopt;
    }
    i += 2;
  }
  return out;
}

bool printable_nonce(std::string_view n) {
  if (n.empty()) return false;
  for (char c : n) {
    if (c < 0x21 || c > 0x7e || c == ',') return false;
  }
  return true;
}

}  // namespace

std::optional<ScramHash> scram_mechanism(std::string_view name) {
  if (name == "SCRAM-SHA-256") return ScramHash::kSha256;
  if (name == "SCRAM-SHA-512") return ScramHash::kSha512;
  return std::nullopt;
}

std::string_view scram_mechanism_name(ScramHash h) {
  switch (h) {
    case ScramHash::kSha1:
      return "SCRAM-SHA-1";
    case ScramHash::kSha256:
      return "SCRAM-SHA-256";
    case ScramHash::kSha512:
      return "SCRAM-SHA-512";
  }
  return "SCRAM-SHA-256";
}

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  int ok = RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n));
  KS_ASSERT(ok == 1, "RAND_bytes failed for {} bytes", n);
  return out;
}

std::string scram_hmac(ScramHash h, std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  unsigned char* r = HMAC(md(h), key.data(), static_cast<int>(key.size()),
                          reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  KS_ASSERT(r != nullptr, "HMAC failed over {} bytes", data.size());
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string scram_digest(ScramHash h, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  int ok = EVP_Digest(data.data(), data.size(), out, &len, md(h), nullptr);
  KS_ASSERT(ok == 1, "digest failed over {} bytes", data.size());
  return std::string(reinterpret_cast<char*>(out), len);
}

Result<ScramCredential> make_scram_credential(ScramHash hash, std::string_view password,
                                              std::string_view salt, std::int32_t iterations) {
  if (iterations < kMinScramIterations || iterations > kMaxScramIterations) {
    return bad("SCRAM iterations must be in 4096..16384");
  }
  if (salt.empty()) return bad("SCRAM salt must not be empty");
  return scram_credential_from_salted(hash, salt, salted_password(hash, password, salt, iterations),
                                      iterations);
}

Result<ScramCredential> scram_credential_from_salted(ScramHash hash, std::string_view salt,
                                                     std::string_view salted, std::int32_t iterations) {
  if (iterations < kMinScramIterations || iterations > kMaxScramIterations) {
    return bad("SCRAM iterations must be in 4096..16384");
  }
  if (salt.empty()) return bad("SCRAM salt must not be empty");
  if (salted.empty()) return bad("SCRAM salted password must not be empty");
  ScramCredential c;
  c.hash = hash;
  c.salt = std::string(salt);
  c.iterations = iterations;
  c.stored_key = scram_digest(hash, scram_hmac(hash, salted, "Client Key"));
  c.server_key = scram_hmac(hash, salted, "Server Key");
  return c;
}

Result<ScramCredential> new_scram_credential(ScramHash hash, std::string_view password,
                                             std::int32_t iterations) {
  std::string salt = random_bytes(32);
  return make_scram_credential(hash, password, salt, iterations);
}

std::string encode_scram_credential(const ScramCredential& c) {
  nlohmann::json j;
  j["v"] = 1;
  j["mechanism"] = std::string(scram_mechanism_name(c.hash));
  j["iterations"] = c.iterations;
  j["salt"] = base64_encode(c.salt);
  j["stored_key"] = base64_encode(c.stored_key);
  j["server_key"] = base64_encode(c.server_key);
  return j.dump();
}

Result<ScramCredential> decode_scram_credential(std::string_view text) {
  return parse_versioned(text, "SCRAM credential", [](const nlohmann::json& j) -> Result<ScramCredential> {
    ScramCredential c;
    auto h = scram_mechanism(j.at("mechanism").get<std::string>());
    auto it = j.at("iterations");
    if (!h || !it.is_number_integer()) return Status(Errc::corrupt, "SCRAM credential: bad mechanism");
    c.hash = *h;
    std::int64_t iters = it.get<std::int64_t>();
    if (iters < kMinScramIterations || iters > kMaxScramIterations) {
      return Status(Errc::corrupt, "SCRAM credential: iterations out of range");
    }
    c.iterations = static_cast<std::int32_t>(iters);
    auto salt = base64_decode(j.at("salt").get<std::string>());
    auto stored = base64_decode(j.at("stored_key").get<std::string>());
    auto server = base64_decode(j.at("server_key").get<std::string>());
    const auto size = static_cast<std::size_t>(EVP_MD_get_size(md(c.hash)));
    if (!salt || salt->empty() || !stored || !server || stored->size() != size || server->size() != size) {
      return Status(Errc::corrupt, "SCRAM credential: bad salt or keys");
    }
    c.salt = std::move(*salt);
    c.stored_key = std::move(*stored);
    c.server_key = std::move(*server);
    return c;
  });
}

Result<std::string> ScramServer::client_first(std::string_view msg) {
  if (step_ != 0) return bad("SCRAM: client-first message out of order");
  step_ = 1;
  // gs2-header: cbind-flag "," [authzid] ","
  if (msg.size() < 3) return bad("SCRAM: client-first message too short");
  if (msg[0] == 'p') return bad("SCRAM: channel binding is not supported");
  if ((msg[0] != 'n' && msg[0] != 'y') || msg[1] != ',') return bad("SCRAM: bad gs2 header");
  std::size_t second = msg.find(',', 2);
  if (second == std::string_view::npos) return bad("SCRAM: bad gs2 header");
  std::string_view authzid = msg.substr(2, second - 2);
  if (!authzid.empty() && !authzid.starts_with("a=")) return bad("SCRAM: bad authzid");
  gs2_header_ = std::string(msg.substr(0, second + 1));
  client_first_bare_ = std::string(msg.substr(second + 1));
  auto attrs = attributes(client_first_bare_);
  if (!attrs || attrs->size() < 2 || (*attrs)[0].first != "n" || (*attrs)[1].first != "r") {
    return bad("SCRAM: client-first message needs n= and r=");
  }
  // Further attributes are extensions (Kafka's tokenauth): tokens are not supported.
  for (std::size_t i = 2; i < attrs->size(); ++i) {
    if ((*attrs)[i].first == "m") return bad("SCRAM: mandatory extensions are not supported");
  }
  auto user = decode_saslname((*attrs)[0].second);
  if (!user || user->empty()) return bad("SCRAM: bad user name");
  if (!authzid.empty()) {
    auto az = decode_saslname(authzid.substr(2));
    if (!az || *az != *user) return bad("SCRAM: authorization id must equal the user name");
  }
  if (!printable_nonce((*attrs)[1].second)) return bad("SCRAM: bad client nonce");
  client_nonce_ = std::string((*attrs)[1].second);
  user_ = std::move(*user);
  return user_;
}

std::string ScramServer::server_first(const ScramCredential& cred, std::string_view server_nonce) {
  KS_ASSERT(step_ == 1, "SCRAM server-first at step {}", step_);
  step_ = 2;
  cred_ = cred;
  std::string snonce = server_nonce.empty() ? base64_encode(random_bytes(24)) : std::string(server_nonce);
  nonce_ = client_nonce_ + snonce;
  server_first_ = "r=" + nonce_ + ",s=" + base64_encode(cred.salt) + ",i=" + std::to_string(cred.iterations);
  return server_first_;
}

Result<std::string> ScramServer::client_final(std::string_view msg) {
  if (step_ != 2) return bad("SCRAM: client-final message out of order");
  step_ = 3;
  std::size_t p = msg.rfind(",p=");
  if (p == std::string_view::npos) return bad("SCRAM: client-final message without proof");
  std::string_view without_proof = msg.substr(0, p);
  auto attrs = attributes(without_proof);
  if (!attrs || attrs->size() < 2 || (*attrs)[0].first != "c" || (*attrs)[1].first != "r") {
    return bad("SCRAM: client-final message needs c= and r=");
  }
  auto cbind = base64_decode((*attrs)[0].second);
  if (!cbind || *cbind != gs2_header_) return bad("SCRAM: channel binding data does not match");
  // Kafka accepts a nonce that ends with ours: librdkafka repeats its client nonce in front.
  if (!(*attrs)[1].second.ends_with(nonce_)) return bad("SCRAM: nonce does not match");
  auto proof = base64_decode(msg.substr(p + 3));
  if (!proof || proof->size() != cred_.stored_key.size()) return bad("SCRAM: bad proof");
  const std::string auth_message =
      client_first_bare_ + "," + server_first_ + "," + std::string(without_proof);
  std::string client_signature = scram_hmac(hash_, cred_.stored_key, auth_message);
  std::string client_key = xor_bytes(*proof, client_signature);
  if (!same_bytes(scram_digest(hash_, client_key), cred_.stored_key)) {
    return Status(Errc::fenced, "SCRAM: wrong proof");
  }
  return "v=" + base64_encode(scram_hmac(hash_, cred_.server_key, auth_message));
}

ScramClientProof scram_client_proof(ScramHash h, std::string_view password, std::string_view salt,
                                    std::int32_t iterations, std::string_view auth_message) {
  std::string sp = salted_password(h, password, salt, iterations);
  std::string client_key = scram_hmac(h, sp, "Client Key");
  std::string stored_key = scram_digest(h, client_key);
  std::string server_key = scram_hmac(h, sp, "Server Key");
  ScramClientProof out;
  out.proof = xor_bytes(client_key, scram_hmac(h, stored_key, auth_message));
  out.server_signature = scram_hmac(h, server_key, auth_message);
  return out;
}

}  // namespace ks::security
