// The dispatcher over a real LogManager (embedded stores in a temp dir):
// request headers by the API's flexibility, the API table's checks, the
// ApiVersions fallback, decode errors and correlation ids. Requests are built
// with protocol::Writer and the generated encoders; the request header is
// written by hand here so the test does not lean on header.cc's choice.
#include "dispatch/dispatcher.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/metrics.h"
#include "log/log_test_util.h"
#include "protocol/errors.h"

namespace ks::dispatch {
namespace {

using log::logtest::LogHarness;
using protocol::ApiVersionsRequest;
using protocol::ApiVersionsResponse;
using protocol::MetadataRequest;
using protocol::MetadataResponse;
using protocol::Reader;
using protocol::Writer;

constexpr const char* kClientId = "dispatcher-test";

// Keeps every log line (payload only) so a test can check what was said.
class CaptureSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::string text() {
    std::lock_guard l(mutex_);
    return text_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    text_.append(msg.payload.data(), msg.payload.size());
    text_ += '\n';
  }
  void flush_() override {}

 private:
  std::string text_;
};

std::uint64_t rejected(const char* reason) {
  return metrics::registry()
      .counter("kafscale_requests_rejected_total",
               "Requests that closed their connection (malformed, unknown or unsupported)",
               {{"reason", reason}})
      .value();
}

// Requests of `api` observed in kafscale_request_seconds.
std::uint64_t handled(const char* api) {
  const metrics::Histogram& h = metrics::registry().histogram(
      "kafscale_request_seconds", "Time from a request's header to its encoded response, per API",
      {{"api", api}});
  std::uint64_t n = 0;
  for (std::size_t i = 0; i <= h.bounds().size(); ++i) n += h.bucket(i);
  return n;
}

// Request header v1 (key, version, correlation id, int16-length client id),
// or v2 when `tagged` (v1 + a tagged-field section). With `extra_tag` the
// section carries one unknown tag the broker must skip.
void write_header(Writer& w, std::int16_t key, std::int16_t version, std::int32_t correlation_id, bool tagged,
                  bool extra_tag = false) {
  w.write_i16(key);
  w.write_i16(version);
  w.write_i32(correlation_id);
  w.write_nullable_string(std::string(kClientId), /*compact=*/false);
  if (!tagged) return;
  if (extra_tag) {
    w.write_uvarint(1);  // one field
    w.write_uvarint(7);  // tag
    w.write_uvarint(3);  // size
    w.write_raw("xyz");
  } else {
    w.write_uvarint(0);
  }
}

std::size_t header_size(bool tagged) {
  return 2 + 2 + 4 + 2 + std::string_view(kClientId).size() + (tagged ? 1 : 0);
}

template <class Req>
bool flexible(std::int16_t version) {
  return Req::kFirstFlexible >= 0 && version >= Req::kFirstFlexible;
}

// A request payload (no size prefix): header by the API's flexibility, then the body.
template <class Req>
std::string request(const Req& req, std::int16_t version, std::int32_t correlation_id,
                    bool extra_tag = false) {
  Writer w;
  const bool tagged = flexible<Req>(version);
  write_header(w, Req::kApiKey, version, correlation_id, tagged, extra_tag && tagged);
  req.encode(w, version);
  return w.flatten();
}

// A header alone (the dispatcher must not read further for the cases that use it).
std::string header_only(std::int16_t key, std::int16_t version, std::int32_t correlation_id, bool tagged) {
  Writer w;
  write_header(w, key, version, correlation_id, tagged);
  return w.flatten();
}

MetadataRequest metadata_for(const std::string& topic) {
  MetadataRequest req;
  req.allow_auto_topic_creation = false;
  req.topics.emplace();
  req.topics->emplace_back();
  req.topics->back().name = topic;
  return req;
}

// Checks the response frame: size prefix, correlation id, response header v0
// or v1 (`header_tags`), then a body that decodes at `version` to the end.
template <class Resp>
::testing::AssertionResult decode_reply(const net::Response& r, std::int16_t version, bool header_tags,
                                        std::int32_t correlation_id, Resp& out) {
  if (r.kind != net::Response::Kind::send || !r.frame)
    return ::testing::AssertionFailure() << "no response frame (kind " << static_cast<int>(r.kind) << ")";
  const std::string bytes = r.frame->flatten();
  Reader rd(bytes);
  const std::int32_t size = rd.read_i32();
  if (!rd.ok() || static_cast<std::size_t>(size) + 4 != bytes.size())
    return ::testing::AssertionFailure() << "size prefix " << size << " for a frame of " << bytes.size();
  const std::int32_t corr = rd.read_i32();
  if (corr != correlation_id)
    return ::testing::AssertionFailure() << "correlation id " << corr << ", expected " << correlation_id;
  if (header_tags) {
    const std::uint32_t n = rd.read_uvarint();
    if (!rd.ok() || n != 0) return ::testing::AssertionFailure() << "response header tagged fields: " << n;
  }
  if (!out.decode(rd, version)) return ::testing::AssertionFailure() << rd.error();
  if (rd.remaining() != 0)
    return ::testing::AssertionFailure() << rd.remaining() << " bytes left after the v" << version << " body";
  return ::testing::AssertionSuccess();
}

// The ranges listed equal the API table, in its order.
::testing::AssertionResult lists_our_ranges(const ApiVersionsResponse& resp) {
  if (resp.api_keys.size() != protocol::kApis.size())
    return ::testing::AssertionFailure()
           << resp.api_keys.size() << " APIs listed, the table has " << protocol::kApis.size();
  for (std::size_t i = 0; i < protocol::kApis.size(); ++i) {
    const auto& got = resp.api_keys[i];
    const auto& want = protocol::kApis[i];
    if (got.api_key != want.key || got.min_version != want.min_version || got.max_version != want.max_version)
      return ::testing::AssertionFailure()
             << "entry " << i << ": key " << got.api_key << " v" << got.min_version << "-" << got.max_version
             << ", table: " << want.name << " key " << want.key << " v" << want.min_version << "-"
             << want.max_version;
  }
  return ::testing::AssertionSuccess();
}

bool is_zero(const log::TopicId& id) { return id == log::TopicId{}; }

struct VersionCase {
  std::int16_t key;
  std::int16_t version;
  bool tagged;
};

// Keys, versions and ids the tests try (built here: no initializer lists in coroutine bodies).
std::vector<std::int16_t> undeclared_keys() { return {4, 999, -1}; }
std::vector<VersionCase> unsupported_versions() {
  return {
      {MetadataRequest::kApiKey, 14, true},                // above the range
      {protocol::FetchRequest::kApiKey, 3, false},         // below the range
      {protocol::OffsetDeleteRequest::kApiKey, 1, false},  // a single-version API
      {protocol::ProduceRequest::kApiKey, -1, false},      // negative
  };
}
std::vector<std::int16_t> unsupported_api_versions() { return {ApiVersionsRequest::kMaxVersion + 1, -1}; }
std::vector<std::int32_t> correlation_ids() {
  return {0,
          1,
          -1,
          0x01020304,
          std::numeric_limits<std::int32_t>::max(),
          std::numeric_limits<std::int32_t>::min()};
}
std::vector<std::string> bad_headers() {
  Writer w;
  write_header(w, MetadataRequest::kApiKey, 12, 34, true);
  return {w.flatten().substr(0, 5), std::string()};
}

// Produce of one batch of `n` records to partition 0 of `topic`.
std::string produce_request(const std::string& topic, std::int16_t acks, int n, std::int16_t version,
                            std::int32_t correlation_id) {
  const std::string batch = log::logtest::make_batch(n, "v");
  protocol::ProduceRequest req;
  req.acks = acks;
  req.timeout_ms = 10'000;
  req.topic_data.emplace_back();
  req.topic_data.back().name = topic;
  req.topic_data.back().partition_data.emplace_back();
  req.topic_data.back().partition_data.back().index = 0;
  req.topic_data.back().partition_data.back().records = protocol::Records::view(batch);
  return request(req, version, correlation_id);
}

// error code and base offset of the single partition answered, or {-1, -1}.
std::pair<std::int16_t, std::int64_t> produced(const protocol::ProduceResponse& resp) {
  if (resp.responses.size() != 1 || resp.responses[0].partition_responses.size() != 1) return {-1, -1};
  const auto& p = resp.responses[0].partition_responses[0];
  return {p.error_code, p.base_offset};
}

std::unique_ptr<handlers::BrokerContext> make_broker(log::LogManager& lm) {
  return std::make_unique<handlers::BrokerContext>(handlers::BrokerContext{lm, 3, "broker.test", 19092});
}

net::ConnectionInfo test_connection() {
  net::ConnectionInfo c;
  c.id = 42;
  c.peer = "192.0.2.7:5555";
  return c;
}

// One request through the dispatcher.
awaitable<void> call(Dispatcher& d, std::string payload, net::Response& out) {
  auto p = std::make_shared<const std::string>(std::move(payload));
  const net::ConnectionInfo conn = test_connection();
  out = co_await d.handle(p, conn);
}

class DispatcherTest : public LogHarness {
 protected:
  void SetUp() override {
    LogHarness::SetUp();
    sink_ = std::make_shared<CaptureSink>();
    spdlog::default_logger()->sinks().push_back(sink_);
  }
  void TearDown() override {
    std::erase(spdlog::default_logger()->sinks(), sink_);
    LogHarness::TearDown();
  }

  // Runs body(dispatcher, log) on a fresh loop with a started LogManager.
  template <class Body>
  void serve(Body body) {
    run([&](log::LogManager& lm) -> awaitable<void> {
      auto broker = make_broker(lm);
      Dispatcher d(*broker);
      co_await body(d, lm);
    });
  }

  std::string logged() { return sink_->text(); }

  std::shared_ptr<CaptureSink> sink_;
};

TEST_F(DispatcherTest, RequestHeaderV1OrV2ByTheApisFlexibility) {
  serve([&](Dispatcher& d, log::LogManager& lm) -> awaitable<void> {
    auto id = co_await log::logtest::make_topic(lm, "orders", 2);
    EXPECT_FALSE(is_zero(id));
    // Every Metadata version: header v1 below v9, v2 (with an unknown tag to
    // skip) from v9; the response header follows (v0 / v1).
    for (std::int16_t v = MetadataRequest::kMinVersion; v <= MetadataRequest::kMaxVersion; ++v) {
      const std::int32_t corr = 1000 + v;
      net::Response r;
      co_await call(d, request(metadata_for("orders"), v, corr, /*extra_tag=*/true), r);
      MetadataResponse resp;
      EXPECT_TRUE(decode_reply(r, v, flexible<MetadataRequest>(v), corr, resp)) << "Metadata v" << v;
      EXPECT_EQ(resp.brokers.size(), 1u) << "v" << v;
      if (!resp.brokers.empty()) {
        EXPECT_EQ(resp.brokers[0].node_id, 3);
        EXPECT_EQ(resp.brokers[0].host, "broker.test");
        EXPECT_EQ(resp.brokers[0].port, 19092);
      }
      EXPECT_EQ(resp.topics.size(), 1u) << "v" << v;
      if (!resp.topics.empty()) {
        EXPECT_EQ(resp.topics[0].error_code, 0) << "v" << v;
        EXPECT_EQ(resp.topics[0].name, "orders");
        EXPECT_EQ(resp.topics[0].partitions.size(), 2u);
      }
    }
    // ApiVersions: flexible requests from v3, but the response header is
    // always v0 (no tagged fields) so any client can read it.
    for (std::int16_t v = ApiVersionsRequest::kMinVersion; v <= ApiVersionsRequest::kMaxVersion; ++v) {
      ApiVersionsRequest req;
      req.client_software_name = "test";
      req.client_software_version = "1.0";
      net::Response r;
      co_await call(d, request(req, v, 2000 + v, /*extra_tag=*/true), r);
      ApiVersionsResponse resp;
      EXPECT_TRUE(decode_reply(r, v, /*header_tags=*/false, 2000 + v, resp)) << "ApiVersions v" << v;
      EXPECT_EQ(resp.error_code, 0);
      EXPECT_TRUE(lists_our_ranges(resp)) << "ApiVersions v" << v;
    }
  });
}

TEST_F(DispatcherTest, ProduceWithAcksZeroAnswersNothing) {
  serve([&](Dispatcher& d, log::LogManager& lm) -> awaitable<void> {
    auto id = co_await log::logtest::make_topic(lm, "events", 1);
    EXPECT_FALSE(is_zero(id));
    const std::uint64_t produced_before = handled("Produce");
    const std::pair<std::int16_t, std::int64_t> first_ok(0, 0), third_ok(0, 5);
    {
      net::Response r;
      co_await call(d, produce_request("events", 1, 3, 9, 61), r);
      protocol::ProduceResponse resp;
      EXPECT_TRUE(decode_reply(r, 9, /*header_tags=*/true, 61, resp));
      EXPECT_EQ(produced(resp), first_ok);
    }
    {
      net::Response r;
      co_await call(d, produce_request("events", 0, 2, 9, 62), r);
      EXPECT_EQ(r.kind, net::Response::Kind::none);
      EXPECT_FALSE(r.frame);
    }
    {
      // The acks=0 batch was appended: offsets 3-4.
      net::Response r;
      co_await call(d, produce_request("events", 1, 1, 7, 63), r);
      protocol::ProduceResponse resp;
      EXPECT_TRUE(decode_reply(r, 7, /*header_tags=*/false, 63, resp));
      EXPECT_EQ(produced(resp), third_ok);
    }
    // Each handled request's time is observed, the unanswered acks=0 one too.
    EXPECT_EQ(handled("Produce"), produced_before + 3);
  });
}

TEST_F(DispatcherTest, BrokenTagSectionInAV2HeaderCloses) {
  // Header v2 whose tagged-field section claims a 10-byte field with 2 bytes
  // left: the header itself is malformed.
  serve([&](Dispatcher& d, log::LogManager&) -> awaitable<void> {
    const auto before = rejected("malformed");
    Writer w;
    write_header(w, MetadataRequest::kApiKey, 12, 5, /*tagged=*/false);
    w.write_uvarint(1);   // one field
    w.write_uvarint(0);   // tag
    w.write_uvarint(10);  // size
    w.write_raw("ab");
    net::Response r;
    co_await call(d, w.flatten(), r);
    EXPECT_EQ(r.kind, net::Response::Kind::close);
    EXPECT_EQ(rejected("malformed"), before + 1);
    EXPECT_NE(logged().find("malformed request header: request header: "), std::string::npos) << logged();
  });
}

// A client reconnecting to send bad requests cannot flood the log: 20 lines
// per 10 s, while the counter counts every closed connection.
TEST_F(DispatcherTest, ClosingLinesAreRateLimited) {
  serve([&](Dispatcher& d, log::LogManager&) -> awaitable<void> {
    const auto before = rejected("unknown_api");
    for (int i = 0; i < 30; ++i) {
      net::Response r;
      co_await call(d, header_only(999, 0, 77, false) + std::string(8, '\0'), r);
      EXPECT_EQ(r.kind, net::Response::Kind::close);
    }
    EXPECT_EQ(rejected("unknown_api"), before + 30);
    const std::string text = logged();
    std::size_t lines = 0;
    for (std::size_t at = text.find("unknown API key 999"); at != std::string::npos;
         at = text.find("unknown API key 999", at + 1)) {
      ++lines;
    }
    EXPECT_EQ(lines, 20u) << text;
  });
}

TEST_F(DispatcherTest, UnknownApiKeyCloses) {
  serve([&](Dispatcher& d, log::LogManager&) -> awaitable<void> {
    const auto before = rejected("unknown_api");
    // 4 = LeaderAndIsr (a real Kafka API we do not declare), then keys no one uses.
    for (std::int16_t key : undeclared_keys()) {
      EXPECT_EQ(protocol::find_api(key), nullptr);
      net::Response r;
      co_await call(d, header_only(key, 0, 77, false) + std::string(8, '\0'), r);
      EXPECT_EQ(r.kind, net::Response::Kind::close) << "key " << key;
      EXPECT_FALSE(r.frame);
    }
    EXPECT_EQ(rejected("unknown_api"), before + 3);
    const std::string text = logged();
    EXPECT_NE(text.find("connection 42 (192.0.2.7:5555): unknown API key 4; closing"), std::string::npos)
        << text;
    EXPECT_NE(text.find("unknown API key 999"), std::string::npos) << text;
    EXPECT_NE(text.find("unknown API key -1"), std::string::npos) << text;
  });
}

TEST_F(DispatcherTest, UnsupportedVersionCloses) {
  serve([&](Dispatcher& d, log::LogManager&) -> awaitable<void> {
    const auto before = rejected("unsupported_version");
    const std::vector<VersionCase> cases = unsupported_versions();
    for (const auto& c : cases) {
      net::Response r;
      co_await call(d, header_only(c.key, c.version, 9, c.tagged) + std::string(16, '\0'), r);
      EXPECT_EQ(r.kind, net::Response::Kind::close) << "key " << c.key << " v" << c.version;
    }
    EXPECT_EQ(rejected("unsupported_version"), before + cases.size());
    const std::string text = logged();
    EXPECT_NE(text.find("Metadata v14 is not supported (we serve v0-13); closing"), std::string::npos)
        << text;
    EXPECT_NE(text.find("Fetch v3 is not supported (we serve v4-18)"), std::string::npos) << text;
    EXPECT_NE(text.find("OffsetDelete v1 is not supported (we serve v0-0)"), std::string::npos) << text;
  });
}

TEST_F(DispatcherTest, ApiVersionsAtAnUnsupportedVersionAnswersInAV0BodyListingOurRanges) {
  serve([&](Dispatcher& d, log::LogManager&) -> awaitable<void> {
    const auto before = rejected("unsupported_version");
    // A newer client: v99 with a v2 header and a body we cannot know.
    {
      Writer w;
      write_header(w, ApiVersionsRequest::kApiKey, 99, 4242, /*tagged=*/true, /*extra_tag=*/true);
      w.write_raw("a body from the future");
      net::Response r;
      co_await call(d, w.flatten(), r);
      ApiVersionsResponse resp;
      EXPECT_TRUE(decode_reply(r, 0, /*header_tags=*/false, 4242, resp));
      EXPECT_EQ(resp.error_code, protocol::to_int(protocol::ErrorCode::kUnsupportedVersion));
      EXPECT_TRUE(lists_our_ranges(resp));
    }
    // Just past our newest, and a negative version (header v1).
    for (std::int16_t v : unsupported_api_versions()) {
      net::Response r;
      co_await call(d, header_only(ApiVersionsRequest::kApiKey, v, 17, flexible<ApiVersionsRequest>(v)), r);
      ApiVersionsResponse resp;
      EXPECT_TRUE(decode_reply(r, 0, /*header_tags=*/false, 17, resp)) << "v" << v;
      EXPECT_EQ(resp.error_code, protocol::to_int(protocol::ErrorCode::kUnsupportedVersion));
      EXPECT_TRUE(lists_our_ranges(resp)) << "v" << v;
    }
    EXPECT_EQ(rejected("unsupported_version"), before);  // answered, not closed
  });
}

TEST_F(DispatcherTest, TruncatedBodyClosesNamingApiVersionFieldAndPosition) {
  serve([&](Dispatcher& d, log::LogManager&) -> awaitable<void> {
    const auto before = rejected("malformed");
    const std::string topic = "a-fairly-long-topic-name";
    // Flexible (v12): header v2, compact array length, topic id, then the
    // name's compact length; cut the frame inside the name.
    {
      const std::string full = request(metadata_for(topic), 12, 31);
      const std::size_t name_at = header_size(true) + 1 + 16;
      EXPECT_EQ(static_cast<unsigned char>(full[name_at]), topic.size() + 1);
      net::Response r;
      co_await call(d, full.substr(0, name_at + 1 + 5), r);
      EXPECT_EQ(r.kind, net::Response::Kind::close);
      const std::string want =
          "connection 42 (192.0.2.7:5555): Metadata v12 request: field topics[0].name: length " +
          std::to_string(topic.size()) + " exceeds the 5 remaining bytes at byte " + std::to_string(name_at) +
          "; closing";
      EXPECT_NE(logged().find(want), std::string::npos) << "want: " << want << "\nlog:\n" << logged();
    }
    // Not flexible (v1): header v1, int32 array length, int16 name length.
    {
      const std::string full = request(metadata_for(topic), 1, 32);
      const std::size_t name_at = header_size(false) + 4;
      net::Response r;
      co_await call(d, full.substr(0, name_at + 2 + 3), r);
      EXPECT_EQ(r.kind, net::Response::Kind::close);
      const std::string want = "Metadata v1 request: field topics[0].name: length " +
                               std::to_string(topic.size()) + " exceeds the 3 remaining bytes at byte " +
                               std::to_string(name_at);
      EXPECT_NE(logged().find(want), std::string::npos) << "want: " << want << "\nlog:\n" << logged();
    }
    // A body cut before a fixed-size field: ApiVersions v3 without its strings' tail.
    {
      ApiVersionsRequest req;
      req.client_software_name = "librdkafka";
      req.client_software_version = "2.3.0";
      const std::string full = request(req, 3, 33);
      net::Response r;
      co_await call(d, full.substr(0, full.size() - 4), r);
      EXPECT_EQ(r.kind, net::Response::Kind::close);
      EXPECT_NE(logged().find("ApiVersions v3 request: field client_software_version: "), std::string::npos)
          << logged();
    }
    // A header cut short, and an empty payload (a zero-size frame).
    for (const std::string& payload : bad_headers()) {
      net::Response r;
      co_await call(d, payload, r);
      EXPECT_EQ(r.kind, net::Response::Kind::close);
    }
    EXPECT_NE(logged().find("malformed request header: request header: "), std::string::npos) << logged();
    EXPECT_EQ(rejected("malformed"), before + 5);
  });
}

TEST_F(DispatcherTest, CorrelationIdIsEchoed) {
  serve([&](Dispatcher& d, log::LogManager&) -> awaitable<void> {
    for (std::int32_t corr : correlation_ids()) {
      {
        net::Response r;
        co_await call(d, request(metadata_for("unknown-topic-x"), 4, corr), r);
        MetadataResponse resp;
        EXPECT_TRUE(decode_reply(r, 4, false, corr, resp));
      }
      {
        MetadataRequest req;
        req.topics.reset();  // all topics
        net::Response r;
        co_await call(d, request(req, 12, corr), r);
        MetadataResponse resp;
        EXPECT_TRUE(decode_reply(r, 12, true, corr, resp));
      }
      {
        ApiVersionsRequest req;
        net::Response r;
        co_await call(d, request(req, 3, corr), r);
        ApiVersionsResponse resp;
        EXPECT_TRUE(decode_reply(r, 3, false, corr, resp));
      }
      {
        net::Response r;
        co_await call(d, header_only(ApiVersionsRequest::kApiKey, 42, corr, true), r);
        ApiVersionsResponse resp;
        EXPECT_TRUE(decode_reply(r, 0, false, corr, resp));
      }
    }
  });
}

}  // namespace
}  // namespace ks::dispatch
