#include "security/scram_store.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cluster/keys.h"

namespace ks::security {

namespace keys = cluster::keys;

namespace {
std::string key_of(ScramHash h, const std::string& user) {
  return keys::scram_credential(scram_mechanism_name(h), user);
}
}  // namespace

Result<std::optional<ScramCredential>> read_scram_credential(metastore::MetadataStore& m, ScramHash hash,
                                                             const std::string& user) {
  metastore::RangeRequest rq;
  rq.key = key_of(hash, user);
  auto r = m.range(rq);
  if (!r.ok()) return r.status();
  if (r->kvs.empty()) return std::optional<ScramCredential>();
  auto c = decode_scram_credential(r->kvs.front().value);
  if (!c.ok()) return c.status();
  return std::optional<ScramCredential>(std::move(*c));
}

Status add_scram_credential(metastore::MetadataStore& m, const std::string& user, const ScramCredential& c) {
  const std::string key = key_of(c.hash, user);
  metastore::TxnRequest t;
  metastore::Compare absent;
  absent.key = key;
  absent.target = metastore::Compare::Target::create_revision;
  absent.number = 0;
  t.compare.push_back(std::move(absent));
  t.success.push_back(metastore::Op::put(key, encode_scram_credential(c)));
  auto r = m.txn(t);
  if (!r.ok()) return r.status();
  if (!r->succeeded) {
    return Status(Errc::already_exists,
                  fmt::format("user '{}' already has a {} credential", user, scram_mechanism_name(c.hash)));
  }
  return {};
}

Status delete_scram_credentials(metastore::MetadataStore& m, const std::string& user,
                                std::optional<ScramHash> hash) {
  std::int64_t deleted = 0;
  for (auto h : {ScramHash::kSha256, ScramHash::kSha512}) {
    if (hash && *hash != h) continue;
    auto r = m.delete_range(key_of(h, user));
    if (!r.ok()) return r.status();
    deleted += *r;
  }
  if (deleted == 0) return Status(Errc::not_found, fmt::format("user '{}' has no such credential", user));
  return {};
}

Result<std::map<std::string, std::vector<ScramCredentialInfo>>> list_scram_credentials(
    metastore::MetadataStore& m) {
  metastore::RangeRequest rq;
  rq.key = keys::scram_prefix();
  rq.range_end = metastore::prefix_end(rq.key);
  auto r = m.range(rq);
  if (!r.ok()) return r.status();
  std::map<std::string, std::vector<ScramCredentialInfo>> out;
  for (const auto& kv : r->kvs) {
    auto k = keys::parse_scram_key(kv.key);
    auto c = decode_scram_credential(kv.value);
    if (!k || !c.ok()) {
      spdlog::warn("SCRAM credentials: skipping key {}: {}", kv.key,
                   k ? c.status().message() : "outside the layout");
      continue;
    }
    out[k->user].push_back(ScramCredentialInfo{c->hash, c->iterations});
  }
  return out;
}

Status alter_scram_credentials(metastore::MetadataStore& m, const std::string& user,
                               const std::vector<ScramHash>& remove,
                               const std::vector<ScramCredential>& upsert) {
  metastore::TxnRequest t;
  for (ScramHash h : remove) {
    metastore::Compare exists;
    exists.key = key_of(h, user);
    exists.target = metastore::Compare::Target::create_revision;
    exists.result = metastore::Compare::Result::greater;
    exists.number = 0;
    t.compare.push_back(std::move(exists));
    t.success.push_back(metastore::Op::del(key_of(h, user)));
  }
  for (const ScramCredential& c : upsert)
    t.success.push_back(metastore::Op::put(key_of(c.hash, user), encode_scram_credential(c)));
  auto r = m.txn(t);
  if (!r.ok()) return r.status();
  if (!r->succeeded) {
    return Status(Errc::not_found, "Attempt to delete a user credential that does not exist");
  }
  return {};
}

}  // namespace ks::security
