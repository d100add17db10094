// Minimal HTTP/1.1 server for the admin endpoints (/metrics, /livez, /readyz).
//
// GET only, no request bodies, keep-alive and pipelining, bounded header size, connection count and
// idle time. Handlers run on the io_context's thread(s) (serialized by one strand).
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/status.h"

namespace ks::broker {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

using HttpHandler = std::function<HttpResponse()>;
// Exact path (query string ignored) -> handler.
using Routes = std::map<std::string, HttpHandler, std::less<>>;

inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

struct HttpLimits {
  // Request line + headers; larger requests get 431 and the connection is closed.
  size_t max_header_bytes = 8 * 1024;
  // Concurrent connections; further connections are closed right after accept.
  size_t max_connections = 64;
  // A connection is closed when a request (or writing its response) takes longer than this, and
  // when it stays idle between requests for this long.
  std::chrono::milliseconds idle_timeout{30000};
};

class HttpServer {
 public:
  // Binds host_port ("127.0.0.1:0" picks a free port) and starts accepting on io. Fails (without
  // throwing) when the address is malformed or cannot be bound.
  static Result<std::unique_ptr<HttpServer>> start(boost::asio::io_context& io, const std::string& host_port,
                                                   Routes routes, HttpLimits limits = {});
  // Stops (see stop()). Destroy the server before the io_context.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound port.
  uint16_t port() const { return port_; }

  // Closes the listener and every connection. Safe from any thread and more than once; takes effect
  // on the io_context (immediately when called from it).
  void stop();

  struct State;  // internal

 private:
  HttpServer(std::shared_ptr<State> state, uint16_t port) : state_(std::move(state)), port_(port) {}
  std::shared_ptr<State> state_;
  uint16_t port_;
};

}  // namespace ks::broker
