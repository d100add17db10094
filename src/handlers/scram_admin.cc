#include "handlers/scram_admin.h"

namespace ks::handlers {

std::int8_t scram_mechanism_code(security::ScramHash h) {
  switch (h) {
    case security::ScramHash::kSha256:
      return 1;
    case security::ScramHash::kSha512:
      return 2;
    case security::ScramHash::kSha1:
      break;
  }
  return 0;
}

std::optional<security::ScramHash> scram_mechanism_of(std::int8_t code) {
  if (code == 1) return security::ScramHash::kSha256;
  if (code == 2) return security::ScramHash::kSha512;
  return std::nullopt;
}

awaitable<Result<ScramCredentials>> list_scram(metastore::AsyncMetadataStore& meta) {
  return offload(meta.pool(), [store = meta.store()] { return security::list_scram_credentials(*store); });
}

awaitable<Status> alter_scram(metastore::AsyncMetadataStore& meta, std::string user,
                              std::vector<security::ScramHash> remove,
                              std::vector<security::ScramCredential> upsert) {
  return offload(meta.pool(), [store = meta.store(), user = std::move(user), remove = std::move(remove),
                               upsert = std::move(upsert)] {
    return security::alter_scram_credentials(*store, user, remove, upsert);
  });
}

}  // namespace ks::handlers
