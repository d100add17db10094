#include "objstore/aws_credentials.h"

#include <curl/curl.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <mutex>
#include <sstream>

#include "common/curl_init.h"

namespace ks::objstore {

namespace {

class StaticProvider final : public CredentialsProvider {
 public:
  StaticProvider(AwsCredentials c, std::string d) : creds_(std::move(c)), desc_(std::move(d)) {}
  Result<AwsCredentials> get() override { return creds_; }
  std::string describe() const override { return desc_; }

 private:
  const AwsCredentials creds_;
  const std::string desc_;
};

std::string_view trim(std::string_view s) {
  auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

Result<std::string> read_small_file(const std::string& path) {
  // Credentials and tokens are small; a bigger file is a misconfiguration.
  constexpr std::size_t kMaxFile = 1 << 20;
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(Errc::not_found, "cannot read " + path);
  std::string data;
  char buf[8192];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    data.append(buf, static_cast<std::size_t>(in.gcount()));
    if (data.size() > kMaxFile) return Status(Errc::invalid_argument, path + " is larger than 1 MiB");
  }
  return data;
}

std::size_t append_body(char* p, std::size_t size, std::size_t n, void* ud) {
  auto* out = static_cast<std::string*>(ud);
  // STS answers are a few KiB; refuse anything absurd.
  if (out->size() + size * n > (1u << 20)) return 0;
  out->append(p, size * n);
  return size * n;
}

class WebIdentityProvider final : public CredentialsProvider {
 public:
  explicit WebIdentityProvider(WebIdentityConfig c) : cfg_(std::move(c)) {}

  Result<AwsCredentials> get() override {
    std::lock_guard lock(mu_);
    auto now = std::chrono::system_clock::now();
    if (cached_ && (!cached_->expiration || now + cfg_.refresh_margin < *cached_->expiration))
      return *cached_;
    auto fresh = fetch();
    if (!fresh.ok()) {
      // Keep using still-valid credentials through an STS hiccup.
      if (cached_ && cached_->expiration && now < *cached_->expiration) return *cached_;
      return fresh.status();
    }
    cached_ = *fresh;
    return *cached_;
  }

  std::string describe() const override {
    return "web identity " + cfg_.role_arn + " via " + cfg_.sts_endpoint;
  }

 private:
  Result<AwsCredentials> fetch() {
    auto token = read_small_file(cfg_.token_file);
    if (!token.ok()) {
      return Status(Errc::unavailable,
                    "web identity: " + token.status().message() + " (AWS_WEB_IDENTITY_TOKEN_FILE)");
    }
    std::string tok(trim(*token));
    std::string body = "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&DurationSeconds=" +
                       std::to_string(cfg_.duration.count()) + "&RoleArn=" + aws::uri_encode(cfg_.role_arn) +
                       "&RoleSessionName=" + aws::uri_encode(cfg_.session_name) +
                       "&WebIdentityToken=" + aws::uri_encode(tok);
    init_curl_once();
    CURL* h = curl_easy_init();
    if (h == nullptr) return Status(Errc::unavailable, "web identity: curl_easy_init failed");
    std::string resp;
    curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/x-www-form-urlencoded");
    headers = curl_slist_append(headers, "Accept: application/xml");
    curl_easy_setopt(h, CURLOPT_URL, cfg_.sts_endpoint.c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, append_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(cfg_.timeout.count()));
    CURLcode rc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK) {
      return Status(rc == CURLE_OPERATION_TIMEDOUT ? Errc::timeout : Errc::unavailable,
                    "web identity: STS " + cfg_.sts_endpoint + ": " + curl_easy_strerror(rc));
    }
    auto creds = parse_assume_role_response(resp);
    if (!creds.ok()) {
      return Status(code >= 500 ? Errc::unavailable : creds.code(),
                    "web identity: STS HTTP " + std::to_string(code) + ": " + creds.status().message());
    }
    return creds;
  }

  const WebIdentityConfig cfg_;
  std::mutex mu_;  // serializes refreshes
  std::optional<AwsCredentials> cached_;
};

}  // namespace

std::shared_ptr<CredentialsProvider> static_credentials(AwsCredentials creds, std::string description) {
  return std::make_shared<StaticProvider>(std::move(creds), std::move(description));
}

std::shared_ptr<CredentialsProvider> web_identity_credentials(WebIdentityConfig config) {
  if (config.session_name.empty()) config.session_name = "kafscale-" + std::to_string(::getpid());
  return std::make_shared<WebIdentityProvider>(std::move(config));
}

Result<AwsCredentials> parse_assume_role_response(std::string_view xml) {
  if (auto err = aws::xml_elements(xml, "Error"); !err.empty()) {
    std::string code = aws::xml_text(err[0], "Code").value_or("unknown");
    std::string msg = aws::xml_text(err[0], "Message").value_or("");
    // Expired/invalid tokens and wrong roles are configuration problems.
    return Status(Errc::unavailable, code + ": " + msg);
  }
  auto creds_el = aws::xml_elements(xml, "Credentials");
  if (creds_el.empty()) return Status(Errc::unavailable, "no <Credentials> in STS response");
  AwsCredentials c;
  c.access_key_id = aws::xml_text(creds_el[0], "AccessKeyId").value_or("");
  c.secret_access_key = aws::xml_text(creds_el[0], "SecretAccessKey").value_or("");
  c.session_token = aws::xml_text(creds_el[0], "SessionToken").value_or("");
  auto exp = aws::xml_text(creds_el[0], "Expiration");
  if (c.access_key_id.empty() || c.secret_access_key.empty() || c.session_token.empty() || !exp) {
    return Status(Errc::unavailable, "incomplete <Credentials> in STS response");
  }
  c.expiration = aws::parse_iso8601(*exp);
  if (!c.expiration) return Status(Errc::unavailable, "bad <Expiration> '" + *exp + "' in STS response");
  return c;
}

Result<AwsCredentials> parse_shared_credentials(std::string_view text, std::string_view profile) {
  bool in_profile = false;
  bool found = false;
  AwsCredentials c;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t nl = text.find('\n', pos);
    std::string_view line = trim(text.substr(pos, nl == std::string_view::npos ? text.npos : nl - pos));
    pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[') {
      if (line.back() != ']') continue;  // malformed header: ignore the line
      std::string_view name = trim(line.substr(1, line.size() - 2));
      // ~/.aws/config style "[profile x]" is accepted too.
      if (name.rfind("profile ", 0) == 0) name = trim(name.substr(8));
      in_profile = name == profile;
      found = found || in_profile;
      continue;
    }
    if (!in_profile) continue;
    std::size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = trim(line.substr(0, eq));
    std::string_view value = trim(line.substr(eq + 1));
    if (key == "aws_access_key_id")
      c.access_key_id = value;
    else if (key == "aws_secret_access_key")
      c.secret_access_key = value;
    else if (key == "aws_session_token")
      c.session_token = value;
  }
  if (!found) return Status(Errc::not_found, "profile [" + std::string(profile) + "] not found");
  if (c.access_key_id.empty() || c.secret_access_key.empty()) {
    return Status(Errc::invalid_argument,
                  "profile [" + std::string(profile) + "] lacks aws_access_key_id or aws_secret_access_key");
  }
  return c;
}

Result<std::shared_ptr<CredentialsProvider>> default_credentials_provider(const EnvLookup& lookup) {
  if (!lookup) return Status(Errc::invalid_argument, "AWS credentials: no environment lookup given");
  // An empty variable counts as unset (AWS_PROFILE= means the default profile).
  auto env = [&lookup](const std::string& name) -> std::optional<std::string> {
    auto v = lookup(name);
    if (v && v->empty()) return std::nullopt;
    return v;
  };
  // 1. Environment.
  auto id = env("AWS_ACCESS_KEY_ID");
  auto secret = env("AWS_SECRET_ACCESS_KEY");
  if (id || secret) {
    if (!id || !secret) {
      return Status(Errc::invalid_argument,
                    "AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together");
    }
    AwsCredentials c{*id, *secret, env("AWS_SESSION_TOKEN").value_or(""), std::nullopt};
    return static_credentials(std::move(c), "environment");
  }

  // 2. Shared credentials file.
  auto profile_env = env("AWS_PROFILE");
  std::string profile = profile_env.value_or("default");
  std::string path;
  if (auto p = env("AWS_SHARED_CREDENTIALS_FILE"))
    path = *p;
  else if (auto home = env("HOME"))
    path = *home + "/.aws/credentials";
  if (!path.empty()) {
    auto text = read_small_file(path);
    if (text.ok()) {
      auto c = parse_shared_credentials(*text, profile);
      if (c.ok()) return static_credentials(std::move(*c), "file " + path + " [" + profile + "]");
      // A profile asked for by name must exist; an absent default profile
      // just moves on to web identity.
      if (c.code() != Errc::not_found || profile_env) {
        return Status(Errc::invalid_argument, "AWS credentials: " + path + ": " + c.status().message());
      }
    } else if (text.code() != Errc::not_found || env("AWS_SHARED_CREDENTIALS_FILE")) {
      return Status(Errc::invalid_argument, "AWS credentials: " + text.status().message());
    }
  }

  // 3. Web identity.
  auto token_file = env("AWS_WEB_IDENTITY_TOKEN_FILE");
  auto role = env("AWS_ROLE_ARN");
  if (token_file || role) {
    if (!token_file || !role) {
      return Status(Errc::invalid_argument,
                    "AWS credentials: AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN must be set together");
    }
    WebIdentityConfig cfg;
    cfg.token_file = *token_file;
    cfg.role_arn = *role;
    cfg.session_name = env("AWS_ROLE_SESSION_NAME").value_or("");
    if (auto ep = env("AWS_STS_ENDPOINT")) {
      cfg.sts_endpoint = *ep;
    } else if (auto region = env("AWS_REGION") ? env("AWS_REGION") : env("AWS_DEFAULT_REGION")) {
      cfg.sts_endpoint = "https://sts." + *region + ".amazonaws.com/";
    } else {
      cfg.sts_endpoint = "https://sts.amazonaws.com/";
    }
    return web_identity_credentials(std::move(cfg));
  }
  return Status(
      Errc::unavailable,
      "AWS credentials: none found (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a shared credentials "
      "file, or AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN)");
}

}  // namespace ks::objstore
