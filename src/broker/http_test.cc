#include "broker/http.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <optional>
#include <stdexcept>
#include <thread>

#include "common/metrics.h"

namespace ks::broker {
namespace {

using ::testing::HasSubstr;

struct Response {
  std::string status_line;
  std::string headers;  // raw header block
  std::string body;
};

// Blocking client on a raw socket. Every receive is bounded by a 10 s timeout so a broken server
// fails the test instead of hanging it.
class Client {
 public:
  explicit Client(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~Client() { ::close(fd_); }
  bool connected() const { return connected_; }

  bool send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  std::optional<Response> read_response() {
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return std::nullopt;
    }
    Response r;
    std::string head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    size_t eol = head.find("\r\n");
    r.status_line = head.substr(0, eol);
    r.headers = eol == std::string::npos ? "" : head.substr(eol + 2);
    size_t len = 0;
    size_t cl = r.headers.find("Content-Length: ");
    if (cl != std::string::npos) len = std::stoul(r.headers.substr(cl + 16));
    while (buf_.size() < len) {
      if (!fill()) return std::nullopt;
    }
    r.body = buf_.substr(0, len);
    buf_.erase(0, len);
    return r;
  }

  // True when the server closed the connection (EOF or reset) before the receive timeout.
  bool closed_by_peer() {
    char c;
    ssize_t n = ::recv(fd_, &c, 1, 0);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
  }

 private:
  bool fill() {
    char tmp[4096];
    ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  int fd_;
  bool connected_ = false;
  std::string buf_;
};

std::string get(std::string_view path, std::string_view extra_headers = "") {
  return fmt::format("GET {} HTTP/1.1\r\nHost: test\r\n{}\r\n", path, extra_headers);
}

class HttpTest : public ::testing::Test {
 protected:
  void start(HttpLimits limits = {}) {
    registry_.counter("requests_total", "Requests.").add(3);
    Routes routes;
    routes["/metrics"] = [this] { return HttpResponse{200, kPrometheusContentType, registry_.render()}; };
    routes["/livez"] = [] { return HttpResponse{200, "text/plain; charset=utf-8", "ok\n"}; };
    routes["/readyz"] = [this] {
      return ready_.load() ? HttpResponse{200, "text/plain; charset=utf-8", "ready\n"}
                           : HttpResponse{503, "text/plain; charset=utf-8", "not ready\n"};
    };
    routes["/throw"] = []() -> HttpResponse { throw std::runtime_error("boom"); };
    auto s = HttpServer::start(io_, "127.0.0.1:0", std::move(routes), limits);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    server_ = std::move(*s);
    ASSERT_NE(server_->port(), 0);
    thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    if (server_) server_->stop();
    work_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
    server_.reset();
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  metrics::Registry registry_;
  std::atomic<bool> ready_{false};
};

TEST_F(HttpTest, Routes) {
  start();
  Client c(server_->port());
  ASSERT_TRUE(c.connected());

  ASSERT_TRUE(c.send(get("/livez")));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(r->body, "ok\n");
  EXPECT_THAT(r->headers, HasSubstr("Connection: keep-alive"));

  ASSERT_TRUE(c.send(get("/metrics")));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status_line, "HTTP/1.1 200 OK");
  EXPECT_THAT(r->headers, HasSubstr("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
  EXPECT_EQ(r->body, "# HELP requests_total Requests.\n# TYPE requests_total counter\nrequests_total 3\n");

  ASSERT_TRUE(c.send(get("/readyz")));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status_line, "HTTP/1.1 503 Service Unavailable");
  ready_ = true;
  ASSERT_TRUE(c.send(get("/readyz?verbose=1")));  // query string ignored
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(r->body, "ready\n");
}

TEST_F(HttpTest, ErrorsKeepConnectionUsable) {
  start();
  Client c(server_->port());
  ASSERT_TRUE(c.send(get("/nope")));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status_line, "HTTP/1.1 404 Not Found");

  ASSERT_TRUE(c.send("HEAD /livez HTTP/1.1\r\nHost: x\r\n\r\n"));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status_line, "HTTP/1.1 405 Method Not Allowed");
  EXPECT_THAT(r->headers, HasSubstr("Allow: GET\r\n"));

  ASSERT_TRUE(c.send(get("/throw")));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status_line, "HTTP/1.1 500 Internal Server Error");
  EXPECT_THAT(r->body, HasSubstr("boom"));

  ASSERT_TRUE(c.send(get("/livez")));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status_line, "HTTP/1.1 200 OK");
}

TEST_F(HttpTest, PostWithBodyIsRefusedAndClosed) {
  start();
  Client c(server_->port());
  ASSERT_TRUE(c.send("POST /livez HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status_line, "HTTP/1.1 405 Method Not Allowed");
  EXPECT_THAT(r->headers, HasSubstr("Connection: close"));
  EXPECT_TRUE(c.closed_by_peer());
}

TEST_F(HttpTest, MalformedRequestIs400) {
  start();
  for (std::string bad : {"GARBAGE\r\n\r\n", "GET /x HTTP/2.0\r\n\r\n", "GET  /x HTTP/1.1\r\n\r\n",
                          "GET /x HTTP/1.1\r\nno colon here\r\n\r\n", "GET /x HTTP/1.1\r\n bad: fold\r\n\r\n",
                          "GET /x HTTP/1.1\r\nContent-Length: x\r\n\r\n"}) {
    Client c(server_->port());
    ASSERT_TRUE(c.send(bad));
    auto r = c.read_response();
    ASSERT_TRUE(r) << bad;
    EXPECT_EQ(r->status_line, "HTTP/1.1 400 Bad Request") << bad;
    EXPECT_TRUE(c.closed_by_peer()) << bad;
  }
}

TEST_F(HttpTest, OversizedHeadersAre431) {
  start();
  {
    Client c(server_->port());
    ASSERT_TRUE(c.send(get("/livez", "X-Big: " + std::string(10000, 'a') + "\r\n")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status_line, "HTTP/1.1 431 Request Header Fields Too Large");
    EXPECT_TRUE(c.closed_by_peer());
  }
  {
    // Never terminated: the server must not buffer without bound.
    Client c(server_->port());
    ASSERT_TRUE(c.send("GET /livez HTTP/1.1\r\n" + std::string(9000, 'b')));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status_line, "HTTP/1.1 431 Request Header Fields Too Large");
  }
  {
    // Just under the limit is fine.
    Client c(server_->port());
    std::string req = get("/livez", "X-Big: " + std::string(8000, 'a') + "\r\n");
    ASSERT_LE(req.size(), 8192u);
    ASSERT_TRUE(c.send(req));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status_line, "HTTP/1.1 200 OK");
  }
}

TEST_F(HttpTest, ManyRequestsOnOneKeepAliveConnection) {
  start();
  Client c(server_->port());
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE(c.send(get(i % 2 ? "/livez" : "/metrics")));
    auto r = c.read_response();
    ASSERT_TRUE(r) << i;
    ASSERT_EQ(r->status_line, "HTTP/1.1 200 OK") << i;
  }
}

TEST_F(HttpTest, PipelinedAndFragmentedRequests) {
  start();
  Client c(server_->port());
  ASSERT_TRUE(c.send(get("/livez") + get("/nope") + get("/readyz")));
  EXPECT_EQ(c.read_response()->status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(c.read_response()->status_line, "HTTP/1.1 404 Not Found");
  EXPECT_EQ(c.read_response()->status_line, "HTTP/1.1 503 Service Unavailable");
  for (char ch : get("/livez")) ASSERT_TRUE(c.send(std::string(1, ch)));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "ok\n");
}

TEST_F(HttpTest, ConnectionCloseAndHttp10) {
  start();
  {
    Client c(server_->port());
    ASSERT_TRUE(c.send(get("/livez", "Connection: close\r\n")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_THAT(r->headers, HasSubstr("Connection: close"));
    EXPECT_TRUE(c.closed_by_peer());
  }
  {
    Client c(server_->port());
    ASSERT_TRUE(c.send("GET /livez HTTP/1.0\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status_line, "HTTP/1.1 200 OK");
    EXPECT_TRUE(c.closed_by_peer());
  }
  {
    Client c(server_->port());
    ASSERT_TRUE(c.send("GET /livez HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
    ASSERT_TRUE(c.read_response());
    ASSERT_TRUE(c.send("GET /livez HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    ASSERT_TRUE(c.read_response());
  }
}

TEST_F(HttpTest, IdleConnectionIsClosed) {
  start(HttpLimits{.idle_timeout = std::chrono::milliseconds(100)});
  {
    Client c(server_->port());
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_TRUE(c.closed_by_peer());
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  }
  {
    // Also after a completed request, and for a request that never completes.
    Client c(server_->port());
    ASSERT_TRUE(c.send(get("/livez")));
    ASSERT_TRUE(c.read_response());
    ASSERT_TRUE(c.send("GET /livez HTTP/1.1\r\n"));
    EXPECT_TRUE(c.closed_by_peer());
  }
}

TEST_F(HttpTest, ConnectionLimit) {
  start(HttpLimits{.max_connections = 2});
  auto c1 = std::make_unique<Client>(server_->port());
  Client c2(server_->port());
  for (Client* c : {c1.get(), &c2}) {  // a response proves the server counted the connection
    ASSERT_TRUE(c->send(get("/livez")));
    ASSERT_TRUE(c->read_response());
  }
  Client c3(server_->port());
  EXPECT_TRUE(c3.closed_by_peer());

  // A slot frees up once a connection ends (the server notices asynchronously, so retry with a deadline).
  c1.reset();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool served = false;
  while (!served && std::chrono::steady_clock::now() < deadline) {
    Client c(server_->port());
    served = c.send(get("/livez")) && c.read_response().has_value();
  }
  EXPECT_TRUE(served);
}

TEST_F(HttpTest, StopClosesListenerAndConnections) {
  start();
  Client c(server_->port());
  ASSERT_TRUE(c.send(get("/livez")));
  ASSERT_TRUE(c.read_response());
  uint16_t port = server_->port();
  server_->stop();
  EXPECT_TRUE(c.closed_by_peer());
  Client after(port);
  EXPECT_TRUE(!after.connected() || after.closed_by_peer());
  server_->stop();  // idempotent
}

TEST(HttpStartTest, BadAddressesFail) {
  boost::asio::io_context io;
  EXPECT_EQ(HttpServer::start(io, "nonsense", {}).code(), Errc::invalid_argument);
  EXPECT_EQ(HttpServer::start(io, "127.0.0.1:99999", {}).code(), Errc::invalid_argument);
  auto first = HttpServer::start(io, "127.0.0.1:0", {});
  ASSERT_TRUE(first.ok());
  auto second = HttpServer::start(io, "127.0.0.1:" + std::to_string((*first)->port()), {});
  EXPECT_EQ(second.code(), Errc::io_error);
  EXPECT_THAT(second.status().message(), HasSubstr("bind"));
  auto by_name = HttpServer::start(io, "localhost:0", {});
  EXPECT_TRUE(by_name.ok()) << by_name.status().to_string();
}

}  // namespace
}  // namespace ks::broker
