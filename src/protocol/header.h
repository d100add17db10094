// Kafka request/response headers and the ApiVersions reply built from the API table.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "protocol/generated/api_table.h"
#include "protocol/wire.h"

namespace ks::protocol {

struct RequestHeader {
  int16_t api_key = 0;
  int16_t api_version = 0;
  int32_t correlation_id = 0;
  std::optional<std::string> client_id;
};

// Header v2 (v1 + tagged fields) for flexible versions of a known API, else v1. The client id is a
// classic int16-length nullable string in both.
int request_header_version(int16_t api_key, int16_t api_version);
// Header v1 (correlation id + tagged fields) for flexible responses, except ApiVersions: always v0.
int response_header_version(int16_t api_key, int16_t api_version);

// False on malformed input; the Reader holds the error (context "request header").
bool decode_request_header(Reader& r, RequestHeader& h);
void encode_response_header(Writer& w, int32_t correlation_id, int16_t api_key, int16_t version);

// ApiVersions response body listing every API in kApis (advertised ranges). When
// `request_version` is outside ApiVersions' advertised range the body carries
// UNSUPPORTED_VERSION and only the ApiVersions entry, to be encoded with v0 (KIP-511).
ApiVersionsResponse make_api_versions_response(int16_t request_version);
// The version the body above must be encoded with: request_version, or 0 when unsupported.
int16_t api_versions_response_version(int16_t request_version);
// Response header + body, ready to be framed with a size prefix.
void encode_api_versions_reply(Writer& w, int32_t correlation_id, int16_t request_version);

}  // namespace ks::protocol
