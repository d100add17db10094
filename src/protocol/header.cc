#include "protocol/header.h"

#include "protocol/errors.h"

namespace ks::protocol {

int request_header_version(int16_t api_key, int16_t api_version) {
  const ApiSpec* api = find_api(api_key);
  return api && api->flexible(api_version) ? 2 : 1;
}

int response_header_version(int16_t api_key, int16_t api_version) {
  // ApiVersions responses keep header v0 so that a client that does not know our versions can
  // always parse the reply.
  if (api_key == ApiVersionsRequest::kApiKey) return 0;
  const ApiSpec* api = find_api(api_key);
  return api && api->flexible(api_version) ? 1 : 0;
}

bool decode_request_header(Reader& r, RequestHeader& h) {
  h = RequestHeader{};
  h.api_key = r.read_i16();
  h.api_version = r.read_i16();
  h.correlation_id = r.read_i32();
  if (r.ok()) h.client_id = r.read_nullable_string(/*compact=*/false);
  if (r.ok() && request_header_version(h.api_key, h.api_version) >= 2) r.skip_tagged_fields();
  if (r.ok()) return true;
  r.set_context("request header");
  return false;
}

void encode_response_header(Writer& w, int32_t correlation_id, int16_t api_key, int16_t version) {
  w.write_i32(correlation_id);
  if (response_header_version(api_key, version) >= 1) w.write_uvarint(0);
}

int16_t api_versions_response_version(int16_t request_version) {
  const bool supported = request_version >= ApiVersionsRequest::kMinVersion &&
                         request_version <= ApiVersionsRequest::kMaxVersion;
  return supported ? request_version : 0;
}

ApiVersionsResponse make_api_versions_response(int16_t request_version) {
  ApiVersionsResponse resp;
  const bool supported = api_versions_response_version(request_version) == request_version;
  for (const ApiSpec& a : kApis) {
    ApiVersionsResponse::ApiVersion v;
    v.api_key = a.key;
    v.min_version = a.min_version;
    v.max_version = a.max_version;
    resp.api_keys.push_back(v);
  }
  if (!supported) resp.error_code = to_int(ErrorCode::kUnsupportedVersion);
  return resp;
}

void encode_api_versions_reply(Writer& w, int32_t correlation_id, int16_t request_version) {
  const int16_t version = api_versions_response_version(request_version);
  encode_response_header(w, correlation_id, ApiVersionsRequest::kApiKey, version);
  make_api_versions_response(request_version).encode(w, version);
}

}  // namespace ks::protocol
