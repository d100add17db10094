#include "dispatch/dispatcher.h"

#include <spdlog/spdlog.h>

#include "handlers/handlers.h"

namespace ks::dispatch {

using namespace ks::protocol;  // NOLINT

namespace {

std::unique_ptr<Writer> start_frame(std::size_t& size_at) {
  auto w = std::make_unique<Writer>(/*reference_records=*/true);
  size_at = w->reserve_i32();
  return w;
}

net::Response finish_frame(std::unique_ptr<Writer> w, std::size_t size_at) {
  w->patch_i32(size_at, static_cast<std::int32_t>(w->size() - 4));
  return net::Response{net::Response::Kind::send, std::move(w)};
}

template <class Resp>
net::Response encode(const Resp& resp, std::int32_t correlation_id, std::int16_t version) {
  std::size_t at = 0;
  auto w = start_frame(at);
  encode_response_header(*w, correlation_id, Resp::kApiKey, version);
  resp.encode(*w, version);
  return finish_frame(std::move(w), at);
}

metrics::Counter& closed_counter(const char* reason) {
  return metrics::registry().counter(
      "kafscale_requests_rejected_total",
      "Requests that closed their connection (malformed, unknown or unsupported)", {{"reason", reason}});
}

}  // namespace

awaitable<net::Response> Dispatcher::handle(std::shared_ptr<const std::string> payload,
                                            const net::ConnectionInfo& conn) {
  Reader r(*payload);
  RequestHeader header;
  if (!decode_request_header(r, header)) {
    spdlog::warn("connection {} ({}): malformed request header: {}; closing", conn.id, conn.peer, r.error());
    closed_counter("malformed").inc();
    co_return net::Response::close();
  }
  const ApiSpec* spec = find_api(header.api_key);
  if (spec == nullptr) {
    spdlog::warn("connection {} ({}): unknown API key {}; closing", conn.id, conn.peer, header.api_key);
    closed_counter("unknown_api").inc();
    co_return net::Response::close();
  }
  if (!spec->advertised(header.api_version)) {
    if (header.api_key == ApiVersionsRequest::kApiKey) {
      // KIP-511: answer in a v0 body so any client can read our ranges.
      std::size_t at = 0;
      auto w = start_frame(at);
      encode_api_versions_reply(*w, header.correlation_id, header.api_version);
      co_return finish_frame(std::move(w), at);
    }
    spdlog::warn("connection {} ({}): {} v{} is not supported (we serve v{}-{}); closing", conn.id, conn.peer,
                 spec->name, header.api_version, spec->min_version, spec->max_version);
    closed_counter("unsupported_version").inc();
    co_return net::Response::close();
  }
  handlers::RequestContext ctx{broker_, header, conn, header.api_version};
  std::optional<net::Response> out;
  bool decoded = true;
  std::string error;
  // Decode the request type the API table names and call its handler.
  auto run = [&]<class Req, class Resp>() -> awaitable<void> {
    Req req;
    if (!req.decode(r, header.api_version)) {
      decoded = false;
      error = r.error();
      co_return;
    }
    if constexpr (std::is_same_v<Req, ProduceRequest>) {
      auto resp = co_await handlers::handle(ctx, req);
      out = resp ? encode(*resp, header.correlation_id, header.api_version) : net::Response::none();
    } else {
      Resp resp = co_await handlers::handle(ctx, req);
      out = encode(resp, header.correlation_id, header.api_version);
    }
  };
  awaitable<void> task;
  bool known = visit_api(header.api_key,
                         [&]<class Req, class Resp>() { task = run.template operator()<Req, Resp>(); });
  assert(known);
  (void)known;
  co_await std::move(task);
  if (!decoded) {
    spdlog::warn("connection {} ({}): {}; closing", conn.id, conn.peer, error);
    closed_counter("malformed").inc();
    co_return net::Response::close();
  }
  co_return std::move(*out);
}

}  // namespace ks::dispatch
