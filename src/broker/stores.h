// Opens the configured object and metadata stores and wraps them in
// decorators that count requests for /metrics.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "metastore/metadata_store.h"
#include "objstore/object_store.h"

namespace ks::broker {

// "file:///abs/path" or "file://rel/path". exit-code-2 errors (bad setting)
// come back as invalid_argument.
Result<std::shared_ptr<objstore::ObjectStore>> open_object_store(const std::string& url);
// "embedded:///abs/path".
Result<std::shared_ptr<metastore::MetadataStore>> open_metadata_store(const std::string& url);

std::shared_ptr<objstore::ObjectStore> counting(std::shared_ptr<objstore::ObjectStore> inner);
std::shared_ptr<metastore::MetadataStore> counting(std::shared_ptr<metastore::MetadataStore> inner);

}  // namespace ks::broker
