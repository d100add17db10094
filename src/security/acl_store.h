// The broker's ACLs: a KeyWatch mirrors /ks/acls/ (cluster/keys.h) on every
// broker into an Authorizer, so an ACL created or deleted through any broker
// applies on all of them. While the metadata store is unreachable the last
// mirrored ACLs stay in force (the watch resumes from its last revision).
//
// Writes (CreateAcls, DeleteAcls) go straight to the metadata store and
// return once this broker's mirror shows them. Loop thread only.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "cluster/key_watch.h"
#include "common/async.h"
#include "common/status.h"
#include "metastore/async.h"
#include "security/acl.h"

namespace ks::security {

// The stored form of one binding (versioned JSON) and back.
std::string encode_acl(const AclBinding& b);
Result<AclBinding> decode_acl(std::string_view value);
// Its key in the metadata store.
std::string acl_key(const AclBinding& b);

struct AclDeleteResult {
  Status status;                    // the filter's error (invalid, store failure)
  std::vector<AclBinding> deleted;  // the ACLs it removed
};

class AclStore {
 public:
  AclStore(asio::io_context& io, metastore::AsyncMetadataStore meta, AuthorizerOptions o,
           std::size_t max_acls);
  ~AclStore();

  // Loads the ACLs (an error is returned, not retried) and starts the watch.
  awaitable<Status> start();
  awaitable<void> stop();

  const Authorizer& authorizer() const { return authz_; }

  // One Status per binding: invalid_argument (Kafka: INVALID_REQUEST),
  // limit_exceeded (max-acls), or the store's error. An existing ACL is no error.
  awaitable<std::vector<Status>> create(const std::vector<AclBinding>& bindings);
  // One result per filter: the mirrored ACLs it matched, removed.
  awaitable<std::vector<AclDeleteResult>> remove(const std::vector<AclFilter>& filters);
  // The mirrored ACLs `f` matches.
  std::vector<AclBinding> describe(const AclFilter& f) const;

 private:
  void changed();
  awaitable<void> wait_for(std::int64_t revision);

  asio::io_context& io_;
  metastore::AsyncMetadataStore meta_;
  Authorizer authz_;
  const std::size_t max_acls_;
  std::unique_ptr<cluster::KeyWatch> watch_;
};

}  // namespace ks::security
