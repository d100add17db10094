#include "security/sasl.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "common/log_budget.h"

namespace ks::security {

namespace {
// Failed logins: at most 20 lines per 10 s (a client can fail as often as it
// likes); the rest are counted in the next line written.
template <class... Args>
void log_failure(spdlog::level::level_enum level, fmt::format_string<Args...> f, Args&&... args) {
  static LogBudget budget(20, std::chrono::seconds(10));
  log_limited(budget, level, "failed authentications", f, std::forward<Args>(args)...);
}
}  // namespace
namespace {

bool same_secret(std::string_view a, std::string_view b) {
  // Constant time over the longer input; the length difference still counts.
  unsigned char d = a.size() == b.size() ? 0 : 1;
  const std::size_t n = std::max(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    auto x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    auto y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    d |= static_cast<unsigned char>(x ^ y);
  }
  return d == 0;
}

SaslStep failed(std::string_view mechanism) {
  SaslStep s;
  s.outcome = SaslStep::Outcome::kFailed;
  s.error = fmt::format(
      "Authentication failed during authentication due to invalid credentials with SASL mechanism {}",
      mechanism);
  return s;
}

SaslStep illegal(std::string why) {
  SaslStep s;
  s.outcome = SaslStep::Outcome::kIllegal;
  s.error = std::move(why);
  return s;
}

}  // namespace

bool known_mechanism(std::string_view name) { return name == kPlain || scram_mechanism(name).has_value(); }

Result<std::map<std::string, std::string>> parse_plain_users(std::string_view text) {
  std::map<std::string, std::string> out;
  int line_no = 0;
  while (!text.empty()) {
    ++line_no;
    std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == line.size()) {
      return Status(Errc::invalid_argument, fmt::format("line {}: expected name:password", line_no));
    }
    std::string name(line.substr(0, colon));
    if (name.find('\0') != std::string::npos) {
      return Status(Errc::invalid_argument, fmt::format("line {}: bad user name", line_no));
    }
    if (!out.emplace(name, std::string(line.substr(colon + 1))).second) {
      return Status(Errc::invalid_argument, fmt::format("line {}: user '{}' appears twice", line_no, name));
    }
  }
  return out;
}

std::optional<std::pair<std::string, std::string>> parse_plain_token(std::string_view token) {
  std::size_t a = token.find('\0');
  if (a == std::string_view::npos) return std::nullopt;
  std::size_t b = token.find('\0', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  std::string_view authzid = token.substr(0, a);
  std::string_view user = token.substr(a + 1, b - a - 1);
  std::string_view password = token.substr(b + 1);
  if (user.empty() || password.find('\0') != std::string_view::npos) return std::nullopt;
  if (!authzid.empty() && authzid != user) return std::nullopt;
  return std::make_pair(std::string(user), std::string(password));
}

HandshakeResult Authenticator::handshake(Session& s, std::string_view mechanism, int version) const {
  if (s.authenticated || s.handshake_version >= 0) return HandshakeResult::kIllegalState;
  s.handshake_version = version;
  if (std::find(mechanisms_.begin(), mechanisms_.end(), mechanism) == mechanisms_.end()) {
    return HandshakeResult::kUnsupportedMechanism;
  }
  s.mechanism = std::string(mechanism);
  s.raw_tokens = version == 0;
  return HandshakeResult::kOk;
}

SaslStep Authenticator::plain(Session& s, std::string_view token) const {
  auto parsed = parse_plain_token(token);
  if (!parsed) {
    log_failure(spdlog::level::info, "authentication failed on listener {}: malformed PLAIN token",
                s.listener);
    return failed(kPlain);
  }
  auto it = plain_users_.find(parsed->first);
  // Compare against something even for an unknown user so both take as long.
  const bool ok =
      same_secret(it == plain_users_.end() ? std::string_view("\x01") : it->second, parsed->second) &&
      it != plain_users_.end();
  if (!ok) {
    log_failure(spdlog::level::info, "authentication failed on listener {}: PLAIN user '{}'", s.listener,
                printable(parsed->first));
    return failed(kPlain);
  }
  s.authenticated = true;
  s.principal = "User:" + parsed->first;
  SaslStep done;
  done.outcome = SaslStep::Outcome::kDone;
  return done;
}

awaitable<SaslStep> Authenticator::step(const std::shared_ptr<Session>& session, const std::string& token) {
  std::shared_ptr<Session> s = session;
  if (s->authenticated) co_return illegal("already authenticated (re-authentication is not supported)");
  if (s->mechanism.empty()) co_return illegal("SaslAuthenticate before a successful SaslHandshake");
  if (s->mechanism == kPlain) co_return plain(*s, token);
  std::optional<ScramHash> hash = scram_mechanism(s->mechanism);
  if (!hash) co_return illegal("unknown mechanism");
  const std::string mechanism = s->mechanism;
  if (!s->scram) {
    s->scram = std::make_unique<ScramServer>(*hash);
    Result<std::string> user = s->scram->client_first(token);
    if (!user.ok()) {
      log_failure(spdlog::level::info, "authentication failed on listener {}: {}", s->listener,
                  user.status().message());
      co_return failed(mechanism);
    }
    const std::string name = *user;
    Result<std::optional<ScramCredential>> cred = co_await lookup_(*hash, name);
    if (!cred.ok()) {
      log_failure(spdlog::level::warn,
                  "authentication failed on listener {}: cannot read the credential of '{}': {}", s->listener,
                  printable(name), cred.status().to_string());
      SaslStep st = failed(mechanism);
      st.error = "Authentication failed: the credential store is unavailable";
      co_return st;
    }
    if (!cred->has_value() || (*cred)->hash != *hash) {
      log_failure(spdlog::level::info, "authentication failed on listener {}: unknown {} user '{}'",
                  s->listener, mechanism, printable(name));
      co_return failed(mechanism);
    }
    SaslStep next;
    next.outcome = SaslStep::Outcome::kContinue;
    next.token = s->scram->server_first(**cred);
    co_return next;
  }
  Result<std::string> final_msg = s->scram->client_final(token);
  if (!final_msg.ok()) {
    log_failure(spdlog::level::info, "authentication failed on listener {}: {} user '{}': {}", s->listener,
                mechanism, printable(s->scram->user()),
                final_msg.status().code() == Errc::fenced ? "wrong password" : final_msg.status().message());
    co_return failed(mechanism);
  }
  s->authenticated = true;
  s->principal = "User:" + s->scram->user();
  SaslStep done;
  done.outcome = SaslStep::Outcome::kDone;
  done.token = std::move(*final_msg);
  s->scram.reset();
  co_return done;
}

}  // namespace ks::security
