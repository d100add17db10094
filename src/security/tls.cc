#include "security/tls.h"

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>

namespace ks::security {
namespace {

namespace ssl = boost::asio::ssl;

Status invalid(std::string msg) { return Status(Errc::invalid_argument, std::move(msg)); }

constexpr const char* kTls13Suites[] = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                        "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_CCM_SHA256",
                                        "TLS_AES_128_CCM_8_SHA256"};

bool is_tls13_suite(const std::string& s) {
  return std::find(std::begin(kTls13Suites), std::end(kTls13Suites), s) != std::end(kTls13Suites);
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

std::string openssl_error() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

}  // namespace

std::optional<ClientAuth> parse_client_auth(std::string_view s) {
  if (s == "none") return ClientAuth::kNone;
  if (s == "requested") return ClientAuth::kRequested;
  if (s == "required") return ClientAuth::kRequired;
  return std::nullopt;
}

std::string_view client_auth_name(ClientAuth a) {
  switch (a) {
    case ClientAuth::kNone:
      return "none";
    case ClientAuth::kRequested:
      return "requested";
    case ClientAuth::kRequired:
      return "required";
  }
  return "none";
}

Status check_tls_settings(const TlsSettings& s) {
  if (s.enabled_protocols.empty()) return invalid("ssl.enabled.protocols must name TLSv1.2 and/or TLSv1.3");
  for (const auto& p : s.enabled_protocols) {
    if (p != "TLSv1.2" && p != "TLSv1.3") {
      return invalid(fmt::format("ssl.enabled.protocols: '{}' is not supported (TLSv1.2, TLSv1.3)", p));
    }
  }
  for (const auto& c : s.cipher_suites) {
    if (c.empty() || c.find_first_of(":, ") != std::string::npos) {
      return invalid(fmt::format("ssl.cipher.suites: bad name '{}'", c));
    }
  }
  return {};
}

Result<std::shared_ptr<ssl::context>> make_server_context(const TlsSettings& s) {
  if (Status st = check_tls_settings(s); !st.ok()) return st;
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  const bool v12 = std::count(s.enabled_protocols.begin(), s.enabled_protocols.end(), "TLSv1.2") > 0;
  const bool v13 = std::count(s.enabled_protocols.begin(), s.enabled_protocols.end(), "TLSv1.3") > 0;
  SSL_CTX_set_min_proto_version(native, v12 ? TLS1_2_VERSION : TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(native, v13 ? TLS1_3_VERSION : TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  std::vector<std::string> v13_suites, v12_suites;
  for (const auto& c : s.cipher_suites) (is_tls13_suite(c) ? v13_suites : v12_suites).push_back(c);
  if (!v13_suites.empty() && SSL_CTX_set_ciphersuites(native, join(v13_suites, ":").c_str()) != 1) {
    return invalid(
        fmt::format("ssl.cipher.suites: OpenSSL refuses '{}': {}", join(v13_suites, ","), openssl_error()));
  }
  if (!s.cipher_suites.empty() && v13_suites.empty()) {
    // Only TLS 1.2 names: no TLS 1.3 suite is allowed either.
    SSL_CTX_set_ciphersuites(native, "");
  }
  if (!v12_suites.empty() && SSL_CTX_set_cipher_list(native, join(v12_suites, ":").c_str()) != 1) {
    return invalid(
        fmt::format("ssl.cipher.suites: OpenSSL refuses '{}': {}", join(v12_suites, ","), openssl_error()));
  }
  boost::system::error_code ec;
  if (s.keystore_location.empty()) return invalid("ssl.keystore.location is required on SSL listeners");
  ctx->use_certificate_chain_file(s.keystore_location, ec);
  if (ec) {
    return invalid(fmt::format("ssl.keystore.location {}: no usable PEM certificate: {}", s.keystore_location,
                               ec.message()));
  }
  ctx->use_private_key_file(s.keystore_location, ssl::context::pem, ec);
  if (ec) {
    return invalid(fmt::format("ssl.keystore.location {}: no usable PEM private key (unencrypted): {}",
                               s.keystore_location, ec.message()));
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return invalid(fmt::format("ssl.keystore.location {}: the private key does not match the certificate",
                               s.keystore_location));
  }
  if (!s.truststore_location.empty()) {
    ctx->load_verify_file(s.truststore_location, ec);
    if (ec) {
      return invalid(fmt::format("ssl.truststore.location {}: no usable PEM CA certificate: {}",
                                 s.truststore_location, ec.message()));
    }
    // The CAs are also named to clients in the certificate request.
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(s.truststore_location.c_str());
    if (names != nullptr) SSL_CTX_set_client_CA_list(native, names);
  } else if (s.client_auth != ClientAuth::kNone) {
    return invalid("ssl.client.auth requested/required needs ssl.truststore.location");
  }
  ssl::verify_mode mode = ssl::verify_none;
  if (s.client_auth == ClientAuth::kRequested) mode = ssl::verify_peer;
  if (s.client_auth == ClientAuth::kRequired) mode = ssl::verify_peer | ssl::verify_fail_if_no_peer_cert;
  ctx->set_verify_mode(mode, ec);
  if (ec) return invalid("cannot set the client certificate verification mode: " + ec.message());
  // No session resumption across contexts: each reload is a fresh start.
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(native, 0);
  return ctx;
}

std::optional<std::string> peer_subject(SSL* ssl) {
  if (ssl == nullptr) return std::nullopt;
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return std::nullopt;
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return std::nullopt;
  X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data != nullptr && n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string());
  BIO_free(bio);
  return out;
}

std::string principal_from_dn(std::string_view dn) { return "User:" + std::string(dn); }

}  // namespace ks::security
