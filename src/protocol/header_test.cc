#include "protocol/header.h"

#include <gtest/gtest.h>

namespace ks::protocol {
namespace {

// What a client sends (the broker only decodes request headers).
void encode_request_header(Writer& w, const RequestHeader& h) {
  w.write_i16(h.api_key);
  w.write_i16(h.api_version);
  w.write_i32(h.correlation_id);
  w.write_nullable_string(h.client_id, /*compact=*/false);
  if (request_header_version(h.api_key, h.api_version) >= 2) w.write_uvarint(0);
}

std::string bytes(std::initializer_list<int> v) {
  std::string s;
  for (int b : v) s.push_back(static_cast<char>(b));
  return s;
}

TEST(Header, V1RequestHeaderByteExact) {
  // ApiVersions v0 request (header v1): key 18, version 0, correlation 7, client "abc".
  const std::string wire = bytes({0, 18, 0, 0, 0, 0, 0, 7, 0, 3, 'a', 'b', 'c'});
  RequestHeader h;
  Reader r(wire);
  ASSERT_TRUE(decode_request_header(r, h)) << r.error();
  EXPECT_EQ(h.api_key, 18);
  EXPECT_EQ(h.api_version, 0);
  EXPECT_EQ(h.correlation_id, 7);
  EXPECT_EQ(h.client_id, "abc");
  EXPECT_EQ(r.remaining(), 0u);
  Writer w;
  encode_request_header(w, h);
  EXPECT_EQ(w.buffer(), wire);
}

TEST(Header, V2FlexibleRequestHeaderByteExact) {
  // ApiVersions v3 (flexible): client id stays an int16-length string, then a tag buffer.
  const std::string wire = bytes({0, 18, 0, 3, 0, 0, 1, 0, 0, 2, 'k', 's', 1, 5, 1, 'x', /*body*/ 9});
  RequestHeader h;
  Reader r(wire);
  ASSERT_TRUE(decode_request_header(r, h)) << r.error();
  EXPECT_EQ(h.correlation_id, 256);
  EXPECT_EQ(h.client_id, "ks");
  EXPECT_EQ(r.remaining(), 1u);  // unknown header tag 5 skipped, body untouched
  EXPECT_EQ(request_header_version(18, 3), 2);
  Writer w;
  encode_request_header(w, h);
  EXPECT_EQ(w.buffer(), bytes({0, 18, 0, 3, 0, 0, 1, 0, 0, 2, 'k', 's', 0}));
}

TEST(Header, VersionSelection) {
  EXPECT_EQ(request_header_version(3, 8), 1);   // Metadata v8
  EXPECT_EQ(request_header_version(3, 9), 2);   // Metadata v9 flexible
  EXPECT_EQ(request_header_version(18, 5), 2);  // newer ApiVersions still flexible
  EXPECT_EQ(request_header_version(999, 20), 1);
  EXPECT_EQ(response_header_version(3, 9), 1);
  EXPECT_EQ(response_header_version(3, 8), 0);
  EXPECT_EQ(response_header_version(18, 3), 0);  // ApiVersions: always v0
  Writer w;
  encode_response_header(w, 5, 1, 12);
  EXPECT_EQ(w.buffer(), bytes({0, 0, 0, 5, 0}));
  Writer w2;
  encode_response_header(w2, 5, 18, 4);
  EXPECT_EQ(w2.buffer(), bytes({0, 0, 0, 5}));
}

TEST(Header, NullClientIdAndUnknownKey) {
  const std::string wire = bytes({0x03, 0xe7, 0, 1, 0, 0, 0, 2, 0xff, 0xff});
  RequestHeader h;
  Reader r(wire);
  ASSERT_TRUE(decode_request_header(r, h));
  EXPECT_EQ(h.api_key, 999);
  EXPECT_FALSE(h.client_id.has_value());
}

TEST(Header, TruncatedHeaderFails) {
  const std::string wire = bytes({0, 3, 0, 9, 0, 0, 0, 1, 0, 4, 'a'});
  for (size_t len = 0; len < wire.size(); ++len) {
    RequestHeader h;
    Reader r(std::string_view(wire).substr(0, len));
    EXPECT_FALSE(decode_request_header(r, h)) << len;
    EXPECT_EQ(r.error().rfind("request header: ", 0), 0u) << r.error();
  }
}

TEST(ApiVersionsReply, ListsEveryDeclaredApi) {
  ApiVersionsResponse resp = make_api_versions_response(3);
  EXPECT_EQ(resp.error_code, 0);
  ASSERT_EQ(resp.api_keys.size(), kApis.size());
  for (size_t i = 0; i < kApis.size(); ++i) {
    EXPECT_EQ(resp.api_keys[i].api_key, kApis[i].key);
    EXPECT_EQ(resp.api_keys[i].min_version, kApis[i].min_version);
    EXPECT_EQ(resp.api_keys[i].max_version, kApis[i].max_version);
  }
  Writer w;
  encode_api_versions_reply(w, 11, 3);
  Reader r(w.buffer());
  EXPECT_EQ(r.read_i32(), 11);  // header v0: no tag buffer even though v3 is flexible
  ApiVersionsResponse d;
  ASSERT_TRUE(d.decode(r, 3)) << r.error();
  EXPECT_TRUE(d == resp);
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(ApiVersionsReply, UnsupportedVersionAnsweredInV0) {
  EXPECT_EQ(api_versions_response_version(9), 0);
  Writer w;
  encode_api_versions_reply(w, 3, 9);
  // correlation id, error 35, then every range we serve (v0 body), so a
  // client can pick a version and retry.
  Reader r(w.buffer());
  EXPECT_EQ(r.read_i32(), 3);
  ApiVersionsResponse resp;
  ASSERT_TRUE(resp.decode(r, 0));
  EXPECT_EQ(resp.error_code, 35);
  ASSERT_EQ(resp.api_keys.size(), kApis.size());
  EXPECT_EQ(r.remaining(), 0u);
}

}  // namespace
}  // namespace ks::protocol
