// libFuzzer target: a request as the broker reads it off the wire (the frame without its size
// prefix): the request header, then the body with the decoder the API table names for that key and
// version. Every API in the table is reached without code here. A body that decodes must encode
// again at the same version, and that encoding must decode to the same value (the codecs agree).
// Any crash, sanitizer report or failed assertion is a finding; a refused input is not.
#include <cstdint>
#include <string>
#include <string_view>

#include "common/assert.h"
#include "protocol/header.h"

namespace {

using namespace ks::protocol;

template <class Req>
void decode_body(Reader& r, int16_t version) {
  Req req;
  if (!req.decode(r, version)) {
    KS_ASSERT(!r.ok() && !r.error().empty(), "a refused {} v{} names no error", Req::kApiName, version);
    return;
  }
  Writer w;
  req.encode(w, version);
  const std::string wire = w.flatten();
  Reader again(wire);
  Req copy;
  KS_ASSERT(copy.decode(again, version), "{} v{}: our own encoding does not decode: {}", Req::kApiName,
            version, again.error());
  KS_ASSERT(again.remaining() == 0, "{} v{}: {} bytes left after decoding our own encoding", Req::kApiName,
            version, again.remaining());
  KS_ASSERT(copy == req, "{} v{}: decode(encode(x)) != x", Req::kApiName, version);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Reader r(std::string_view(reinterpret_cast<const char*>(data), size));
  RequestHeader h;
  if (!decode_request_header(r, h)) return 0;
  // Unknown keys and versions outside what we serve are answered before any body is decoded.
  const ApiSpec* spec = find_api(h.api_key);
  if (spec == nullptr || !spec->accepted(h.api_version)) return 0;
  visit_api(h.api_key, [&]<class Req, class Resp>() { decode_body<Req>(r, h.api_version); });
  return 0;
}
