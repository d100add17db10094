#include "security/acl_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "cluster/keys.h"
#include "common/metrics.h"
#include "common/versioned_json.h"
#include "security/session.h"

namespace ks::security {
namespace keys = cluster::keys;

namespace {
// How long a write waits for this broker's mirror to show it.
constexpr auto kMirrorWait = std::chrono::seconds(5);

int code(auto e) { return static_cast<int>(e); }

metrics::Gauge& acls_gauge() {
  static auto& g =
      metrics::registry().gauge("kafscale_acls", "ACLs in this broker's mirror of the metadata store");
  return g;
}
}  // namespace

std::string encode_acl(const AclBinding& b) {
  nlohmann::json j;
  j["v"] = 1;
  j["resource_type"] = code(b.resource_type);
  j["resource_name"] = b.resource_name;
  j["pattern_type"] = code(b.pattern_type);
  j["principal"] = b.principal;
  j["host"] = b.host;
  j["operation"] = code(b.operation);
  j["permission"] = code(b.permission);
  return j.dump();
}

Result<AclBinding> decode_acl(std::string_view value) {
  return parse_versioned(value, "acl", [](const nlohmann::json& j) -> Result<AclBinding> {
    AclBinding b;
    b.resource_type = static_cast<ResourceType>(j.at("resource_type").get<int>());
    b.resource_name = j.at("resource_name").get<std::string>();
    b.pattern_type = static_cast<PatternType>(j.at("pattern_type").get<int>());
    b.principal = j.at("principal").get<std::string>();
    b.host = j.at("host").get<std::string>();
    b.operation = static_cast<AclOperation>(j.at("operation").get<int>());
    b.permission = static_cast<AclPermission>(j.at("permission").get<int>());
    if (auto why = validate(b)) return Status(Errc::corrupt, "acl: " + *why);
    return b;
  });
}

std::string acl_key(const AclBinding& b) {
  return keys::acl(code(b.resource_type), code(b.pattern_type), code(b.operation), code(b.permission),
                   b.resource_name, b.principal, b.host);
}

AclStore::AclStore(asio::io_context& io, metastore::AsyncMetadataStore meta, AuthorizerOptions o,
                   std::size_t max_acls)
    : io_(io), meta_(std::move(meta)), authz_(std::move(o)), max_acls_(max_acls) {}

AclStore::~AclStore() = default;

awaitable<Status> AclStore::start() {
  const std::string prefix = keys::acls_prefix();
  watch_ = std::make_unique<cluster::KeyWatch>(io_, meta_, prefix, metastore::prefix_end(prefix), "acls");
  watch_->on_change([this] { changed(); });
  Status s = co_await watch_->load();
  if (!s.ok()) co_return Status(s.code(), "loading ACLs: " + s.message());
  changed();
  watch_->start();
  co_return Status{};
}

awaitable<void> AclStore::stop() {
  if (watch_) co_await watch_->stop();
}

void AclStore::changed() {
  std::vector<AclBinding> acls;
  acls.reserve(watch_->kvs().size());
  for (const auto& [key, kv] : watch_->kvs()) {
    auto b = decode_acl(kv.value);
    if (!b.ok()) {
      // Skipped: a broken record grants nothing (and denies nothing: a DENY must be readable).
      spdlog::error("acls: ignoring {}: {}", printable(key), b.status().message());
      continue;
    }
    acls.push_back(std::move(*b));
  }
  authz_.set_acls(acls);
  acls_gauge().set(static_cast<double>(authz_.acls().size()));
}

awaitable<void> AclStore::wait_for(std::int64_t revision) {
  const auto deadline = Clock::now() + kMirrorWait;
  while (watch_->revision() < revision && Clock::now() < deadline) {
    co_await watch_->changed().wait_until(deadline);
  }
}

awaitable<std::vector<Status>> AclStore::create(const std::vector<AclBinding>& bindings) {
  std::vector<Status> out(bindings.size());
  std::int64_t written = 0;
  std::size_t count = authz_.acls().size();
  for (std::size_t i = 0; i < bindings.size(); ++i) {
    const AclBinding b = bindings[i];
    if (auto why = validate(b)) {
      out[i] = Status(Errc::invalid_argument, *why);
      continue;
    }
    const std::string key = acl_key(b);
    const bool exists = watch_->find(key) != nullptr;
    if (!exists && count >= max_acls_) {
      out[i] = Status(Errc::limit_exceeded,
                      "ACLs are at the limit (max-acls = " + std::to_string(max_acls_) + ")");
      continue;
    }
    std::string value = encode_acl(b);
    auto rev = co_await meta_.put(key, std::move(value));
    if (!rev.ok()) {
      out[i] = rev.status();
      continue;
    }
    if (!exists) ++count;
    written = std::max(written, *rev);
  }
  if (written > 0) co_await wait_for(written);
  co_return out;
}

awaitable<std::vector<AclDeleteResult>> AclStore::remove(const std::vector<AclFilter>& filters) {
  std::vector<AclDeleteResult> out(filters.size());
  // Each mirrored ACL is deleted once, for the first filter that matches it (as Kafka reports it).
  std::vector<AclBinding> current = authz_.acls();
  std::vector<bool> taken(current.size(), false);
  std::int64_t written = 0;
  for (std::size_t i = 0; i < filters.size(); ++i) {
    if (auto why = validate(filters[i])) {
      out[i].status = Status(Errc::invalid_argument, *why);
      continue;
    }
    for (std::size_t k = 0; k < current.size(); ++k) {
      if (taken[k] || !filters[i].matches(current[k])) continue;
      taken[k] = true;
      const AclBinding b = current[k];
      // A transaction: its answer carries the store revision of the delete (delete_range's is a count).
      metastore::TxnRequest t;
      t.success.push_back(metastore::Op::del(acl_key(b)));
      auto r = co_await meta_.txn(std::move(t));
      if (!r.ok()) {
        out[i].status = r.status();
        break;
      }
      written = std::max(written, r->revision);
      out[i].deleted.push_back(b);
    }
  }
  if (written > 0) co_await wait_for(written);
  co_return out;
}

std::vector<AclBinding> AclStore::describe(const AclFilter& f) const {
  std::vector<AclBinding> out;
  for (const AclBinding& b : authz_.acls()) {
    if (f.matches(b)) out.push_back(b);
  }
  return out;
}

}  // namespace ks::security
