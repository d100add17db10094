#include "dispatch/dispatcher.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "common/assert.h"
#include "handlers/handlers.h"
#include "security/sasl.h"

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

// A raw SASL token frame ([int32 size][token], no Kafka header): the answers
// of the exchange after SaslHandshake v0.
net::Response raw_frame(const std::string& token) {
  std::size_t at = 0;
  auto w = start_frame(at);
  w->write_raw(token);
  return finish_frame(std::move(w), at);
}

bool allowed_before_authentication(std::int16_t api_key) {
  return api_key == ApiVersionsRequest::kApiKey || api_key == SaslHandshakeRequest::kApiKey ||
         api_key == SaslAuthenticateRequest::kApiKey;
}

}  // namespace

metrics::Histogram& Dispatcher::latency(std::int16_t api_key, std::string_view api_name) {
  KS_ASSERT(api_key >= 0, "API key {} of a looked-up API", api_key);
  const auto slot = static_cast<std::size_t>(api_key);
  if (slot >= kLatencySlots) {
    return metrics::registry().histogram("kafscale_request_seconds",
                                         "Time from a request's header to its encoded response, per API",
                                         {{"api", std::string(api_name)}});
  }
  if (latency_[slot] == nullptr) {
    latency_[slot] = &metrics::registry().histogram(
        "kafscale_request_seconds", "Time from a request's header to its encoded response, per API",
        {{"api", std::string(api_name)}});
  }
  return *latency_[slot];
}

awaitable<net::Response> Dispatcher::raw_token(const std::string& token, const net::ConnectionInfo& conn) {
  std::shared_ptr<security::Session> session = conn.session;
  if (broker_.authenticator == nullptr) co_return net::Response::close();
  security::SaslStep step = co_await broker_.authenticator->step(session, token);
  if (step.outcome == security::SaslStep::Outcome::kContinue ||
      step.outcome == security::SaslStep::Outcome::kDone) {
    co_return raw_frame(step.token);
  }
  // A raw exchange has no way to carry an error: Kafka closes the connection.
  closed_counter("authentication").inc();
  co_return net::Response::close();
}

awaitable<net::Response> Dispatcher::handle(std::shared_ptr<const std::string> payload,
                                            const net::ConnectionInfo& conn) {
  const bool authenticated = !conn.session || conn.session->authenticated;
  if (!authenticated && conn.session->raw_tokens) {
    net::Response raw = co_await raw_token(*payload, conn);
    co_return raw;
  }
  Reader r(*payload);
  RequestHeader header;
  if (!decode_request_header(r, header)) {
    log_limited(closing_lines_, spdlog::level::warn, "closed connections",
                "connection {} ({}): malformed request header: {}; closing", conn.id, conn.peer, r.error());
    closed_counter("malformed").inc();
    co_return net::Response::close();
  }
  if (!authenticated && !allowed_before_authentication(header.api_key)) {
    log_limited(closing_lines_, spdlog::level::warn, "closed connections",
                "connection {} ({}) on listener {}: API key {} before authentication; closing", conn.id,
                conn.peer, conn.session->listener, header.api_key);
    closed_counter("unauthenticated").inc();
    co_return net::Response::close();
  }
  const ApiSpec* spec = find_api(header.api_key);
  if (spec == nullptr) {
    log_limited(closing_lines_, spdlog::level::warn, "closed connections",
                "connection {} ({}): unknown API key {}; closing", conn.id, conn.peer, header.api_key);
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
    log_limited(closing_lines_, spdlog::level::warn, "closed connections",
                "connection {} ({}): {} v{} is not supported (we serve v{}-{}); closing", conn.id, conn.peer,
                spec->name, header.api_version, spec->min_version, spec->max_version);
    closed_counter("unsupported_version").inc();
    co_return net::Response::close();
  }
  const auto started = std::chrono::steady_clock::now();
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
      if constexpr (std::is_same_v<Req, SaslAuthenticateRequest> ||
                    std::is_same_v<Req, SaslHandshakeRequest>) {
        // A failed authentication step is answered, then the connection closes (as Kafka does).
        if (resp.error_code != 0 && conn.session && !conn.session->authenticated) out->close_after = true;
      }
    }
  };
  awaitable<void> task;
  bool known = visit_api(header.api_key,
                         [&]<class Req, class Resp>() { task = run.template operator()<Req, Resp>(); });
  assert(known);
  (void)known;
  co_await std::move(task);
  if (!decoded) {
    log_limited(closing_lines_, spdlog::level::warn, "closed connections", "connection {} ({}): {}; closing",
                conn.id, conn.peer, error);
    closed_counter("malformed").inc();
    co_return net::Response::close();
  }
  latency(spec->key, spec->name).observe(std::chrono::steady_clock::now() - started);
  co_return std::move(*out);
}

}  // namespace ks::dispatch
