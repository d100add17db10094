// The gateway codec alone: no server, no curl.
#include "metastore/etcd_codec.h"

#include <gtest/gtest.h>

#include "common/base64.h"

namespace ks::metastore::etcd {
namespace {

json parse(const std::string& s) { return json::parse(s, nullptr, false); }

const KeyPrefix kPrefix{"/p"};

TEST(EtcdCodec, CheckedAccessNeverThrows) {
  json j = parse(R"({"a":"12","b":7,"c":"x","d":true,"e":null,"f":[1],"g":"99999999999999999999"})");
  EXPECT_EQ(num(j, "a"), 12);
  EXPECT_EQ(num(j, "b"), 7);
  EXPECT_EQ(num(j, "c"), 0);
  EXPECT_EQ(num(j, "f"), 0);
  EXPECT_EQ(num(j, "g"), 0);  // out of range
  EXPECT_EQ(num(j, "missing"), 0);
  EXPECT_TRUE(flag(j, "d"));
  EXPECT_FALSE(flag(j, "a"));
  EXPECT_EQ(str(j, "c"), "x");
  EXPECT_EQ(str(j, "b"), "");
  EXPECT_EQ(field(j, "e"), nullptr);
  EXPECT_EQ(field(json::array(), "a"), nullptr);
  EXPECT_EQ(num(parse("not json"), "a"), 0);
}

TEST(EtcdCodec, KeyPrefix) {
  EXPECT_EQ(kPrefix.key("/k"), "/p/k");
  EXPECT_EQ(kPrefix.end(""), "");
  EXPECT_EQ(kPrefix.end(std::string(1, '\0')), prefix_end("/p"));
  EXPECT_EQ(kPrefix.end("/z"), "/p/z");
  EXPECT_EQ(kPrefix.strip("/p/k"), "/k");
  EXPECT_EQ(kPrefix.strip("/q/k"), "/q/k");
  const KeyPrefix none{};
  EXPECT_EQ(none.end(std::string(1, '\0')), std::string(1, '\0'));
}

TEST(EtcdCodec, EncodesRequests) {
  RangeRequest rq;
  rq.key = "/a";
  rq.range_end = "/b";
  rq.limit = 5;
  rq.count_only = true;
  json j = encode_range(kPrefix, rq);
  EXPECT_EQ(j["key"], base64_encode("/p/a"));
  EXPECT_EQ(j["range_end"], base64_encode("/p/b"));
  EXPECT_EQ(j["limit"], "5");
  EXPECT_EQ(j["count_only"], true);
  EXPECT_FALSE(j.contains("revision"));

  TxnRequest txn;
  Compare c;
  c.key = "/k";
  c.target = Compare::Target::mod_revision;
  c.result = Compare::Result::less;
  c.number = 9;
  txn.compare.push_back(c);
  Op put;
  put.type = Op::Type::put;
  put.key = "/k";
  put.value = "v";
  put.lease = 3;
  txn.success.push_back(put);
  j = encode_txn(kPrefix, txn);
  EXPECT_EQ(j["compare"][0]["target"], "MOD");
  EXPECT_EQ(j["compare"][0]["result"], "LESS");
  EXPECT_EQ(j["compare"][0]["mod_revision"], "9");
  EXPECT_EQ(j["success"][0]["request_put"]["key"], base64_encode("/p/k"));
  EXPECT_EQ(j["success"][0]["request_put"]["lease"], "3");
  EXPECT_TRUE(j["failure"].is_array());

  j = encode_watch_create("/p/k", "", 0);
  EXPECT_EQ(dump(j), R"({"create_request":{"key":")" + base64_encode("/p/k") + R"("}})");
  EXPECT_EQ(dump(encode_lease_id(42)), R"({"ID":"42"})");
}

TEST(EtcdCodec, DecodesRange) {
  auto r = decode_range(kPrefix, parse(R"({"header":{"revision":"8"},"count":"1","more":true,"kvs":[)"
                                       R"({"key":")" +
                                       base64_encode("/p/k") + R"(","value":")" + base64_encode("v") +
                                       R"(","mod_revision":"7","version":"2"}]})"));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->revision, 8);
  EXPECT_EQ(r->count, 1);
  EXPECT_TRUE(r->more);
  ASSERT_EQ(r->kvs.size(), 1u);
  EXPECT_EQ(r->kvs[0].key, "/k");
  EXPECT_EQ(r->kvs[0].value, "v");
  EXPECT_EQ(r->kvs[0].mod_revision, 7);

  EXPECT_EQ(decode_range(kPrefix, parse(R"({"kvs":{}})")).code(), Errc::corrupt);
  EXPECT_EQ(decode_range(kPrefix, parse(R"({"kvs":[{"key":"!!"}]})")).code(), Errc::corrupt);
  EXPECT_TRUE(decode_range(kPrefix, parse("[]")).ok());  // nothing known: an empty answer
}

TEST(EtcdCodec, DecodesTxn) {
  auto r = decode_txn(kPrefix, parse(R"({"header":{"revision":"5"},"succeeded":true,"responses":[)"
                                     R"({"response_put":{}},{"response_delete_range":{"deleted":"2"}},)"
                                     R"({"response_range":{"count":"0"}}]})"));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_TRUE(r->succeeded);
  ASSERT_EQ(r->results.size(), 3u);
  EXPECT_EQ(r->results[1].deleted, 2);
  EXPECT_EQ(r->results[2].range.revision, 5);  // the txn's revision
  EXPECT_EQ(decode_txn(kPrefix, parse(R"({"responses":[{"response_other":{}}]})")).code(), Errc::corrupt);
  EXPECT_EQ(decode_txn(kPrefix, parse(R"({"responses":"x"})")).code(), Errc::corrupt);
}

TEST(EtcdCodec, DecodesLeasesAuthAndStatus) {
  EXPECT_EQ(*decode_lease_grant(parse(R"({"ID":"77","TTL":"10"})")), 77);
  EXPECT_EQ(decode_lease_grant(parse(R"({"TTL":"10"})")).code(), Errc::corrupt);
  EXPECT_EQ(decode_lease_grant(parse(R"({"error":"etcdserver: too many requests"})")).code(),
            Errc::unavailable);
  EXPECT_TRUE(decode_lease_keepalive(parse(R"({"result":{"TTL":"5"}})"), 1).ok());
  EXPECT_EQ(decode_lease_keepalive(parse(R"({"result":{}})"), 1).code(), Errc::not_found);
  EXPECT_EQ(decode_lease_keepalive(parse(R"({})"), 1).code(), Errc::corrupt);
  EXPECT_EQ(*decode_auth_token(parse(R"({"token":"t"})")), "t");
  EXPECT_EQ(decode_auth_token(parse(R"({"token":5})")).code(), Errc::corrupt);
  EXPECT_EQ(decode_status(parse(R"({"dbSize":"x"})")).code(), Errc::corrupt);
}

TEST(EtcdCodec, DecodesWatchMessages) {
  auto m = decode_watch_message(kPrefix, parse(R"({"result":{"header":{"revision":"4"},"created":true}})"));
  EXPECT_TRUE(m.created);
  EXPECT_EQ(m.revision, 4);
  EXPECT_FALSE(m.end);

  m = decode_watch_message(kPrefix, parse(R"({"result":{"canceled":true,"compact_revision":"3"}})"));
  EXPECT_EQ(m.compact_revision, 3);
  EXPECT_FALSE(m.end);
  m = decode_watch_message(kPrefix, parse(R"({"result":{"canceled":true}})"));
  ASSERT_TRUE(m.end);
  EXPECT_EQ(m.end->code(), Errc::invalid_argument);

  m = decode_watch_message(kPrefix, parse(R"({"error":{"code":14,"message":"etcdserver: no leader"}})"));
  ASSERT_TRUE(m.end);
  EXPECT_EQ(m.end->code(), Errc::unavailable);

  m = decode_watch_message(
      kPrefix, parse(R"({"result":{"events":[{"type":"DELETE","kv":{"key":")" + base64_encode("/p/k") +
                     R"(","mod_revision":"9"}},{"kv":{"key":")" + base64_encode("/p/j") + R"("}}]}})"));
  ASSERT_FALSE(m.end);
  ASSERT_EQ(m.events.size(), 2u);
  EXPECT_EQ(m.events[0].type, WatchEvent::Type::del);
  EXPECT_EQ(m.events[0].kv.key, "/k");
  EXPECT_EQ(m.events[0].kv.mod_revision, 9);
  EXPECT_EQ(m.events[1].type, WatchEvent::Type::put);

  m = decode_watch_message(kPrefix, parse(R"({"result":{"events":[{"kv":{"key":")" + base64_encode("/p/k") +
                                          R"("}},{"type":"PUT"}]}})"));
  ASSERT_TRUE(m.end);
  EXPECT_EQ(m.end->code(), Errc::corrupt);
  EXPECT_TRUE(m.events.empty());

  m = decode_watch_message(kPrefix, parse(R"({"other":1})"));  // ignored
  EXPECT_FALSE(m.created);
  EXPECT_FALSE(m.end);
  EXPECT_TRUE(m.events.empty());
}

TEST(EtcdCodec, HttpErrors) {
  EXPECT_EQ(http_error(503, parse("")).code(), Errc::unavailable);
  EXPECT_EQ(http_error(500, parse("<html>")).code(), Errc::timeout);
  EXPECT_EQ(http_error(404, parse("{}")).code(), Errc::io_error);
  Status s = http_error(400, parse(R"({"error":"etcdserver: mvcc: required revision has been compacted",)"
                                   R"("code":11})"));
  EXPECT_EQ(s.code(), Errc::compacted);
  EXPECT_TRUE(is_auth_token_error(http_error(401, parse(R"({"message":"etcdserver: invalid auth token"})"))));
}

}  // namespace
}  // namespace ks::metastore::etcd
