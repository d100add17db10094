// Opens the configured object and metadata stores and wraps them in
// decorators that count requests for /metrics.
//
// Credentials never come from a URL or the command line but from the
// environment the caller passes: AWS_* for s3:// (objstore/aws_credentials.h)
// and KAFSCALE_ETCD_USERNAME plus KAFSCALE_ETCD_PASSWORD or
// KAFSCALE_ETCD_PASSWORD_FILE for etcd:// (see etcd_options).
#pragma once

#include <memory>
#include <string>

#include "common/env.h"
#include "common/status.h"
#include "metastore/etcd_store.h"
#include "metastore/metadata_store.h"
#include "objstore/object_store.h"

namespace ks::broker {

// "file:///abs/path", "file://rel/path" or "s3://bucket/prefix?...". exit-code-2
// errors (bad setting) come back as invalid_argument.
Result<std::shared_ptr<objstore::ObjectStore>> open_object_store(const std::string& url,
                                                                 const EnvLookup& env);
// "embedded:///abs/path" or "etcd[s]://HOST:PORT[,...]/PREFIX".
Result<std::shared_ptr<metastore::MetadataStore>> open_metadata_store(const std::string& url,
                                                                      const EnvLookup& env);

// metastore::parse_etcd_url(url) plus the etcd login from `env`:
// KAFSCALE_ETCD_USERNAME and KAFSCALE_ETCD_PASSWORD or KAFSCALE_ETCD_PASSWORD_FILE
// (a file holding the password; one trailing newline is ignored); an empty
// variable counts as unset. invalid_argument for a bad URL, a password
// without a user or the other way round, both password variables, or an
// unreadable password file.
Result<metastore::EtcdOptions> etcd_options(const std::string& url, const EnvLookup& env);

std::shared_ptr<objstore::ObjectStore> counting(std::shared_ptr<objstore::ObjectStore> inner);
std::shared_ptr<metastore::MetadataStore> counting(std::shared_ptr<metastore::MetadataStore> inner);

}  // namespace ks::broker
