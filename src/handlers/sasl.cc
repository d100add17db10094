// SaslHandshake and SaslAuthenticate (security/sasl.h does the mechanisms).
#include "security/sasl.h"

#include "handlers/handlers.h"

namespace ks::handlers {

awaitable<SaslHandshakeResponse> handle(RequestContext& ctx, SaslHandshakeRequest& req) {
  SaslHandshakeResponse resp;
  security::Authenticator* auth = ctx.broker.authenticator;
  const auto& session = ctx.connection.session;
  if (auth != nullptr) resp.mechanisms = auth->mechanisms();
  if (auth == nullptr || !session || !security::uses_sasl(session->protocol)) {
    // A listener without SASL, as Kafka answers it.
    resp.error_code = code(ErrorCode::kIllegalSaslState);
    co_return resp;
  }
  switch (auth->handshake(*session, req.mechanism, ctx.version)) {
    case security::HandshakeResult::kOk:
      resp.error_code = 0;
      break;
    case security::HandshakeResult::kUnsupportedMechanism:
      resp.error_code = code(ErrorCode::kUnsupportedSaslMechanism);
      break;
    case security::HandshakeResult::kIllegalState:
      resp.error_code = code(ErrorCode::kIllegalSaslState);
      break;
  }
  co_return resp;
}

awaitable<SaslAuthenticateResponse> handle(RequestContext& ctx, SaslAuthenticateRequest& req) {
  SaslAuthenticateResponse resp;
  security::Authenticator* auth = ctx.broker.authenticator;
  std::shared_ptr<security::Session> session = ctx.connection.session;
  if (auth == nullptr || !session || !security::uses_sasl(session->protocol) || session->raw_tokens) {
    resp.error_code = code(ErrorCode::kIllegalSaslState);
    resp.error_message = "SaslAuthenticate is not expected on this connection";
    co_return resp;
  }
  security::SaslStep step = co_await auth->step(session, req.auth_bytes);
  switch (step.outcome) {
    case security::SaslStep::Outcome::kContinue:
    case security::SaslStep::Outcome::kDone:
      resp.error_code = 0;
      resp.auth_bytes = std::move(step.token);
      break;
    case security::SaslStep::Outcome::kFailed:
      resp.error_code = code(ErrorCode::kSaslAuthenticationFailed);
      resp.error_message = std::move(step.error);
      break;
    case security::SaslStep::Outcome::kIllegal:
      resp.error_code = code(ErrorCode::kIllegalSaslState);
      resp.error_message = std::move(step.error);
      break;
  }
  resp.session_lifetime_ms = 0;  // no re-authentication (KIP-368)
  co_return resp;
}

}  // namespace ks::handlers
