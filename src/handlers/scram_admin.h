// What the SCRAM credential APIs (Describe/AlterUserScramCredentials) share:
// Kafka's mechanism codes and the store calls, run on the broker's pool.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/async.h"
#include "metastore/async.h"
#include "security/scram_store.h"

namespace ks::handlers {

// Kafka's ScramMechanism codes: 1 SCRAM-SHA-256, 2 SCRAM-SHA-512 (0 UNKNOWN).
std::int8_t scram_mechanism_code(security::ScramHash h);
std::optional<security::ScramHash> scram_mechanism_of(std::int8_t code);

inline constexpr const char* kNoMetadataStore = "This broker has no metadata store to keep credentials in";

using ScramCredentials = std::map<std::string, std::vector<security::ScramCredentialInfo>>;

// security::list_scram_credentials / alter_scram_credentials on the pool.
awaitable<Result<ScramCredentials>> list_scram(metastore::AsyncMetadataStore& meta);
awaitable<Status> alter_scram(metastore::AsyncMetadataStore& meta, std::string user,
                              std::vector<security::ScramHash> remove,
                              std::vector<security::ScramCredential> upsert);

}  // namespace ks::handlers
