// Opens the configured object and metadata stores and wraps them in
// decorators that count requests for /metrics.
//
// Credentials never come from a URL or the command line but from the
// environment the caller passes: AWS_* for s3:// (objstore/aws_credentials.h).
#pragma once

#include <memory>
#include <string>

#include "common/env.h"
#include "common/status.h"
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


std::shared_ptr<objstore::ObjectStore> counting(std::shared_ptr<objstore::ObjectStore> inner);
std::shared_ptr<metastore::MetadataStore> counting(std::shared_ptr<metastore::MetadataStore> inner);

}  // namespace ks::broker
