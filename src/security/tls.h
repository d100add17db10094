// TLS for SSL and SASL_SSL listeners (Boost.Asio ssl over OpenSSL 3).
//
// The settings are Kafka's: a PEM keystore (certificate chain and private key
// in one file), a PEM truststore (CA certificates that sign client
// certificates), ssl.client.auth, ssl.enabled.protocols and ssl.cipher.suites.
// A context is built once per (re)load and used for new connections; existing
// connections keep the context they started with.
#pragma once

#include <boost/asio/ssl.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace ks::security {

enum class ClientAuth { kNone, kRequested, kRequired };
std::optional<ClientAuth> parse_client_auth(std::string_view s);  // none / requested / required
std::string_view client_auth_name(ClientAuth a);

struct TlsSettings {
  std::string keystore_location;    // PEM: certificate chain, then private key (or the reverse)
  std::string truststore_location;  // PEM CA certificates; empty: client certificates cannot be verified
  ClientAuth client_auth = ClientAuth::kNone;
  std::vector<std::string> enabled_protocols = {"TLSv1.2", "TLSv1.3"};
  // IANA TLS 1.3 names (TLS_AES_128_GCM_SHA256 ...) and OpenSSL TLS 1.2 names
  // (ECDHE-RSA-AES128-GCM-SHA256 ...); empty: OpenSSL's defaults.
  std::vector<std::string> cipher_suites;
};

// Checks the names (protocols, cipher-suite split) without touching files.
Status check_tls_settings(const TlsSettings& s);

// Builds a server context; invalid_argument naming the file or value that is wrong.
Result<std::shared_ptr<boost::asio::ssl::context>> make_server_context(const TlsSettings& s);

// RFC 2253 form of the verified peer certificate's subject ("CN=alice,O=Example"),
// nullopt without a verified client certificate.
std::optional<std::string> peer_subject(SSL* ssl);

// The principal of a certificate subject (Kafka's default mapping: the whole DN).
std::string principal_from_dn(std::string_view dn);

}  // namespace ks::security
