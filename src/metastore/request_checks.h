// Request validation shared by the MetadataStore backends: etcd's request
// checks and default limits, so a request the embedded store accepts is one
// etcd accepts too.
#pragma once

#include <cstddef>
#include <string_view>

#include "common/status.h"
#include "metastore/metadata_store.h"

namespace ks::metastore {

// Per-op/compare overhead added to key and value bytes when approximating the
// encoded size of a request (protobuf tags, lengths, revision fields).
inline constexpr std::size_t kOpOverheadBytes = 16;

// True if `key` lies in the etcd range (start, end): empty end = exactly
// start; "\0" = every key >= start; else [start, end).
bool key_in_range(std::string_view key, std::string_view start, std::string_view end);

// Approximate encoded sizes compared against kMaxRequestBytes.
std::size_t approx_put_bytes(std::string_view key, std::string_view value);
std::size_t approx_txn_bytes(const TxnRequest& req);

// invalid_argument for an empty key (etcd: "key is not provided").
Status check_range(const RangeRequest& req);
// invalid_argument for an empty key, limit_exceeded beyond kMaxRequestBytes.
Status check_put(std::string_view key, std::string_view value);
Status check_delete(std::string_view key);
// limit_exceeded when compare, success or failure holds more than kMaxTxnOps
// entries (etcd's --max-txn-ops bounds each list, not their sum) or when the
// request exceeds kMaxRequestBytes; invalid_argument for an empty key, or for
// a branch that puts the same key twice or puts a key it also deletes (etcd:
// "duplicate key given in txn request").
Status check_txn(const TxnRequest& req);

}  // namespace ks::metastore
