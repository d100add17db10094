// SCRAM credentials in the metadata store (cluster::keys::scram_credential,
// one key per user and mechanism). Synchronous: the broker calls them on its
// thread pool, `kafscale user` directly.
//
// Writers: `kafscale user add|delete` (bootstrap, before any broker accepts
// SASL) and AlterUserScramCredentials. Readers: every SCRAM authentication
// (no cache: a changed or deleted credential applies to the next login on
// every broker) and DescribeUserScramCredentials.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "metastore/metadata_store.h"
#include "security/scram.h"

namespace ks::security {

Result<std::optional<ScramCredential>> read_scram_credential(metastore::MetadataStore& m, ScramHash hash,
                                                             const std::string& user);
// already_exists when the user has a credential for that mechanism.
Status add_scram_credential(metastore::MetadataStore& m, const std::string& user, const ScramCredential& c);
// Deletes the user's credential of `hash`, or of every mechanism when unset; not_found when none.
Status delete_scram_credentials(metastore::MetadataStore& m, const std::string& user,
                                std::optional<ScramHash> hash);

// What may be shown of a credential: never its salt or keys.
struct ScramCredentialInfo {
  ScramHash hash = ScramHash::kSha256;
  std::int32_t iterations = 0;
};
// user -> its credentials (an undecodable value is skipped with a warning).
Result<std::map<std::string, std::vector<ScramCredentialInfo>>> list_scram_credentials(
    metastore::MetadataStore& m);

// One user's changes applied together: `remove` must all exist (not_found
// otherwise, and nothing changes); `upsert` creates or replaces.
Status alter_scram_credentials(metastore::MetadataStore& m, const std::string& user,
                               const std::vector<ScramHash>& remove,
                               const std::vector<ScramCredential>& upsert);

}  // namespace ks::security
