// Kafka TCP server: framing, connection limits, pipelining.
//
// Each connection reads frames ([int32 size][payload]) as fast as the limits
// allow and hands each one to the handler in its own coroutine, so a request
// waiting for durability does not stop the next one from being read. A writer
// coroutine sends responses strictly in request order.
//
// A server serves one listener (Kafka's listeners): its name and security
// protocol. On SSL and SASL_SSL listeners the TLS handshake comes first; on
// SASL listeners a connection that has not authenticated yet is read one
// request at a time, with a smaller size limit and an authentication deadline.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/async.h"
#include "common/status.h"
#include "protocol/wire.h"
#include "security/principal_mapping.h"
#include "security/session.h"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace ks::net {

struct ServerLimits {
  // Largest request frame accepted (Kafka's socket.request.max.bytes); a
  // larger size prefix closes the connection before reading the payload.
  std::size_t max_request_bytes = 100 << 20;
  std::size_t max_connections = 10'000;
  // Connections from one IP address (Kafka's max.connections.per.ip); 0: no
  // limit (load balancers and NAT put many clients behind one address).
  std::size_t max_connections_per_ip = 0;
  // Per-address limits that replace max_connections_per_ip (Kafka's
  // max.connections.per.ip.overrides), keyed by the address as
  // ConnectionInfo::address spells it; 0 refuses the address.
  std::map<std::string, std::size_t> max_connections_per_ip_overrides;
  // Requests read but not yet answered on one connection; beyond it the
  // connection stops reading (TCP back-pressure).
  std::size_t max_inflight_per_connection = 100;
};

struct ListenerOptions {
  std::string name = "PLAINTEXT";
  security::SecurityProtocol protocol = security::SecurityProtocol::kPlaintext;
  // SSL and SASL_SSL: the context for each new connection (called once per
  // connection, so a reloaded certificate applies to new connections only).
  std::function<std::shared_ptr<asio::ssl::context>()> tls;
  // The principal of a verified client certificate (ssl.principal.mapping.rules);
  // null: "User:" + the whole subject DN.
  std::shared_ptr<const security::SslPrincipalMapper> principal_mapper;
  // Before authentication (SASL listeners): the largest request accepted
  // (Kafka's sasl.server.max.receive.size) and how long a connection may take
  // to authenticate, TLS handshake included, before it is closed.
  std::size_t max_unauthenticated_request_bytes = 512 * 1024;
  std::chrono::milliseconds authentication_timeout{10000};
};

struct ConnectionInfo {
  std::uint64_t id = 0;
  std::string peer;     // "ip:port"
  std::string address;  // "ip"
  // The listener and authentication state (never null for connections of a
  // Server; handler tests may leave it null: a PLAINTEXT connection).
  std::shared_ptr<security::Session> session;

  const std::string& listener() const;
};

struct Response {
  enum class Kind { send, none, close };
  Kind kind = Kind::send;
  // The whole frame, size prefix included (see protocol::Writer).
  std::unique_ptr<protocol::Writer> frame;
  // send: close the connection once this frame is written (a failed authentication).
  bool close_after = false;

  static Response none() { return Response{Kind::none, nullptr}; }
  static Response close() { return Response{Kind::close, nullptr}; }
};

// Handles one request frame (payload without the size prefix).
using Handler =
    std::function<awaitable<Response>(std::shared_ptr<const std::string> payload, const ConnectionInfo&)>;

class Connection;

class Server {
 public:
  Server(asio::io_context& io, ServerLimits limits, Handler handler, ListenerOptions listener = {});
  ~Server();

  // Binds and starts accepting. host:port, port 0 picks a free port.
  Status listen(const std::string& host, std::uint16_t port);
  // listen() in two steps: bind() takes the port (connections wait in the
  // kernel's backlog), start() begins accepting them. A broker binds first
  // so that it can register its address before it can serve.
  Status bind(const std::string& host, std::uint16_t port);
  void start();
  std::uint16_t port() const { return port_; }
  // Stops accepting and stops reading requests; queued responses are still
  // written, then each connection closes.
  void stop();
  // stop(), then waits until all connections are gone or `deadline`.
  awaitable<void> shutdown(Clock::time_point deadline);

  std::size_t connections() const { return connections_.size(); }
  const ListenerOptions& listener() const { return listener_; }

 private:
  friend class Connection;
  awaitable<void> accept_loop();
  void remove(Connection* c);
  // Request buffers, reused across requests and connections: a fresh one per
  // request cost a zero-fill and first-touch page faults of every byte
  // received. A buffer returns only when nothing else refers to it.
  std::shared_ptr<std::string> take_buffer(std::size_t size);
  void give_back(const std::shared_ptr<std::string>& b);
  // Bounds what the pool keeps (loop thread only).
  static constexpr std::size_t kSpareBuffers = 32;
  static constexpr std::size_t kSpareBytes = std::size_t{64} << 20;
  std::vector<std::shared_ptr<std::string>> spare_;
  std::size_t spare_bytes_ = 0;

  asio::io_context& io_;
  ServerLimits limits_;
  ListenerOptions listener_;
  Handler handler_;
  asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::uint64_t next_id_ = 1;
  bool stopping_ = false;
  bool accepting_ = false;
  std::list<std::shared_ptr<Connection>> connections_;
  // The limit of connections from `address`; nullopt: none.
  std::optional<std::size_t> address_limit(const std::string& address) const;

  // Open connections per address, kept only when some address has a limit.
  std::map<std::string, std::size_t> per_address_;
  Notifier gone_;
};

}  // namespace ks::net
