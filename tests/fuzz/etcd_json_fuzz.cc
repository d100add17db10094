// libFuzzer target: answers of etcd's v3 JSON gateway as the etcd backend decodes them (every
// decoder of metastore/etcd_codec.h). The first input byte picks the decoder and a key prefix; the
// rest is the body, parsed the way the transport parses it (no exceptions). Nothing may throw or
// crash: a malformed answer is a Status.
#include <cstdint>
#include <string_view>

#include "metastore/etcd_codec.h"

namespace {

using namespace ks::metastore::etcd;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const json body = json::parse(text, nullptr, /*allow_exceptions=*/false);
  KeyPrefix keys;
  if (data[0] & 0x80) keys.prefix = "/kafscale/";
  switch (data[0] & 0x0f) {
    case 0:
      (void)decode_range(keys, body);
      break;
    case 1:
      (void)decode_txn(keys, body);
      break;
    case 2:
      (void)decode_kv(keys, body);
      break;
    case 3:
      (void)decode_deleted(body);
      break;
    case 4:
      (void)decode_lease_grant(body);
      break;
    case 5:
      (void)decode_lease_keepalive(body, 42);
      break;
    case 6:
      (void)decode_auth_token(body);
      break;
    case 7:
      (void)decode_status(body);
      break;
    case 8:
      (void)decode_watch_message(keys, body);
      break;
    case 9:
      (void)is_auth_token_error(error_from_body(body));
      break;
    case 10:
      (void)http_error(400 + (data[0] >> 4), body);
      break;
    default:
      (void)header_revision(body);
      break;
  }
  return 0;
}
