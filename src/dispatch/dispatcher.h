// Dispatcher: one request frame in, one response frame out.
//
// It parses the request header, looks the API up in the generated API table
// (the only place version ranges are declared), decodes the request type the
// table names, calls the matching handler and encodes the response with the
// right header version. Malformed input and unknown APIs close the connection
// (as Kafka does); ApiVersions at an unsupported version is answered with
// UNSUPPORTED_VERSION in a v0 body. Each request's handling time is observed
// per API (kafscale_request_seconds{api}).
#pragma once

#include <array>
#include <memory>
#include <string>

#include "common/log_budget.h"
#include "common/metrics.h"
#include "handlers/context.h"
#include "net/server.h"

namespace ks::dispatch {

class Dispatcher {
 public:
  explicit Dispatcher(handlers::BrokerContext& broker) : broker_(broker) {}

  awaitable<net::Response> handle(std::shared_ptr<const std::string> payload,
                                  const net::ConnectionInfo& conn);

 private:
  // One raw SASL token (after SaslHandshake v0) on a connection not yet authenticated.
  awaitable<net::Response> raw_token(const std::string& token, const net::ConnectionInfo& conn);

  // kafscale_request_seconds{api}: from the decoded header to the encoded
  // response (Fetch includes its wait for data, as Kafka's request time does).
  metrics::Histogram& latency(std::int16_t api_key, std::string_view api_name);

  handlers::BrokerContext& broker_;
  // Lines of requests that close their connection: a client can reconnect and
  // send them again as fast as it likes, so at most 20 per 10 s (the rest are
  // counted in the next line; kafscale_connections_closed_total counts all).
  LogBudget closing_lines_{20, std::chrono::seconds(10)};
  // One histogram per API key, looked up once (the registry takes a lock).
  static constexpr std::size_t kLatencySlots = 128;
  std::array<metrics::Histogram*, kLatencySlots> latency_{};
};

}  // namespace ks::dispatch
