#include "net/server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/ssl.hpp>
#include <deque>

#include "common/assert.h"
#include "security/tls.h"

namespace ks::net {

using asio::ip::tcp;

const std::string& ConnectionInfo::listener() const {
  static const std::string kPlaintext = "PLAINTEXT";
  return session ? session->listener : kPlaintext;
}

// One client connection. Lives until both its reader and writer are done.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Server& server, tcp::socket socket, ConnectionInfo info)
      : server_(server), socket_(std::move(socket)), info_(std::move(info)) {}

  void start() {
    auto self = shared_from_this();
    const auto& l = server_.listener_;
    tls_listener_ = security::uses_tls(l.protocol);
    if (tls_listener_ || !info_.session->authenticated) {
      deadline_ = Clock::now() + l.authentication_timeout;
      asio::co_spawn(socket_.get_executor(), watchdog(), [self](std::exception_ptr) {});
    }
    if (!security::uses_tls(l.protocol)) {
      start_serving();
      return;
    }
    std::shared_ptr<asio::ssl::context> ctx = l.tls ? l.tls() : nullptr;
    if (!ctx) {
      spdlog::error("connection {} ({}): listener {} has no TLS context; closing", info_.id, info_.peer,
                    l.name);
      close();
      server_.remove(this);
      return;
    }
    tls_ctx_ = std::move(ctx);
    tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket_, *tls_ctx_);
    asio::co_spawn(socket_.get_executor(), handshake(), [self](std::exception_ptr e) {
      if (e) self->finish_handshake(false);
    });
  }

  // Stop reading; the writer closes the socket after the queued responses.
  void stop_reading() {
    stop_ = true;
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_receive, ec);
    wake_.notify_all();
  }

  const ConnectionInfo& info() const { return info_; }

 private:
  struct Slot {
    bool ready = false;
    Response response;
  };

  void start_serving() {
    auto self = shared_from_this();
    asio::co_spawn(socket_.get_executor(), reader(),
                   [self](std::exception_ptr e) { self->finish(e, "reader"); });
    asio::co_spawn(socket_.get_executor(), writer(),
                   [self](std::exception_ptr e) { self->finish(e, "writer"); });
  }

  awaitable<void> handshake() {
    boost::system::error_code ec;
    co_await tls_->async_handshake(asio::ssl::stream_base::server,
                                   asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      // Untrusted or missing client certificates end here; the client sees the TLS alert.
      spdlog::info("connection {} ({}) on listener {}: TLS handshake failed: {}", info_.id, info_.peer,
                   info_.session->listener, ec.message());
      finish_handshake(false);
      co_return;
    }
    if (auto dn = security::peer_subject(tls_->native_handle())) {
      const auto& mapper = server_.listener().principal_mapper;
      if (mapper == nullptr) {
        info_.session->principal = security::principal_from_dn(*dn);
      } else if (auto name = mapper->name(*dn); name.ok()) {
        info_.session->principal = "User:" + *name;
      } else {
        // Kafka fails the SSL authentication when no rule applies.
        spdlog::info("connection {} ({}) on listener {}: refused: {} ({})", info_.id, info_.peer,
                     info_.session->listener, name.status().message(), security::printable(*dn));
        finish_handshake(false);
        co_return;
      }
    }
    finish_handshake(true);
  }

  void finish_handshake(bool ok) {
    if (handshake_done_) return;
    handshake_done_ = true;
    wake_.notify_all();
    if (ok && !closed_ && !stop_) {
      start_serving();
      return;
    }
    close();
    server_.remove(this);
  }

  // Closes a connection that has not finished its TLS handshake or SASL
  // authentication by the deadline.
  awaitable<void> watchdog() {
    auto pending = [this] {
      return !closed_ && ((tls_listener_ && !handshake_done_) || !info_.session->authenticated);
    };
    while (pending() && Clock::now() < deadline_) co_await wake_.wait_until(deadline_);
    if (!pending()) co_return;
    spdlog::info("connection {} ({}) on listener {}: not authenticated within {} ms; closing", info_.id,
                 info_.peer, info_.session->listener, server_.listener_.authentication_timeout.count());
    close();
  }

  awaitable<void> read_exact(char* data, std::size_t n, boost::system::error_code& ec) {
    if (tls_) {
      co_await asio::async_read(*tls_, asio::buffer(data, n), asio::redirect_error(asio::use_awaitable, ec));
    } else {
      co_await asio::async_read(socket_, asio::buffer(data, n),
                                asio::redirect_error(asio::use_awaitable, ec));
    }
  }

  awaitable<void> write_all(const std::vector<asio::const_buffer>& bufs, boost::system::error_code& ec) {
    if (tls_) {
      co_await asio::async_write(*tls_, bufs, asio::redirect_error(asio::use_awaitable, ec));
    } else {
      co_await asio::async_write(socket_, bufs, asio::redirect_error(asio::use_awaitable, ec));
    }
  }

  awaitable<void> reader() {
    const auto& limits = server_.limits_;
    while (!stop_ && !closed_) {
      while (slots_.size() >= limits.max_inflight_per_connection && !closed_ && !stop_) {
        co_await wake_.wait_until(Clock::now() + std::chrono::seconds(1));
      }
      // Before authentication one request at a time: the answer to one
      // (SaslHandshake v0) decides how the next frame is read.
      while (!info_.session->authenticated && !slots_.empty() && !closed_ && !stop_) {
        co_await wake_.wait_until(Clock::now() + std::chrono::seconds(1));
      }
      // stop_reading() may have come while waiting for a slot; requests
      // already in the socket buffer must not be read after it.
      if (closed_ || stop_) break;
      char size_buf[4];
      boost::system::error_code ec;
      co_await read_exact(size_buf, sizeof size_buf, ec);
      if (ec) break;
      std::uint32_t raw = (std::uint32_t(std::uint8_t(size_buf[0])) << 24) |
                          (std::uint32_t(std::uint8_t(size_buf[1])) << 16) |
                          (std::uint32_t(std::uint8_t(size_buf[2])) << 8) |
                          std::uint32_t(std::uint8_t(size_buf[3]));
      auto size = static_cast<std::int32_t>(raw);
      const bool authenticated = info_.session->authenticated;
      const std::size_t limit = authenticated ? limits.max_request_bytes
                                              : std::min(limits.max_request_bytes,
                                                         server_.listener_.max_unauthenticated_request_bytes);
      if (size < 0 || static_cast<std::size_t>(size) > limit) {
        spdlog::warn("connection {} ({}): request of {} bytes exceeds the limit of {} ({}); closing",
                     info_.id, info_.peer, size, limit,
                     authenticated ? "max-request-bytes" : "sasl-server-max-receive-size, not authenticated");
        break;
      }
      std::shared_ptr<std::string> payload = server_.take_buffer(static_cast<std::size_t>(size));
      co_await read_exact(payload->data(), payload->size(), ec);
      if (ec) break;
      slots_.push_back(std::make_shared<Slot>());
      auto slot = slots_.back();
      auto self = shared_from_this();
      asio::co_spawn(
          socket_.get_executor(),
          [self, slot, payload = std::move(payload)]() -> awaitable<void> {
            slot->response =
                co_await self->server_.handler_(std::shared_ptr<const std::string>(payload), self->info_);
            self->server_.give_back(payload);
            slot->ready = true;
            self->wake_.notify_all();
          },
          [self, slot](std::exception_ptr e) {
            if (e) {
              try {
                std::rethrow_exception(e);
              } catch (const std::exception& ex) {
                spdlog::error("connection {}: handler failed: {}", self->info_.id, ex.what());
              }
              slot->response = Response::close();
              slot->ready = true;
              self->wake_.notify_all();
            }
          });
    }
    reading_done_ = true;
    wake_.notify_all();
  }

  awaitable<void> writer() {
    for (;;) {
      if (slots_.empty()) {
        if (reading_done_ || closed_) break;
        co_await wake_.wait_until(Clock::now() + std::chrono::seconds(1));
        continue;
      }
      auto slot = slots_.front();
      if (!slot->ready) {
        co_await wake_.wait_until(Clock::now() + std::chrono::seconds(1));
        continue;
      }
      Response r = std::move(slot->response);
      slots_.pop_front();
      wake_.notify_all();  // a slot freed: the reader may continue
      if (r.kind == Response::Kind::none) continue;
      if (r.kind == Response::Kind::close) break;
      std::vector<asio::const_buffer> bufs;
      for (auto s : r.frame->segments()) bufs.emplace_back(s.data(), s.size());
      boost::system::error_code ec;
      co_await write_all(bufs, ec);
      if (ec || r.close_after) break;
    }
    close();
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    wake_.notify_all();
  }

  void finish(std::exception_ptr e, const char* who) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("connection {} {} failed: {}", info_.id, who, ex.what());
      }
    }
    // The writer closes the socket once every queued response is written; the
    // reader ending (EOF, or stop_reading at shutdown) must not cut them off.
    if (e || std::string_view(who) == "writer") close();
    wake_.notify_all();
    if (++finished_ == 2) server_.remove(this);
  }

  Server& server_;
  tcp::socket socket_;
  std::shared_ptr<asio::ssl::context> tls_ctx_;
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_;
  bool tls_listener_ = false;
  bool handshake_done_ = false;
  Clock::time_point deadline_{};
  ConnectionInfo info_;
  std::deque<std::shared_ptr<Slot>> slots_;
  Notifier wake_;
  bool stop_ = false;
  bool reading_done_ = false;
  bool closed_ = false;
  int finished_ = 0;
};

Server::Server(asio::io_context& io, ServerLimits limits, Handler handler, ListenerOptions listener)
    : io_(io), limits_(limits), listener_(std::move(listener)), handler_(std::move(handler)), acceptor_(io) {}

Server::~Server() = default;

std::shared_ptr<std::string> Server::take_buffer(std::size_t size) {
  // The smallest spare that holds `size`, else the largest (it grows once).
  // Few spares: a linear scan.
  std::size_t fit = spare_.size(), largest = spare_.size();
  for (std::size_t i = 0; i < spare_.size(); ++i) {
    const std::size_t cap = spare_[i]->capacity();
    if (cap >= size && (fit == spare_.size() || cap < spare_[fit]->capacity())) fit = i;
    if (largest == spare_.size() || cap > spare_[largest]->capacity()) largest = i;
  }
  const std::size_t best = fit < spare_.size() ? fit : largest;
  std::shared_ptr<std::string> b;
  if (best < spare_.size()) {
    b = std::move(spare_[best]);
    spare_[best] = std::move(spare_.back());
    spare_.pop_back();
    spare_bytes_ -= b->capacity();
  } else {
    b = std::make_shared<std::string>();
  }
  b->resize(size);
  return b;
}

void Server::give_back(const std::shared_ptr<std::string>& b) {
  if (b.use_count() != 1 || spare_.size() >= kSpareBuffers || spare_bytes_ + b->capacity() > kSpareBytes)
    return;
  spare_bytes_ += b->capacity();
  spare_.push_back(b);
}

Status Server::listen(const std::string& host, std::uint16_t port) {
  Status s = bind(host, port);
  if (s.ok()) start();
  return s;
}

Status Server::bind(const std::string& host, std::uint16_t port) {
  KS_ASSERT(!acceptor_.is_open(), "server bound twice");
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return Status(Errc::invalid_argument, "bad listen address '" + host + "': " + ec.message());
  tcp::endpoint ep(addr, port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return Status(Errc::unavailable,
                  "cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
  port_ = acceptor_.local_endpoint().port();
  return Status{};
}

void Server::start() {
  KS_ASSERT(acceptor_.is_open() && !accepting_, "server started before bind() or twice");
  accepting_ = true;
  asio::co_spawn(io_, accept_loop(), asio::detached);
}

awaitable<void> Server::accept_loop() {
  while (!stopping_) {
    boost::system::error_code ec;
    tcp::socket s = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (stopping_ || ec == asio::error::operation_aborted) break;
      spdlog::warn("accept failed: {}", ec.message());
      // e.g. EMFILE: back off briefly instead of spinning.
      asio::steady_timer t(io_, std::chrono::milliseconds(50));
      co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    if (stopping_) {
      // Accepted before stop() but resumed after it (a completion already
      // queued): stop() never saw this connection, so it would be served on.
      s.close(ec);
      break;
    }
    if (connections_.size() >= limits_.max_connections) {
      spdlog::warn("refusing connection: max-connections ({}) reached", limits_.max_connections);
      s.close(ec);
      continue;
    }
    s.set_option(tcp::no_delay(true), ec);
    ConnectionInfo info;
    info.id = next_id_++;
    auto rep = s.remote_endpoint(ec);
    if (!ec) {
      auto addr = rep.address();
      // A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d; they are spelled as IPv4 everywhere
      // (ACL hosts, connection limits, logs).
      if (addr.is_v6() && addr.to_v6().is_v4_mapped()) {
        addr = asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6());
      }
      info.address = addr.to_string();
      info.peer = info.address + ":" + std::to_string(rep.port());
    }
    if (auto limit = address_limit(info.address)) {
      std::size_t& open = per_address_[info.address];
      if (open >= *limit) {
        if (open == 0) per_address_.erase(info.address);
        spdlog::info("refusing connection from {}: its connection limit ({}) is reached", info.address,
                     *limit);
        s.close(ec);
        continue;
      }
      ++open;
    }
    info.session = security::Session::make(listener_.name, listener_.protocol);
    auto c = std::make_shared<Connection>(*this, std::move(s), std::move(info));
    connections_.push_back(c);
    c->start();
  }
}

std::optional<std::size_t> Server::address_limit(const std::string& address) const {
  if (auto it = limits_.max_connections_per_ip_overrides.find(address);
      it != limits_.max_connections_per_ip_overrides.end()) {
    return it->second;
  }
  if (limits_.max_connections_per_ip > 0) return limits_.max_connections_per_ip;
  return std::nullopt;
}

void Server::remove(Connection* c) {
  // Copied first: the list may hold the last reference to `c`.
  const std::string address = c->info().address;
  const std::size_t removed = connections_.remove_if([c](const auto& p) { return p.get() == c; });
  if (removed > 0 && address_limit(address)) {
    auto it = per_address_.find(address);
    KS_ASSERT(it != per_address_.end() && it->second > 0, "a connection from {} was not counted", address);
    if (--it->second == 0) per_address_.erase(it);
  }
  gone_.notify_all();
}

void Server::stop() {
  stopping_ = true;
  boost::system::error_code ec;
  acceptor_.close(ec);
  for (auto& c : connections_) c->stop_reading();
}

awaitable<void> Server::shutdown(Clock::time_point deadline) {
  stop();
  while (!connections_.empty() && Clock::now() < deadline) co_await gone_.wait_until(deadline);
}

}  // namespace ks::net
