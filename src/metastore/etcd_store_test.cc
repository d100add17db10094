#include "metastore/etcd_store.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#define KS_METASTORE_CONFORMANCE_SUITE EtcdConformance
#include "metastore/metadata_store_conformance.h"

namespace ks::metastore {
namespace {

using testing::MetadataStoreBackend;

// "host:port" of the test etcd from KAFSCALE_TEST_ETCD (http://host:port), or "".
std::string test_etcd() {
  const char* v = getenv("KAFSCALE_TEST_ETCD");
  std::string s = v != nullptr ? v : "";
  if (s.rfind("http://", 0) == 0) s.erase(0, 7);
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

const bool kPrinted = [] {
  if (test_etcd().empty()) {
    std::fprintf(stderr,
                 "NOTE: KAFSCALE_TEST_ETCD is not set, so the tests against a real etcd are SKIPPED.\n"
                 "      Run them with: export KAFSCALE_TEST_ETCD=$(scripts/etcd-test.sh start)\n");
  }
  return true;
}();

#define REQUIRE_ETCD() \
  if (test_etcd().empty()) GTEST_SKIP() << "KAFSCALE_TEST_ETCD not set";

std::string unique_prefix() {
  static std::atomic<int> n{0};
  std::random_device rd;
  return "kstest-" + std::to_string(getpid()) + "-" + std::to_string(rd()) + "-" + std::to_string(n++);
}

std::unique_ptr<EtcdMetadataStore> open_ok(const std::string& url) {
  auto s = EtcdMetadataStore::open(url);
  EXPECT_TRUE(s.ok()) << url << ": " << s.status().to_string();
  return s.ok() ? std::move(s).value() : nullptr;
}

std::unique_ptr<EtcdMetadataStore> open_unchecked(EtcdOptions o) {
  o.check_connection = false;
  auto s = EtcdMetadataStore::open(std::move(o));
  EXPECT_TRUE(s.ok()) << s.status().to_string();
  return s.ok() ? std::move(s).value() : nullptr;
}

std::shared_ptr<MetadataStore> make_etcd() {
  if (test_etcd().empty()) {
    [] { GTEST_SKIP() << "KAFSCALE_TEST_ETCD not set"; }();
    // Never used: a skipped SetUp does not run the test body.
    EtcdOptions o;
    o.endpoints = {"http://127.0.0.1:1"};
    return open_unchecked(o);
  }
  return open_ok("etcd://" + test_etcd() + "/" + unique_prefix());
}

INSTANTIATE_TEST_SUITE_P(Etcd, EtcdConformance,
                         ::testing::Values(MetadataStoreBackend{"etcd", make_etcd, false}),
                         testing::backend_name);

// ---------------------------------------------------------------------------
// Sockets for the fault tests.

int listen_socket(int backlog, int* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, backlog) != 0) {
    ADD_FAILURE() << "listen failed";
    return -1;
  }
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

// A loopback port nothing listens on (connection refused).
std::string closed_endpoint() {
  int port = 0;
  int fd = listen_socket(1, &port);
  close(fd);
  return "127.0.0.1:" + std::to_string(port);
}

int connect_to(const std::string& host_port) {
  auto colon = host_port.rfind(':');
  sockaddr_in a{};
  a.sin_family = AF_INET;
  inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &a.sin_addr);
  a.sin_port = htons(static_cast<std::uint16_t>(std::stoi(host_port.substr(colon + 1))));
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Accepts connections (kernel backlog) but never answers: requests are sent
// and their responses never come.
class BlackHole {
 public:
  BlackHole() { fd_ = listen_socket(64, &port_); }
  ~BlackHole() { close(fd_); }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// A minimal HTTP/1.1 server with keep-alive; the handler maps (path,
// headers, body) to (status, body). One thread per connection.
class FakeEtcd {
 public:
  struct Reply {
    int status = 200;
    std::string body;
  };
  using Handler =
      std::function<Reply(const std::string& path, const std::string& headers, const std::string& body)>;

  explicit FakeEtcd(Handler h) : handler_(std::move(h)) {
    fd_ = listen_socket(64, &port_);
    accept_thread_ = std::thread([this] { accept_loop(); });
  }
  ~FakeEtcd() {
    shutdown(fd_, SHUT_RDWR);  // wakes accept()
    accept_thread_.join();
    {
      std::lock_guard l(mu_);
      for (int c : conns_) shutdown(c, SHUT_RDWR);
    }
    for (auto& t : threads_) t.join();
    for (int c : conns_) close(c);
    close(fd_);
  }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }
  int requests() const { return requests_.load(); }

 private:
  void accept_loop() {
    for (;;) {
      int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      std::lock_guard l(mu_);
      conns_.push_back(c);
      threads_.emplace_back([this, c] { serve(c); });
    }
  }
  void serve(int c) {
    std::string in;
    char buf[65536];
    for (;;) {
      std::size_t hdr_end;
      while ((hdr_end = in.find("\r\n\r\n")) == std::string::npos) {
        ssize_t n = read(c, buf, sizeof buf);
        if (n <= 0) return;
        in.append(buf, static_cast<std::size_t>(n));
      }
      std::string head = in.substr(0, hdr_end + 4);
      std::size_t length = 0;
      std::string lower = head;
      for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (auto p = lower.find("content-length:"); p != std::string::npos)
        length = std::stoul(lower.substr(p + 15));
      while (in.size() < hdr_end + 4 + length) {
        ssize_t n = read(c, buf, sizeof buf);
        if (n <= 0) return;
        in.append(buf, static_cast<std::size_t>(n));
      }
      std::string body = in.substr(hdr_end + 4, length);
      in.erase(0, hdr_end + 4 + length);
      std::string path = head.substr(head.find(' ') + 1);
      path = path.substr(0, path.find(' '));
      ++requests_;
      Reply r = handler_(path, head, body);
      std::string out =
          "HTTP/1.1 " + std::to_string(r.status) +
          " X\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(r.body.size()) +
          "\r\n\r\n" + r.body;
      if (write(c, out.data(), out.size()) != static_cast<ssize_t>(out.size())) return;
    }
  }

  Handler handler_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<int> requests_{0};
  std::mutex mu_;
  std::vector<int> conns_;
  std::vector<std::thread> threads_;
  std::thread accept_thread_;
};

const char* kHeader = R"("header":{"revision":"7"})";

// A TCP proxy to `upstream` that can be cut: cut() closes the listener and
// every proxied connection, as if the etcd behind it died.
class Proxy {
 public:
  explicit Proxy(std::string upstream) : upstream_(std::move(upstream)) {
    fd_ = listen_socket(64, &port_);
    wake_ = eventfd(0, EFD_CLOEXEC);
    accept_thread_ = std::thread([this] { accept_loop(); });
  }
  ~Proxy() {
    cut();
    accept_thread_.join();
    for (auto& t : threads_) t.join();
    close(wake_);
  }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }
  void cut() {
    std::lock_guard l(mu_);
    if (cut_) return;
    cut_ = true;
    shutdown(fd_, SHUT_RDWR);
    std::uint64_t one = 1;
    (void)!write(wake_, &one, sizeof one);
  }

 private:
  void accept_loop() {
    for (;;) {
      int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) break;
      std::lock_guard l(mu_);
      threads_.emplace_back([this, c] { pump(c); });
    }
    close(fd_);
  }
  void pump(int c) {
    int u = connect_to(upstream_);
    if (u >= 0) {
      char buf[65536];
      for (;;) {
        pollfd p[3] = {{c, POLLIN, 0}, {u, POLLIN, 0}, {wake_, POLLIN, 0}};
        if (poll(p, 3, -1) < 0 || p[2].revents != 0) break;
        int from = p[0].revents != 0 ? c : u;
        int to = from == c ? u : c;
        ssize_t n = read(from, buf, sizeof buf);
        if (n <= 0 || write(to, buf, static_cast<std::size_t>(n)) != n) break;
      }
      close(u);
    }
    // Reset instead of a clean close: the client sees a broken stream.
    linger lg{1, 0};
    setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(c);
  }

  std::string upstream_;
  int fd_ = -1;
  int port_ = 0;
  int wake_ = -1;
  std::mutex mu_;
  bool cut_ = false;
  std::vector<std::thread> threads_;
  std::thread accept_thread_;
};

// ---------------------------------------------------------------------------
// URL parsing

TEST(EtcdUrl, EndpointsPrefixAndParams) {
  auto o = parse_etcd_url("etcd://10.0.0.1:2379,etcd-1.example:2380,[::1]:23,bare/kafscale/prod/");
  ASSERT_TRUE(o.ok()) << o.status().to_string();
  EXPECT_EQ(o->endpoints, (std::vector<std::string>{"http://10.0.0.1:2379", "http://etcd-1.example:2380",
                                                    "http://[::1]:23", "http://bare:2379"}));
  EXPECT_EQ(o->prefix, "/kafscale/prod");
  EXPECT_EQ(o->timeout, std::chrono::milliseconds(10000));
  EXPECT_TRUE(o->username.empty());

  o = parse_etcd_url("etcd://h:1");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->prefix, "");
  o = parse_etcd_url("etcd://h:1/");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->prefix, "");
  o = parse_etcd_url("etcd://h:1/a%20b%2Fc");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->prefix, "/a b/c");

  o = parse_etcd_url(
      "etcds://h:1/p?cacert=/etc/ca.pem&cert=/c.pem&key=/k.pem&timeout_ms=2500&connect_timeout_ms=300");
  ASSERT_TRUE(o.ok()) << o.status().to_string();
  EXPECT_EQ(o->endpoints, (std::vector<std::string>{"https://h:1"}));
  EXPECT_EQ(o->ca_file, "/etc/ca.pem");
  EXPECT_EQ(o->cert_file, "/c.pem");
  EXPECT_EQ(o->key_file, "/k.pem");
  EXPECT_EQ(o->timeout, std::chrono::milliseconds(2500));
  EXPECT_EQ(o->connect_timeout, std::chrono::milliseconds(300));
}

TEST(EtcdUrl, Rejects) {
  for (const char* bad :
       {"http://h:1", "etcd://", "etcd:///p", "etcd://h:0", "etcd://h:70000", "etcd://h:x", "etcd://h:1,,h:2",
        "etcd://user:pw@h:1", "etcd://h:1/%zz", "etcd://h:1?nope=1", "etcd://h:1?timeout_ms=0",
        "etcd://h:1?cacert=/ca.pem", "etcd://[::1:1", "etcd://h h:1"}) {
    auto o = parse_etcd_url(bad);
    ASSERT_FALSE(o.ok()) << bad;
    EXPECT_EQ(o.code(), Errc::invalid_argument) << bad;
  }
  auto o = parse_etcd_url("etcd://user:pw@h:1");
  EXPECT_NE(o.status().message().find("KAFSCALE_ETCD_USERNAME"), std::string::npos);
}

TEST(EtcdUrl, Describe) {
  auto o = parse_etcd_url("etcd://a:1,b:2/x");
  ASSERT_TRUE(o.ok());
  auto s = open_unchecked(*o);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->describe(), "etcd://a:1,b:2/x");
}

// ---------------------------------------------------------------------------
// Error mapping

TEST(EtcdErrors, Mapping) {
  struct Case {
    int code;
    const char* msg;
    Errc want;
  };
  const Case cases[] = {
      {3, "etcdserver: too many operations in txn request", Errc::limit_exceeded},
      {3, "etcdserver: request is too large", Errc::limit_exceeded},
      {8, "grpc: received message larger than max (3000000 vs. 2097152)", Errc::limit_exceeded},
      {11, "etcdserver: mvcc: required revision has been compacted", Errc::compacted},
      {11, "etcdserver: mvcc: required revision is a future revision", Errc::invalid_argument},
      {5, "etcdserver: requested lease not found", Errc::not_found},
      {8, "etcdserver: mvcc: database space exceeded", Errc::nospace},
      {14, "etcdserver: request timed out", Errc::timeout},
      {14, "etcdserver: leader changed", Errc::timeout},
      {14, "etcdserver: no leader", Errc::unavailable},
      {8, "etcdserver: too many requests", Errc::unavailable},
      {3, "etcdserver: duplicate key given in txn request", Errc::invalid_argument},
      {7, "etcdserver: permission denied", Errc::io_error},
      {4, "context deadline exceeded", Errc::timeout},
      {13, "something internal", Errc::timeout},
      {14, "connection refused", Errc::unavailable},
  };
  for (const Case& c : cases) {
    Status s = etcd_error(c.code, c.msg);
    EXPECT_EQ(s.code(), c.want) << c.msg;
    EXPECT_NE(s.message().find(c.msg), std::string::npos);
  }
}

EtcdOptions fast_options(std::vector<std::string> host_ports, const std::string& prefix = "") {
  EtcdOptions o;
  for (auto& hp : host_ports) o.endpoints.push_back("http://" + hp);
  o.prefix = prefix;
  o.timeout = std::chrono::milliseconds(500);
  o.connect_timeout = std::chrono::milliseconds(200);
  o.check_connection = false;
  return o;
}

TEST(EtcdErrors, RefusedIsUnavailable) {
  auto s = open_unchecked(fast_options({closed_endpoint(), closed_endpoint()}));
  ASSERT_NE(s, nullptr);
  auto p = s->put("/k", "v");
  EXPECT_EQ(p.code(), Errc::unavailable) << p.status().to_string();
  RangeRequest req;
  req.key = "/k";
  EXPECT_EQ(s->range(req).code(), Errc::unavailable);
  EXPECT_EQ(s->lease_keepalive(1).code(), Errc::unavailable);
  testing::WatchRecorder rec;
  EXPECT_EQ(s->watch("/k", {}, 0, rec.callback()).code(), Errc::unavailable);

  // open() with its connection check reports it.
  EtcdOptions o = fast_options({closed_endpoint()});
  o.check_connection = true;
  auto opened = EtcdMetadataStore::open(o);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.code(), Errc::unavailable);
}

TEST(EtcdErrors, NoAnswerAfterSendIsTimeout) {
  BlackHole hole;
  auto s = open_unchecked(fast_options({hole.endpoint()}));
  ASSERT_NE(s, nullptr);
  const auto t0 = std::chrono::steady_clock::now();
  auto p = s->put("/k", "v");
  EXPECT_EQ(p.code(), Errc::timeout) << p.status().to_string();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  TxnRequest t;
  t.success.push_back(Op::put("/k", "v"));
  EXPECT_EQ(s->txn(t).code(), Errc::timeout);
}

TEST(EtcdErrors, LostWriteIsNotRetriedOnAnotherEndpoint) {
  BlackHole hole;
  FakeEtcd fake([](const std::string&, const std::string&, const std::string&) {
    return FakeEtcd::Reply{200, std::string("{") + kHeader + "}"};
  });
  auto s = open_unchecked(fast_options({hole.endpoint(), fake.endpoint()}));
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->put("/k", "v").code(), Errc::timeout);  // may have applied: not re-sent
  EXPECT_EQ(fake.requests(), 0);
}

TEST(EtcdErrors, EtcdErrorResponses) {
  std::string next;  // the error message the fake answers with
  int next_code = 0;
  int next_status = 400;
  FakeEtcd fake([&](const std::string&, const std::string&, const std::string&) {
    nlohmann::json j = {{"error", next}, {"message", next}, {"code", next_code}};
    return FakeEtcd::Reply{next_status, j.dump()};
  });
  auto s = open_unchecked(fast_options({fake.endpoint()}));
  ASSERT_NE(s, nullptr);
  struct Case {
    const char* msg;
    int code;
    int status;
    Errc want;
  };
  const Case cases[] = {
      {"etcdserver: request is too large", 3, 400, Errc::limit_exceeded},
      {"etcdserver: too many operations in txn request", 3, 400, Errc::limit_exceeded},
      {"etcdserver: mvcc: database space exceeded", 8, 429, Errc::nospace},
      {"etcdserver: requested lease not found", 5, 404, Errc::not_found},
      {"etcdserver: mvcc: required revision has been compacted", 11, 400, Errc::compacted},
      {"etcdserver: request timed out", 14, 503, Errc::timeout},
      {"etcdserver: no leader", 14, 503, Errc::unavailable},
  };
  for (const Case& c : cases) {
    next = c.msg;
    next_code = c.code;
    next_status = c.status;
    EXPECT_EQ(s->put("/k", "v").code(), c.want) << c.msg;
  }
  next = "etcdserver: requested lease not found";
  next_code = 5;
  next_status = 404;
  EXPECT_EQ(s->lease_revoke(42).code(), Errc::not_found);
}

TEST(EtcdStatusTest, ParsesSizesAndNospaceAlarm) {
  std::string path_seen;
  std::string reply;
  FakeEtcd fake([&](const std::string& path, const std::string&, const std::string&) {
    path_seen = path;
    return FakeEtcd::Reply{200, reply};
  });
  auto s = open_unchecked(fast_options({fake.endpoint()}));
  ASSERT_NE(s, nullptr);
  reply = std::string("{") + kHeader +
          R"(,"version":"3.4.23","dbSize":"2147483648","dbSizeInUse":"1048576",)"
          R"("errors":["memberID:8e9e05c52164694d alarm:NOSPACE "]})";
  auto st = s->status();
  ASSERT_TRUE(st.ok()) << st.status().to_string();
  EXPECT_EQ(path_seen, "/v3/maintenance/status");
  EXPECT_EQ(st->version, "3.4.23");
  EXPECT_EQ(st->db_size, 2147483648);
  EXPECT_EQ(st->db_size_in_use, 1048576);
  ASSERT_EQ(st->errors.size(), 1u);
  EXPECT_TRUE(st->nospace_alarm);

  reply = std::string("{") + kHeader + R"(,"version":"3.3.0","dbSize":"20480"})";
  st = s->status();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->db_size, 20480);
  EXPECT_EQ(st->db_size_in_use, 0);
  EXPECT_FALSE(st->nospace_alarm);

  // Untrusted answers: wrong types are ignored, an answer without any size is malformed.
  reply = std::string("{") + kHeader + R"(,"version":"3.4","dbSize":"x","errors":[1,{"a":2}]})";
  st = s->status();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->db_size, 0);
  EXPECT_TRUE(st->errors.empty());
  reply = std::string("{") + kHeader + "}";
  EXPECT_EQ(s->status().code(), Errc::corrupt);
}

TEST(EtcdFailover, NoLeaderTriesNextEndpoint) {
  FakeEtcd no_leader([](const std::string&, const std::string&, const std::string&) {
    return FakeEtcd::Reply{
        503, R"({"error":"etcdserver: no leader","message":"etcdserver: no leader","code":14})"};
  });
  FakeEtcd healthy([](const std::string& path, const std::string&, const std::string&) {
    return FakeEtcd::Reply{200, std::string("{") + kHeader + "}"};
  });
  auto s = open_unchecked(fast_options({no_leader.endpoint(), healthy.endpoint()}));
  ASSERT_NE(s, nullptr);
  auto p = s->put("/k", "v");
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(*p, 7);
  EXPECT_EQ(no_leader.requests(), 1);
  EXPECT_EQ(healthy.requests(), 1);
  // The healthy endpoint is now tried first.
  ASSERT_TRUE(s->put("/k", "v").ok());
  EXPECT_EQ(no_leader.requests(), 1);
  EXPECT_EQ(healthy.requests(), 2);
}

// Requests ask etcd to refuse them without a leader ("no leader" at once, then
// the next endpoint) rather than hold them for its request timeout; watch
// streams do not (etcd would cancel them all while the quorum is lost).
TEST(EtcdFailover, RequestsRequireALeaderWatchesDoNot) {
  std::mutex mu;
  std::vector<std::pair<std::string, bool>> seen;  // (path, carried the header)
  FakeEtcd fake([&](const std::string& path, const std::string& headers, const std::string&) {
    std::lock_guard l(mu);
    seen.emplace_back(path, headers.find("Grpc-Metadata-hasleader: true\r\n") != std::string::npos);
    if (path == "/v3/watch") {
      return FakeEtcd::Reply{
          503, R"({"error":"etcdserver: no leader","message":"etcdserver: no leader","code":14})"};
    }
    return FakeEtcd::Reply{200, std::string("{") + kHeader + R"(,"ID":"5","result":{"TTL":"3"}})"};
  });
  auto s = open_unchecked(fast_options({fake.endpoint()}));
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->put("/k", "v").ok());
  RangeRequest rr;
  rr.key = "/k";
  ASSERT_TRUE(s->range(rr).ok());
  ASSERT_TRUE(s->txn(TxnRequest{}).ok());
  ASSERT_TRUE(s->lease_keepalive(5).ok());
  auto w = s->watch("/k", "", 0, [](const std::vector<WatchEvent>&, const Status&) {});
  EXPECT_EQ(w.code(), Errc::unavailable);  // "no leader" on every attempt until the timeout
  std::lock_guard l(mu);
  std::set<std::string> with, without;
  for (const auto& [path, header] : seen) (header ? with : without).insert(path);
  EXPECT_EQ(with, (std::set<std::string>{"/v3/kv/put", "/v3/kv/range", "/v3/kv/txn", "/v3/lease/keepalive"}));
  EXPECT_EQ(without, std::set<std::string>{"/v3/watch"});
}

TEST(EtcdAuth, TokenHeaderAndReauthentication) {
  std::mutex mu;
  int tokens = 0;
  std::string valid;
  std::vector<std::string> auth_bodies;
  FakeEtcd fake([&](const std::string& path, const std::string& headers, const std::string& body) {
    std::lock_guard l(mu);
    if (path == "/v3/auth/authenticate") {
      auth_bodies.push_back(body);
      valid = "tok" + std::to_string(++tokens);
      return FakeEtcd::Reply{200, std::string("{") + kHeader + R"(,"token":")" + valid + "\"}"};
    }
    if (headers.find("Authorization: " + valid + "\r\n") == std::string::npos) {
      return FakeEtcd::Reply{
          401,
          R"({"error":"etcdserver: invalid auth token","message":"etcdserver: invalid auth token","code":16})"};
    }
    return FakeEtcd::Reply{200, std::string("{") + kHeader + "}"};
  });
  EtcdOptions o = fast_options({fake.endpoint()});
  o.username = "kafscale";
  o.password = "pw\"with quote";
  auto s = open_unchecked(o);
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->put("/k", "v").ok());
  ASSERT_TRUE(s->put("/k", "v").ok());
  {
    std::lock_guard l(mu);
    EXPECT_EQ(tokens, 1);  // the token is reused
    ASSERT_EQ(auth_bodies.size(), 1u);
    auto j = nlohmann::json::parse(auth_bodies[0]);
    EXPECT_EQ(j["name"], "kafscale");
    EXPECT_EQ(j["password"], "pw\"with quote");
    valid = "expired";  // the server forgets the token
  }
  auto p = s->put("/k", "v");
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  std::lock_guard l(mu);
  EXPECT_EQ(tokens, 2);
}

// ---------------------------------------------------------------------------
// Against a real etcd

TEST(EtcdReal, PrefixIsolation) {
  REQUIRE_ETCD();
  const std::string base = unique_prefix();
  auto a = open_ok("etcd://" + test_etcd() + "/" + base + "/a");
  auto b = open_ok("etcd://" + test_etcd() + "/" + base + "/b");
  auto raw = open_ok("etcd://" + test_etcd());
  ASSERT_TRUE(a && b && raw);

  testing::WatchRecorder rec_a;
  auto w = a->watch("/", std::string(1, '\0'), 0, rec_a.callback());
  ASSERT_TRUE(w.ok()) << w.status().to_string();

  ASSERT_TRUE(a->put("/ks/cluster", "A").ok());
  ASSERT_TRUE(b->put("/ks/cluster", "B").ok());
  ASSERT_TRUE(a->put("/ks/x", "A2").ok());

  RangeRequest all;
  all.key = "/";
  all.range_end = std::string(1, '\0');  // everything from "/" on: confined to the prefix
  auto ra = a->range(all);
  ASSERT_TRUE(ra.ok());
  ASSERT_EQ(ra->kvs.size(), 2u);
  EXPECT_EQ(ra->kvs[0].key, "/ks/cluster");
  EXPECT_EQ(ra->kvs[0].value, "A");
  auto rb = b->range(all);
  ASSERT_TRUE(rb.ok());
  ASSERT_EQ(rb->kvs.size(), 1u);
  EXPECT_EQ(rb->kvs[0].value, "B");

  // Without a prefix the full keys are visible.
  RangeRequest full;
  full.key = "/" + base + "/";
  full.range_end = prefix_end(full.key);
  auto rr = raw->range(full);
  ASSERT_TRUE(rr.ok());
  EXPECT_EQ(testing::keys_of(rr->kvs),
            (std::vector<std::string>{"/" + base + "/a/ks/cluster", "/" + base + "/a/ks/x",
                                      "/" + base + "/b/ks/cluster"}));

  // A txn compare sees its own prefix only.
  TxnRequest t;
  t.compare.push_back(testing::cmp("/ks/cluster", Compare::Target::value, Compare::Result::equal, 0, "B"));
  auto tr = b->txn(t);
  ASSERT_TRUE(tr.ok());
  EXPECT_TRUE(tr->succeeded);
  tr = a->txn(t);
  ASSERT_TRUE(tr.ok());
  EXPECT_FALSE(tr->succeeded);

  // Deleting "everything" deletes only the prefix.
  auto del = a->delete_range("/", std::string(1, '\0'));
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(*del, 2);
  EXPECT_EQ(b->range(all)->count, 1);

  ASSERT_TRUE(rec_a.wait_events(4));
  auto ev = rec_a.events();
  ASSERT_EQ(ev.size(), 4u);  // b's write is not seen
  EXPECT_EQ(ev[0].kv.key, "/ks/cluster");
  EXPECT_EQ(ev[1].kv.key, "/ks/x");
  EXPECT_EQ(ev[2].type, WatchEvent::Type::del);
  EXPECT_EQ(b->delete_range("/", std::string(1, '\0')).value(), 1);
}

TEST(EtcdReal, StatusReportsDatabaseSize) {
  REQUIRE_ETCD();
  auto s = open_ok("etcd://" + test_etcd() + "/" + unique_prefix());
  ASSERT_NE(s, nullptr);
  auto st = s->status();
  ASSERT_TRUE(st.ok()) << st.status().to_string();
  EXPECT_FALSE(st->version.empty());
  EXPECT_GT(st->db_size, 0);
  EXPECT_GT(st->db_size_in_use, 0);  // etcd-server in Debian 12 is 3.4
  EXPECT_LE(st->db_size_in_use, st->db_size);
  EXPECT_FALSE(st->nospace_alarm);
}

TEST(EtcdReal, FailoverWhenFirstEndpointIsDown) {
  REQUIRE_ETCD();
  auto s = open_ok("etcd://" + closed_endpoint() + "," + test_etcd() + "/" + unique_prefix());
  ASSERT_NE(s, nullptr);
  auto p = s->put("/k", "v");
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  RangeRequest req;
  req.key = "/k";
  auto r = s->range(req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kvs.at(0).value, "v");
  testing::WatchRecorder rec;
  auto w = s->watch("/k", {}, *p, rec.callback());
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  ASSERT_TRUE(rec.wait_events(1));
}

TEST(EtcdReal, WatchResumesOnAnotherEndpointWithoutLosingEvents) {
  REQUIRE_ETCD();
  Proxy proxy(test_etcd());
  // The proxy first: the watch stream goes through it.
  auto s = open_ok("etcd://" + proxy.endpoint() + "," + test_etcd() + "/" + unique_prefix());
  ASSERT_NE(s, nullptr);
  testing::WatchRecorder rec;
  auto w = s->watch("/w/", prefix_end("/w/"), 0, rec.callback());
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(s->put("/w/1", "a").ok());
  ASSERT_TRUE(rec.wait_events(1));
  proxy.cut();  // the stream breaks; writes fail over to the direct endpoint
  ASSERT_TRUE(s->put("/w/2", "b").ok());
  ASSERT_TRUE(s->put("/w/3", "c").ok());
  ASSERT_TRUE(rec.wait_events(3));
  ASSERT_TRUE(s->put("/w/4", "d").ok());
  ASSERT_TRUE(rec.wait_events(4));
  auto ev = rec.events();
  ASSERT_EQ(ev.size(), 4u);  // nothing lost, nothing twice
  for (int i = 0; i < 4; ++i) EXPECT_EQ(ev[i].kv.key, "/w/" + std::to_string(i + 1));
  EXPECT_FALSE(rec.wait_end(std::chrono::milliseconds(0)).has_value());
}

TEST(EtcdReal, WatchEndsUnavailableWhenEtcdIsGone) {
  REQUIRE_ETCD();
  Proxy proxy(test_etcd());
  EtcdOptions o = fast_options({proxy.endpoint()}, "/" + unique_prefix());
  auto s = open_unchecked(o);
  ASSERT_NE(s, nullptr);
  testing::WatchRecorder rec;
  auto w = s->watch("/w", {}, 0, rec.callback());
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  proxy.cut();  // "etcd stopped": resets, then refused
  auto end = rec.wait_end(std::chrono::seconds(10));
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->code(), Errc::unavailable) << end->to_string();
  EXPECT_EQ(s->put("/w", "x").code(), Errc::unavailable);
}

TEST(EtcdReal, WatchDestroyedFromItsCallback) {
  REQUIRE_ETCD();
  auto s = open_ok("etcd://" + test_etcd() + "/" + unique_prefix());
  ASSERT_NE(s, nullptr);
  std::mutex mu;
  std::condition_variable cv;
  std::unique_ptr<Watch> w;
  int calls = 0;
  auto r = s->watch("/k", {}, 0, [&](const std::vector<WatchEvent>&, const Status&) {
    std::lock_guard l(mu);
    ++calls;
    w.reset();
    cv.notify_all();
  });
  ASSERT_TRUE(r.ok());
  {
    std::lock_guard l(mu);
    w = std::move(r).value();
  }
  ASSERT_TRUE(s->put("/k", "1").ok());
  std::unique_lock l(mu);
  ASSERT_TRUE(cv.wait_for(l, std::chrono::seconds(10), [&] { return calls > 0; }));
  EXPECT_EQ(w, nullptr);
}

}  // namespace
}  // namespace ks::metastore
