// etcd's NOSPACE: when its database reaches --quota-backend-bytes, etcd raises
// an alarm and refuses every write until an operator frees space and disarms
// the alarm. The broker turns the resulting Errc::nospace into retriable Kafka
// errors (KAFKA_STORAGE_ERROR, see handlers::to_kafka_error); this decorator
// makes sure the operator learns what to do from one clear log line.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "metastore/metadata_store.h"

namespace ks::broker {

// The operator's instructions, on one line. db_size_bytes 0 = unknown.
std::string nospace_advice(std::int64_t db_size_bytes);

// Forwards every call to `inner`. Each nospace answer counts in
// kafscale_metastore_nospace_errors_total; the first one logs (error level)
// nospace_advice, again at most once per `log_every` while it lasts; the first
// successful write afterwards logs that writes work again. `log` replaces
// spdlog for tests: (is_error, line).
using LogLine = std::function<void(bool is_error, const std::string& line)>;
std::shared_ptr<metastore::MetadataStore> log_nospace(
    std::shared_ptr<metastore::MetadataStore> inner,
    std::chrono::milliseconds log_every = std::chrono::minutes(1), LogLine log = nullptr);

}  // namespace ks::broker
