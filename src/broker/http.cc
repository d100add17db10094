#include "broker/http.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cctype>
#include <exception>
#include <string_view>
#include <unordered_set>

#include "broker/config.h"

namespace ks::broker {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Strand = asio::strand<asio::io_context::executor_type>;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

// After an error response, read and discard at most this much before closing, so the client sees
// the response instead of a reset caused by unread data.
constexpr size_t kLingerDrainBytes = 64 * 1024;
constexpr auto kLingerTime = std::chrono::seconds(2);

// One client connection. Touched only on the server strand.
struct Conn {
  explicit Conn(tcp::socket s) : socket(std::move(s)), timer(socket.get_executor()) {}
  void close() {
    boost::system::error_code ec;
    socket.close(ec);
    timer.cancel();
  }
  // Moves the deadline; wakes the watchdog if it now fires earlier than it is waiting for.
  void set_deadline(Clock::time_point tp) {
    deadline = tp;
    if (tp < timer.expiry()) timer.cancel();
  }
  tcp::socket socket;
  asio::steady_timer timer;
  Clock::time_point deadline = Clock::time_point::max();
};

struct Request {
  std::string_view method, target;
  bool http10 = false;
  bool has_body = false;
  bool close = false;       // Connection: close
  bool keep_alive = false;  // Connection: keep-alive
};

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

// Parses the request head (without the final CRLFCRLF). Returns false when malformed.
bool parse_head(std::string_view head, Request& req) {
  size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) return false;
  req.method = line.substr(0, sp1);
  req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!is_token(req.method) || req.target.empty()) return false;
  if (version == "HTTP/1.0") {
    req.http10 = true;
  } else if (version != "HTTP/1.1") {
    return false;
  }
  while (eol != std::string_view::npos) {
    size_t start = eol + 2;
    eol = head.find("\r\n", start);
    std::string_view h = head.substr(start, eol == std::string_view::npos ? eol : eol - start);
    size_t colon = h.find(':');
    if (colon == std::string_view::npos || !is_token(h.substr(0, colon))) return false;
    std::string_view name = h.substr(0, colon);
    std::string_view value = trim(h.substr(colon + 1));
    if (iequals(name, "content-length")) {
      if (value.empty() ||
          !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return false;
      }
      if (value.find_first_not_of('0') != std::string_view::npos) req.has_body = true;
    } else if (iequals(name, "transfer-encoding")) {
      req.has_body = true;
    } else if (iequals(name, "connection")) {
      while (!value.empty()) {
        size_t comma = value.find(',');
        std::string_view tok = trim(value.substr(0, comma));
        if (iequals(tok, "close")) req.close = true;
        if (iequals(tok, "keep-alive")) req.keep_alive = true;
        value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
      }
    }
  }
  return true;
}

std::string_view reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

std::string serialize(const HttpResponse& r, bool keep_alive, bool allow_header) {
  std::string out = fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n", r.status,
                                reason(r.status), r.content_type, r.body.size());
  if (allow_header) out += "Allow: GET\r\n";
  out += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  out += r.body;
  return out;
}

HttpResponse text(int status, std::string body) {
  return HttpResponse{status, "text/plain; charset=utf-8", body};
}

}  // namespace

struct HttpServer::State {
  State(Strand s, Routes r, HttpLimits l) : strand(s), acceptor(s), routes(std::move(r)), limits(l) {}
  Strand strand;
  tcp::acceptor acceptor;
  Routes routes;
  HttpLimits limits;
  bool stopped = false;
  // Open connections, so stop() can close them; bounded by limits.max_connections.
  std::unordered_set<std::shared_ptr<Conn>> conns;
};

namespace {

using State = HttpServer::State;

// Closes the connection once its deadline passes. Exits when the connection is closed. A cancelled wait
// means the deadline moved earlier or the connection closed; both are rechecked.
asio::awaitable<void> watchdog(std::shared_ptr<Conn> c) {
  while (c->socket.is_open()) {
    if (c->deadline <= Clock::now()) {
      c->close();
      co_return;
    }
    c->timer.expires_at(c->deadline);
    co_await c->timer.async_wait(kUseTuple);
  }
}

// Sends what we have, stops reading the request, then closes after the client has had a chance to read.
asio::awaitable<void> linger_close(std::shared_ptr<Conn> c) {
  boost::system::error_code ec;
  c->socket.shutdown(tcp::socket::shutdown_send, ec);
  c->set_deadline(std::min(c->deadline, Clock::now() + kLingerTime));
  char sink[4096];
  size_t drained = 0;
  while (!ec && drained < kLingerDrainBytes) {
    auto [rec, n] = co_await c->socket.async_read_some(asio::buffer(sink), kUseTuple);
    ec = rec;
    drained += n;
  }
  c->close();
}

asio::awaitable<void> session(std::shared_ptr<State> st, std::shared_ptr<Conn> c) {
  const HttpLimits& lim = st->limits;
  std::string buf;  // received, not yet consumed bytes
  char chunk[4096];
  for (;;) {
    // The whole request head must arrive within the idle timeout (slow clients cannot hold a slot).
    c->set_deadline(Clock::now() + lim.idle_timeout);
    size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos && buf.size() <= lim.max_header_bytes) {
      auto [ec, n] = co_await c->socket.async_read_some(asio::buffer(chunk), kUseTuple);
      if (ec) co_return;  // EOF, reset, timeout or stop
      buf.append(chunk, n);
    }
    if (end == std::string::npos || end + 4 > lim.max_header_bytes) {
      std::string resp = serialize(text(431, "request headers too large\n"), false, false);
      co_await asio::async_write(c->socket, asio::buffer(resp), kUseTuple);
      co_await linger_close(c);
      co_return;
    }
    std::string head = buf.substr(0, end);
    buf.erase(0, end + 4);

    Request req;
    HttpResponse resp;
    bool keep_alive = false;
    bool allow_header = false;
    if (!parse_head(head, req)) {
      resp = text(400, "bad request\n");
    } else {
      keep_alive = req.http10 ? req.keep_alive && !req.close : !req.close;
      // Request bodies are never read, so a request announcing one ends the connection.
      if (req.has_body) keep_alive = false;
      std::string_view path = req.target.substr(0, req.target.find('?'));
      if (req.method != "GET") {
        resp = text(405, "method not allowed\n");
        allow_header = true;
      } else if (req.has_body) {
        resp = text(400, "request body not allowed\n");
      } else if (auto it = st->routes.find(path); it == st->routes.end()) {
        resp = text(404, "not found\n");
      } else {
        try {
          resp = it->second();
        } catch (const std::exception& e) {
          resp = text(500, fmt::format("handler failed: {}\n", e.what()));
        } catch (...) {
          resp = text(500, "handler failed\n");
        }
      }
    }
    std::string out = serialize(resp, keep_alive, allow_header);
    c->set_deadline(Clock::now() + lim.idle_timeout);
    auto [wec, wn] = co_await asio::async_write(c->socket, asio::buffer(out), kUseTuple);
    if (wec) co_return;
    if (!keep_alive) {
      co_await linger_close(c);
      co_return;
    }
  }
}

// Runs a session; nothing escapes: any exception closes the connection.
asio::awaitable<void> guarded_session(std::shared_ptr<State> st, std::shared_ptr<Conn> c) {
  try {
    co_await session(st, c);
  } catch (...) {
  }
  c->close();
  st->conns.erase(c);
}

asio::awaitable<void> accept_loop(std::shared_ptr<State> st) {
  asio::steady_timer backoff(st->strand);
  while (!st->stopped) {
    auto [ec, sock] = co_await st->acceptor.async_accept(kUseTuple);
    if (st->stopped) co_return;
    if (ec) {
      if (ec == asio::error::operation_aborted || !st->acceptor.is_open()) co_return;
      // E.g. out of file descriptors: retry later instead of spinning.
      backoff.expires_after(std::chrono::milliseconds(100));
      co_await backoff.async_wait(kUseTuple);
      continue;
    }
    if (st->conns.size() >= st->limits.max_connections) {
      boost::system::error_code ignored;
      sock.close(ignored);
      continue;
    }
    auto c = std::make_shared<Conn>(std::move(sock));
    st->conns.insert(c);
    auto swallow = [](std::exception_ptr) {};
    asio::co_spawn(st->strand, watchdog(c), swallow);
    asio::co_spawn(st->strand, guarded_session(st, c), swallow);
  }
}

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::start(asio::io_context& io, const std::string& host_port,
                                                      Routes routes, HttpLimits limits) {
  auto hp = parse_host_port(host_port);
  if (!hp.ok()) {
    return Status(Errc::invalid_argument,
                  fmt::format("http listen address '{}': {}", host_port, hp.status().message()));
  }
  boost::system::error_code ec;
  tcp::endpoint ep;
  auto addr = asio::ip::make_address(hp->host, ec);
  if (!ec) {
    ep = tcp::endpoint(addr, hp->port);
  } else {
    tcp::resolver resolver(io);
    auto results = resolver.resolve(hp->host, std::to_string(hp->port), ec);
    if (ec || results.empty()) {
      return Status(Errc::invalid_argument, fmt::format("cannot resolve '{}': {}", hp->host, ec.message()));
    }
    ep = results.begin()->endpoint();
  }
  auto st = std::make_shared<State>(asio::make_strand(io), std::move(routes), limits);
  auto fail = [&](const char* what) {
    return Status(Errc::io_error, fmt::format("http listen on {}: {}: {}", host_port, what, ec.message()));
  };
  if (st->acceptor.open(ep.protocol(), ec); ec) return fail("open");
  if (st->acceptor.set_option(tcp::acceptor::reuse_address(true), ec); ec) return fail("set SO_REUSEADDR");
  if (st->acceptor.bind(ep, ec); ec) return fail("bind");
  if (st->acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) return fail("listen");
  uint16_t port = st->acceptor.local_endpoint(ec).port();
  if (ec) return fail("local address");
  asio::co_spawn(st->strand, accept_loop(st), [](std::exception_ptr) {});
  return std::unique_ptr<HttpServer>(new HttpServer(st, port));
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::stop() {
  asio::dispatch(state_->strand, [st = state_] {
    if (st->stopped) return;
    st->stopped = true;
    boost::system::error_code ignored;
    st->acceptor.close(ignored);
    for (const auto& c : st->conns) c->close();
  });
}

}  // namespace ks::broker
