#include "objstore/s3_store.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <thread>

#include "objstore/fake_http_server.h"

#define KS_OBJSTORE_CONFORMANCE_SUITE S3StoreConformance
#include "objstore/object_store_conformance.h"

namespace ks::objstore {

namespace {

using testing::FakeHttpServer;
using testing::HttpRequest;
using testing::HttpResponse;

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// Swift (or any S3) for tests: scripts/swift-test.sh start prints these.
struct SwiftEnv {
  std::string endpoint = env_or_empty("KAFSCALE_TEST_S3_ENDPOINT");
  std::string access_key = env_or_empty("KAFSCALE_TEST_S3_ACCESS_KEY");
  std::string secret = env_or_empty("KAFSCALE_TEST_S3_SECRET");
  std::string bucket = env_or_empty("KAFSCALE_TEST_S3_BUCKET");
  std::string region = env_or_empty("KAFSCALE_TEST_S3_REGION");
  bool set() const { return !endpoint.empty() && !access_key.empty() && !secret.empty() && !bucket.empty(); }
};

constexpr char kSkipMessage[] =
    "no S3 server: set KAFSCALE_TEST_S3_ENDPOINT, _ACCESS_KEY, _SECRET and _BUCKET "
    "(eval \"$(scripts/swift-test.sh start)\")";

// A prefix no other test (or earlier run) uses.
std::string unique_prefix() {
  static std::atomic<int> counter{0};
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return "ks-test/" + std::to_string(::getpid()) + "-" +
         std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now).count()) + "-" +
         std::to_string(counter++);
}

std::string swift_url(const SwiftEnv& env, const std::string& bucket, const std::string& prefix) {
  std::string url = "s3://" + bucket + "/" + prefix + "?endpoint=" + aws::uri_encode(env.endpoint);
  if (!env.region.empty()) url += "&region=" + env.region;
  return url;
}

S3Options swift_options(const SwiftEnv& env, std::string secret = "") {
  S3Options o;
  o.credentials =
      static_credentials({env.access_key, secret.empty() ? env.secret : secret, "", std::nullopt}, "test");
  return o;
}

// Deletes everything under the store's prefix (multi-object delete).
void cleanup(S3ObjectStore& store) {
  auto all = store.list("");
  if (!all.ok()) return;
  std::vector<std::string> keys;
  for (const ObjectInfo& i : *all) keys.push_back(i.key);
  if (!keys.empty()) (void)store.remove_many(keys);
}

std::shared_ptr<S3ObjectStore> open_swift_store(S3Options opts = {}) {
  SwiftEnv env;
  if (!opts.credentials) opts = swift_options(env);
  auto s = S3ObjectStore::open(swift_url(env, env.bucket, unique_prefix()), std::move(opts));
  if (!s.ok()) {
    ADD_FAILURE() << s.status().to_string();
    return nullptr;
  }
  return std::shared_ptr<S3ObjectStore>(std::move(*s).release(), [](S3ObjectStore* p) {
    cleanup(*p);
    delete p;
  });
}

// The conformance suite gets a fresh bucket per test rather than a prefix:
// S3 limits whole keys to 1024 bytes, and the suite writes 1024-byte keys.
std::shared_ptr<ObjectStore> open_fresh_bucket_store() {
  SwiftEnv env;
  static std::atomic<int> counter{0};
  std::string bucket =
      "ks-" + std::to_string(::getpid()) + "-" +
      std::to_string(std::chrono::system_clock::now().time_since_epoch().count() % 1000000007) + "-" +
      std::to_string(counter++);
  S3Options o = swift_options(env);
  o.verify_on_open = false;
  auto s = S3ObjectStore::open(swift_url(env, bucket, ""), std::move(o));
  if (!s.ok()) {
    ADD_FAILURE() << s.status().to_string();
    return nullptr;
  }
  if (Status st = (*s)->create_bucket(); !st.ok()) {
    ADD_FAILURE() << st.to_string();
    return nullptr;
  }
  return std::shared_ptr<S3ObjectStore>(std::move(*s).release(), [](S3ObjectStore* p) {
    cleanup(*p);
    Status st = p->delete_bucket();
    EXPECT_TRUE(st.ok()) << st.to_string();  // also proves cleanup emptied it
    delete p;
  });
}

std::vector<StoreFactory> swift_factories() {
  if (!SwiftEnv().set()) return {};
  return {StoreFactory{"swift", open_fresh_bucket_store}};
}

}  // namespace

// The shared suite runs only against a real server (Swift's s3api checks
// SigV4 for real); without one it has no instances and the test below says why.
INSTANTIATE_TEST_SUITE_P(S3, S3StoreConformance, ::testing::ValuesIn(swift_factories()), StoreFactoryName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(S3StoreConformance);

namespace {

TEST(S3Swift, ConformanceNeedsServer) {
  if (!SwiftEnv().set()) GTEST_SKIP() << "S3StoreConformance not run: " << kSkipMessage;
  SUCCEED();
}

class S3SwiftTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!env_.set()) GTEST_SKIP() << kSkipMessage;
  }
  SwiftEnv env_;
};

TEST_F(S3SwiftTest, WrongSecretIsAClearError) {
  auto s = S3ObjectStore::open(swift_url(env_, env_.bucket, unique_prefix()),
                               swift_options(env_, "not-the-secret"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Errc::unavailable);
  const std::string& msg = s.status().message();
  EXPECT_NE(msg.find("SignatureDoesNotMatch"), std::string::npos) << msg;
  EXPECT_NE(msg.find("secret access key is wrong"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("not-the-secret"), std::string::npos) << msg;  // secrets are not logged

  // Without the open-time check, data operations fail the same way.
  S3Options o = swift_options(env_, "not-the-secret");
  o.verify_on_open = false;
  auto store = S3ObjectStore::open(swift_url(env_, env_.bucket, unique_prefix()), o);
  ASSERT_TRUE(store.ok());
  Status st = (*store)->put("k", "v");
  EXPECT_EQ(st.code(), Errc::unavailable);
  EXPECT_NE(st.message().find("SignatureDoesNotMatch"), std::string::npos) << st.message();
  EXPECT_EQ((*store)->get("k").code(), Errc::unavailable);
}

TEST_F(S3SwiftTest, MissingBucketIsAClearError) {
  auto s = S3ObjectStore::open(swift_url(env_, "no-such-bucket-ks", "p"), swift_options(env_));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Errc::unavailable);
  EXPECT_NE(s.status().message().find("bucket 'no-such-bucket-ks' does not exist"), std::string::npos)
      << s.status().message();
  EXPECT_NE(s.status().message().find("NoSuchBucket"), std::string::npos) << s.status().message();

  // A missing bucket is never reported as a missing object.
  S3Options o = swift_options(env_);
  o.verify_on_open = false;
  auto store = S3ObjectStore::open(swift_url(env_, "no-such-bucket-ks", "p"), o);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->get("k").code(), Errc::unavailable);
}

TEST_F(S3SwiftTest, ListPagesThroughContinuationTokens) {
  S3Options o = swift_options(env_);
  o.list_page_size = 7;
  auto store = open_swift_store(o);
  ASSERT_NE(store, nullptr);
  std::vector<std::string> keys;
  for (int i = 0; i < 23; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "page/%03d", 22 - i);
    keys.push_back(name);
    ASSERT_TRUE(store->put(name, std::string(static_cast<std::size_t>(i), 'x')).ok());
  }
  std::sort(keys.begin(), keys.end());
  auto listed = store->list("page/");
  ASSERT_TRUE(listed.ok()) << listed.status().to_string();
  ASSERT_EQ(listed->size(), 23u);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ((*listed)[i].key, keys[i]);
    EXPECT_EQ((*listed)[i].size, 22 - i);  // "page/000" was written last, with 22 bytes
  }
}

TEST_F(S3SwiftTest, MultipartUploadAboveThreshold) {
  S3Options o = swift_options(env_);
  o.part_size = 5 << 20;
  o.multipart_threshold = 5 << 20;
  auto store = open_swift_store(o);
  ASSERT_NE(store, nullptr);
  std::string big = conformance::pattern((12 << 20) + 12345, 5);  // three parts: 5 + 5 + 2 MiB
  ASSERT_TRUE(store->put("mp/big", big).ok());
  auto got = store->get("mp/big");
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  ASSERT_EQ(got->size(), big.size());
  EXPECT_TRUE(*got == big);
  auto across = store->get("mp/big", ByteRange{(5 << 20) - 10, 20});  // spans the part boundary
  ASSERT_TRUE(across.ok());
  EXPECT_EQ(*across, big.substr((5 << 20) - 10, 20));
  auto listed = store->list("mp/");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);  // no part or segment objects visible
  EXPECT_EQ((*listed)[0].size, big.size());
}

TEST_F(S3SwiftTest, MultiObjectDelete) {
  auto store = open_swift_store();
  ASSERT_NE(store, nullptr);
  std::vector<std::string> keys;
  for (int i = 0; i < 5; ++i) {
    keys.push_back("del/" + std::to_string(i));
    ASSERT_TRUE(store->put(keys.back(), "x").ok());
  }
  ASSERT_TRUE(store->put("keep", "y").ok());
  keys.push_back("del/never-existed");
  Status st = store->remove_many(keys);
  ASSERT_TRUE(st.ok()) << st.to_string();
  auto listed = store->list("");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].key, "keep");
  EXPECT_EQ(store->remove_many({"bad//key"}).code(), Errc::invalid_argument);
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0
                   : v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

// Not a benchmark gate: prints what PUTs cost against this server.
TEST_F(S3SwiftTest, MeasurePutLatencyAndThroughput) {
  auto store = open_swift_store();
  ASSERT_NE(store, nullptr);
  using Clock = std::chrono::steady_clock;
  auto ms_since = [](Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
  };

  const std::string small = conformance::pattern(4096, 1);
  std::vector<double> lat;
  for (int i = 0; i < 100; ++i) {
    auto t = Clock::now();
    ASSERT_TRUE(store->put("m/small/" + std::to_string(i), small).ok());
    lat.push_back(ms_since(t));
  }
  const std::string mib = conformance::pattern(1 << 20, 2);
  constexpr int kSeq = 32;
  auto t0 = Clock::now();
  for (int i = 0; i < kSeq; ++i) ASSERT_TRUE(store->put("m/seq/" + std::to_string(i), mib).ok());
  double seq_ms = ms_since(t0);

  constexpr int kThreads = 8;
  constexpr int kPerThread = 8;
  std::atomic<int> failures{0};
  auto t1 = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        if (!store->put("m/par/" + std::to_string(t) + "/" + std::to_string(i), mib).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  double par_ms = ms_since(t1);
  EXPECT_EQ(failures.load(), 0);

  std::cout << "[ measure  ] 4 KiB PUT latency over 100: p50 " << percentile(lat, 0.5) << " ms, p99 "
            << percentile(lat, 0.99) << " ms\n"
            << "[ measure  ] 1 MiB PUTs sequential: " << kSeq * 1000.0 / seq_ms << " MiB/s (" << seq_ms / kSeq
            << " ms each)\n"
            << "[ measure  ] 1 MiB PUTs, " << kThreads
            << " threads: " << kThreads * kPerThread * 1000.0 / par_ms << " MiB/s\n";
  RecordProperty("put_4k_p50_ms", std::to_string(percentile(lat, 0.5)));
  RecordProperty("put_1m_seq_mib_s", std::to_string(kSeq * 1000.0 / seq_ms));
}

// ---- URL parsing ------------------------------------------------------------

TEST(S3Url, Parses) {
  auto a = parse_s3_url("s3://my-bucket/some/prefix?endpoint=http%3A%2F%2F127.0.0.1%3A8080&region=eu-west-1");
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_EQ(a->bucket, "my-bucket");
  EXPECT_EQ(a->prefix, "some/prefix/");
  EXPECT_EQ(a->endpoint, "http://127.0.0.1:8080");
  EXPECT_EQ(a->region, "eu-west-1");
  EXPECT_TRUE(a->path_style);  // default with an endpoint

  auto b = parse_s3_url("s3://bucket1");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->prefix, "");
  EXPECT_EQ(b->region, "us-east-1");
  EXPECT_EQ(b->endpoint, "https://s3.us-east-1.amazonaws.com");
  EXPECT_FALSE(b->path_style);  // virtual-hosted on AWS

  auto c = parse_s3_url("s3://bucket1/p/?region=ap-south-1&path_style=true");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->prefix, "p/");
  EXPECT_EQ(c->endpoint, "https://s3.ap-south-1.amazonaws.com");
  EXPECT_TRUE(c->path_style);

  auto d = parse_s3_url("s3://bucket1/?endpoint=https%3A%2F%2Fminio.local%2F&path_style=false");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->endpoint, "https://minio.local");
  EXPECT_FALSE(d->path_style);
}

TEST(S3Url, Rejects) {
  for (const char* bad : {
           "file:///x", "s3://",
           "s3://ab/p",         // bucket too short
           "s3://Upper/p",      // uppercase bucket
           "s3://-bucket/p",    //
           "s3://bucket/a//b",  // bad prefix
           "s3://bucket/a b",   //
           "s3://bucket/../x",  //
           "s3://bucket/p?endpoint=ftp%3A%2F%2Fh", "s3://bucket/p?endpoint=http%3A%2F%2Fh%2Fpath",
           "s3://bucket/p?endpoint=%ZZ", "s3://bucket/p?region=", "s3://bucket/p?region=us_east",
           "s3://bucket/p?path_style=maybe", "s3://bucket/p?unknown=1",
           "s3://my.bucket/p?path_style=false",  // dotted names break TLS wildcards
       }) {
    auto r = parse_s3_url(bad);
    EXPECT_EQ(r.code(), Errc::invalid_argument) << bad;
  }
}

TEST(S3Url, OpenValidatesOptions) {
  S3Options o;
  EXPECT_EQ(S3ObjectStore::open("s3://bucket/p", o).code(), Errc::invalid_argument);  // no credentials
  o.credentials = static_credentials({"a", "b", "", std::nullopt});
  o.part_size = 1 << 20;
  o.verify_on_open = false;
  EXPECT_EQ(S3ObjectStore::open("s3://bucket/p", o).code(), Errc::invalid_argument);
  o.part_size = 16 << 20;
  auto s = S3ObjectStore::open("s3://bucket/p", o);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)->describe(), "s3://bucket/p/ (https://s3.us-east-1.amazonaws.com, us-east-1)");
}

// ---- Against a fake server: wire format, retries, error mapping ---------------

std::string md5_base64(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_md5(), nullptr);
  unsigned char out[64];
  int n = EVP_EncodeBlock(out, md, static_cast<int>(len));
  return std::string(reinterpret_cast<char*>(out), static_cast<std::size_t>(n));
}

std::string error_xml(const std::string& code, const std::string& msg = "m") {
  return "<?xml version=\"1.0\"?><Error><Code>" + code + "</Code><Message>" + msg + "</Message></Error>";
}

std::unique_ptr<S3ObjectStore> fake_store(const FakeHttpServer& server, S3Options o = {}) {
  if (!o.credentials) o.credentials = static_credentials({"AKIDTEST", "secret", "", std::nullopt});
  o.verify_on_open = false;
  o.retry_base_delay = std::chrono::milliseconds(1);
  o.retry_max_delay = std::chrono::milliseconds(5);
  auto s = S3ObjectStore::open("s3://bucket/pfx?endpoint=" + aws::uri_encode(server.url()), o);
  EXPECT_TRUE(s.ok()) << s.status().to_string();
  return s.ok() ? std::move(*s) : nullptr;
}

TEST(S3Fake, RetriesSlowDownThenSucceedsAndSignsRequests) {
  std::atomic<int> n{0};
  FakeHttpServer server([&](const HttpRequest&) {
    if (++n <= 2) return HttpResponse{503, {}, error_xml("SlowDown", "Please reduce your request rate.")};
    return HttpResponse{200, {{"ETag", "\"x\""}}, ""};
  });
  S3Options o;
  o.credentials = static_credentials({"AKIDTEST", "secret", "SESSIONTOKEN", std::nullopt});
  auto store = fake_store(server, o);
  ASSERT_NE(store, nullptr);
  std::string data = conformance::pattern(3000, 9);
  Status st = store->put("dir/key", data);
  ASSERT_TRUE(st.ok()) << st.to_string();
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 3u);
  for (const HttpRequest& r : reqs) {
    EXPECT_EQ(r.method, "PUT");
    EXPECT_EQ(r.target, "/bucket/pfx/dir/key");
    EXPECT_TRUE(r.body == data);
    EXPECT_EQ(r.header("content-md5"), md5_base64(data));
    EXPECT_EQ(r.header("x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
    EXPECT_EQ(r.header("x-amz-security-token"), "SESSIONTOKEN");
    EXPECT_EQ(r.header("content-type"), "application/octet-stream");
    EXPECT_TRUE(r.header("expect").empty());  // no 100-continue round trip for small bodies
    const std::string auth = r.header("authorization");
    EXPECT_EQ(auth.rfind("AWS4-HMAC-SHA256 Credential=AKIDTEST/", 0), 0u) << auth;
    EXPECT_NE(auth.find("/us-east-1/s3/aws4_request"), std::string::npos) << auth;
    EXPECT_NE(auth.find("content-md5"), std::string::npos) << auth;
    EXPECT_NE(auth.find("x-amz-security-token"), std::string::npos) << auth;
  }
}

TEST(S3Fake, NoRetryOnClientErrors) {
  std::atomic<int> n{0};
  FakeHttpServer server([&](const HttpRequest&) {
    ++n;
    return HttpResponse{400, {}, error_xml("InvalidArgument", "bad thing")};
  });
  auto store = fake_store(server);
  ASSERT_NE(store, nullptr);
  Status st = store->put("k", "v");
  EXPECT_EQ(st.code(), Errc::io_error);
  EXPECT_NE(st.message().find("InvalidArgument: bad thing"), std::string::npos) << st.message();
  EXPECT_EQ(n.load(), 1);
  EXPECT_EQ(store->get("k").code(), Errc::io_error);
  EXPECT_EQ(n.load(), 2);
}

TEST(S3Fake, ServerErrorsExhaustRetries) {
  std::atomic<int> n{0};
  FakeHttpServer server([&](const HttpRequest& r) {
    ++n;
    return HttpResponse{
        r.method == "PUT" ? 500 : 503, {}, error_xml(r.method == "PUT" ? "InternalError" : "SlowDown")};
  });
  S3Options o;
  o.max_attempts = 3;
  auto store = fake_store(server, o);
  ASSERT_NE(store, nullptr);
  // A 500 on PUT may have written the object: outcome unknown.
  Status put = store->put("k", "v");
  EXPECT_EQ(put.code(), Errc::timeout) << put.to_string();
  EXPECT_NE(put.message().find("InternalError"), std::string::npos);
  EXPECT_EQ(n.load(), 3);
  // SlowDown on a read: known not applied.
  EXPECT_EQ(store->get("k").code(), Errc::unavailable);
  EXPECT_EQ(n.load(), 6);
}

TEST(S3Fake, ErrorMapping) {
  FakeHttpServer server([&](const HttpRequest& r) {
    if (r.target.find("nokey") != std::string::npos) return HttpResponse{404, {}, error_xml("NoSuchKey")};
    if (r.target.find("nobucket") != std::string::npos)
      return HttpResponse{404, {}, error_xml("NoSuchBucket")};
    if (r.target.find("denied") != std::string::npos) {
      return HttpResponse{
          403, {}, error_xml("SignatureDoesNotMatch", "The request signature we calculated...")};
    }
    if (r.target.find("range") != std::string::npos) return HttpResponse{416, {}, error_xml("InvalidRange")};
    if (r.target.find("ignores") != std::string::npos) return HttpResponse{200, {}, "0123456789"};
    return HttpResponse{206, {}, "abc"};
  });
  auto store = fake_store(server);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->get("nokey").code(), Errc::not_found);
  EXPECT_EQ(store->get("nokey", ByteRange{0, 1}).code(), Errc::not_found);  // error body > range length
  EXPECT_TRUE(store->remove("nokey").ok());
  EXPECT_EQ(store->get("nobucket").code(), Errc::unavailable);
  EXPECT_EQ(store->remove("nobucket").code(), Errc::unavailable);
  auto denied = store->get("denied");
  EXPECT_EQ(denied.code(), Errc::unavailable);
  EXPECT_NE(denied.status().message().find("secret access key is wrong"), std::string::npos);
  EXPECT_EQ(store->get("range", ByteRange{10, 1}).code(), Errc::invalid_argument);
  // A server that ignores Range: the range is cut out locally.
  EXPECT_EQ(*store->get("ignores", ByteRange{2, 3}), "234");
  EXPECT_EQ(*store->get("ignores", ByteRange{8, 100}), "89");
  EXPECT_EQ(store->get("ignores", ByteRange{10, 1}).code(), Errc::invalid_argument);
  EXPECT_EQ(*store->get("ok", ByteRange{0, 3}), "abc");
  auto reqs = server.requests();
  ASSERT_FALSE(reqs.empty());
  EXPECT_EQ(reqs.back().header("range"), "bytes=0-2");
}

TEST(S3Fake, TimeoutIsTimeoutAndRetried) {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> n{0};
  FakeHttpServer server([&](const HttpRequest&) {
    ++n;
    std::unique_lock lock(mu);
    // Held until the test is done (bounded, so a failing test cannot hang).
    cv.wait_for(lock, std::chrono::seconds(20), [&] { return release; });
    return HttpResponse{200, {}, ""};
  });
  S3Options o;
  o.request_timeout = std::chrono::milliseconds(300);
  o.max_attempts = 2;
  auto store = fake_store(server, o);
  ASSERT_NE(store, nullptr);
  Status st = store->put("slow", "v");
  EXPECT_EQ(st.code(), Errc::timeout) << st.to_string();
  EXPECT_EQ(n.load(), 2);
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
}

TEST(S3Fake, ConnectionRefusedIsUnavailable) {
  int port;
  {
    FakeHttpServer gone([](const HttpRequest&) { return HttpResponse{}; });
    port = gone.port();
  }  // closed: nothing listens there now
  S3Options o;
  o.credentials = static_credentials({"a", "b", "", std::nullopt});
  o.verify_on_open = false;
  o.retry_base_delay = std::chrono::milliseconds(1);
  auto s = S3ObjectStore::open("s3://bucket/p?endpoint=http%3A%2F%2F127.0.0.1%3A" + std::to_string(port), o);
  ASSERT_TRUE(s.ok());
  Status st = (*s)->put("k", "v");
  EXPECT_EQ(st.code(), Errc::unavailable) << st.to_string();
  EXPECT_EQ((*s)->get("k").code(), Errc::unavailable);
}

TEST(S3Fake, ListFollowsTokensAndUnescapesKeys) {
  FakeHttpServer server([&](const HttpRequest& r) {
    std::string body = "<?xml version=\"1.0\"?><ListBucketResult><Name>bucket</Name>";
    if (r.target.find("continuation-token") == std::string::npos) {
      body +=
          "<Contents><Key>pfx/x/b</Key><Size>2</Size></Contents>"
          "<Contents><Key>pfx/x/&#x61;</Key><Size>1</Size></Contents>"  // "pfx/x/a"
          "<IsTruncated>true</IsTruncated><NextContinuationToken>tok/1=+</NextContinuationToken>";
    } else {
      body +=
          "<Contents><Key>pfx/x/c</Key><Size>3</Size></Contents>"
          "<Contents><Key>pfx/x/bad key</Key><Size>3</Size></Contents>"  // foreign: skipped
          "<IsTruncated>false</IsTruncated>";
    }
    return HttpResponse{200, {}, body + "</ListBucketResult>"};
  });
  auto store = fake_store(server);
  ASSERT_NE(store, nullptr);
  auto listed = store->list("x/");
  ASSERT_TRUE(listed.ok()) << listed.status().to_string();
  ASSERT_EQ(listed->size(), 3u);
  EXPECT_EQ((*listed)[0].key, "x/a");
  EXPECT_EQ((*listed)[0].size, 1u);
  EXPECT_EQ((*listed)[1].key, "x/b");
  EXPECT_EQ((*listed)[2].key, "x/c");
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 2u);
  // Sorted, fully encoded query parameters (what SigV4 signing needs).
  EXPECT_EQ(reqs[0].target, "/bucket/?list-type=2&max-keys=1000&prefix=pfx%2Fx%2F");
  EXPECT_EQ(reqs[1].target,
            "/bucket/?continuation-token=tok%2F1%3D%2B&list-type=2&max-keys=1000&prefix=pfx%2Fx%2F");
}

TEST(S3Fake, VirtualHostedStyleAndKeyLength) {
  FakeHttpServer server([&](const HttpRequest&) { return HttpResponse{200, {}, "data"}; });
  S3Options o;
  o.credentials = static_credentials({"a", "b", "", std::nullopt});
  o.verify_on_open = false;
  // curl resolves *.localhost to the loopback address.
  auto s = S3ObjectStore::open("s3://bucket/pfx?path_style=false&endpoint=" +
                                   aws::uri_encode("http://localhost:" + std::to_string(server.port())),
                               o);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  auto got = (*s)->get("k");
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ(*got, "data");
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].target, "/pfx/k");
  EXPECT_EQ(reqs[0].header("host"), "bucket.localhost:" + std::to_string(server.port()));
  // "pfx/" + 1021 bytes is 1025: over S3's key limit, refused locally.
  std::string long_key(1021, 'k');
  EXPECT_EQ((*s)->put(long_key, "x").code(), Errc::invalid_argument);
  EXPECT_TRUE((*s)->get(std::string(1020, 'k')).ok());
  EXPECT_EQ(server.request_count(), 2u);
}

TEST(S3Fake, TruncatedListWithoutTokenIsAnError) {
  FakeHttpServer server([&](const HttpRequest&) {
    return HttpResponse{200, {}, "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>"};
  });
  auto store = fake_store(server);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->list("").code(), Errc::io_error);
}

TEST(S3Fake, ConcurrencyIsLimited) {
  std::atomic<int> inflight{0};
  std::atomic<int> peak{0};
  std::mutex mu;
  std::condition_variable cv;
  int arrived = 0;
  FakeHttpServer server([&](const HttpRequest&) {
    int now = ++inflight;
    int p = peak.load();
    while (now > p && !peak.compare_exchange_weak(p, now)) {
    }
    {
      // Hold each request until two are in flight (or a deadline), so the
      // limit is actually reached.
      std::unique_lock lock(mu);
      ++arrived;
      cv.notify_all();
      cv.wait_for(lock, std::chrono::seconds(2), [&] { return arrived >= 2; });
    }
    --inflight;
    return HttpResponse{200, {}, ""};
  });
  S3Options o;
  o.max_connections = 2;
  auto store = fake_store(server, o);
  ASSERT_NE(store, nullptr);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&, i] { ok += store->put("c/" + std::to_string(i), "v").ok() ? 1 : 0; });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 6);
  EXPECT_EQ(peak.load(), 2);
}

TEST(S3Fake, MultipartWireFormat) {
  FakeHttpServer server([&](const HttpRequest& r) {
    if (r.method == "POST" && r.target.find("uploads=") != std::string::npos) {
      return HttpResponse{
          200,
          {},
          "<InitiateMultipartUploadResult><UploadId>up/1</UploadId></InitiateMultipartUploadResult>"};
    }
    if (r.method == "PUT") {
      if (r.header("content-md5") != md5_base64(r.body)) return HttpResponse{400, {}, error_xml("BadDigest")};
      return HttpResponse{200, {{"ETag", "\"etag-" + std::to_string(r.body.size()) + "\""}}, ""};
    }
    if (r.method == "POST") return HttpResponse{200, {}, "<CompleteMultipartUploadResult/>"};
    return HttpResponse{204, {}, ""};
  });
  S3Options o;
  o.part_size = 5 << 20;
  o.multipart_threshold = 5 << 20;
  auto store = fake_store(server, o);
  ASSERT_NE(store, nullptr);
  std::string data = conformance::pattern((10 << 20) + 1, 3);
  Status st = store->put("big", data);
  ASSERT_TRUE(st.ok()) << st.to_string();
  auto reqs = server.requests();
  std::vector<std::string> lines;
  for (const auto& r : reqs) lines.push_back(r.method + " " + r.target);
  EXPECT_EQ(lines,
            (std::vector<std::string>{
                "POST /bucket/pfx/big?uploads=", "PUT /bucket/pfx/big?partNumber=1&uploadId=up%2F1",
                "PUT /bucket/pfx/big?partNumber=2&uploadId=up%2F1",
                "PUT /bucket/pfx/big?partNumber=3&uploadId=up%2F1", "POST /bucket/pfx/big?uploadId=up%2F1"}));
  ASSERT_EQ(reqs.size(), 5u);
  EXPECT_EQ(
      reqs[4].body,
      "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&quot;etag-5242880&quot;</ETag></Part>"
      "<Part><PartNumber>2</PartNumber><ETag>&quot;etag-5242880&quot;</ETag></Part>"
      "<Part><PartNumber>3</PartNumber><ETag>&quot;etag-1&quot;</ETag></Part></CompleteMultipartUpload>");
}

}  // namespace
}  // namespace ks::objstore
