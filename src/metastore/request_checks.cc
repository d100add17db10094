#include "metastore/request_checks.h"

#include <algorithm>
#include <set>
#include <string>

namespace ks::metastore {

namespace {

Status empty_key() { return Status(Errc::invalid_argument, "key is not provided"); }

Status too_large(std::size_t bytes) {
  return Status(Errc::limit_exceeded, "request is too large (" + std::to_string(bytes) + " bytes > " +
                                          std::to_string(kMaxRequestBytes) + ")");
}

std::size_t op_bytes(const Op& op) {
  return op.key.size() + op.range_end.size() + op.value.size() + kOpOverheadBytes;
}

Status check_branch(const std::vector<Op>& ops) {
  std::set<std::string_view> puts;
  for (const Op& op : ops) {
    if (op.key.empty()) return empty_key();
  }
  for (const Op& op : ops) {
    if (op.type != Op::Type::put) continue;
    if (!puts.insert(op.key).second) {
      return Status(Errc::invalid_argument, "duplicate key given in txn request: " + op.key);
    }
    for (const Op& del : ops) {
      if (del.type == Op::Type::delete_range && key_in_range(op.key, del.key, del.range_end)) {
        return Status(Errc::invalid_argument, "duplicate key given in txn request: " + op.key);
      }
    }
  }
  return {};
}

}  // namespace

bool key_in_range(std::string_view key, std::string_view start, std::string_view end) {
  if (end.empty()) return key == start;
  if (end.size() == 1 && end[0] == '\0') return key >= start;
  return key >= start && key < end;
}

std::size_t approx_put_bytes(std::string_view key, std::string_view value) {
  return key.size() + value.size() + kOpOverheadBytes;
}

std::size_t approx_txn_bytes(const TxnRequest& req) {
  std::size_t n = kOpOverheadBytes;
  for (const Compare& c : req.compare) n += c.key.size() + c.value.size() + kOpOverheadBytes;
  for (const Op& op : req.success) n += op_bytes(op);
  for (const Op& op : req.failure) n += op_bytes(op);
  return n;
}

Status check_range(const RangeRequest& req) {
  if (req.key.empty()) return empty_key();
  return {};
}

Status check_put(std::string_view key, std::string_view value) {
  if (key.empty()) return empty_key();
  std::size_t bytes = approx_put_bytes(key, value);
  if (bytes > kMaxRequestBytes) return too_large(bytes);
  return {};
}

Status check_delete(std::string_view key) {
  if (key.empty()) return empty_key();
  return {};
}

Status check_txn(const TxnRequest& req) {
  std::size_t ops = std::max({req.compare.size(), req.success.size(), req.failure.size()});
  if (ops > kMaxTxnOps) {
    return Status(Errc::limit_exceeded, "too many operations in txn request (" + std::to_string(ops) + " > " +
                                            std::to_string(kMaxTxnOps) + ")");
  }
  std::size_t bytes = approx_txn_bytes(req);
  if (bytes > kMaxRequestBytes) return too_large(bytes);
  for (const Compare& c : req.compare) {
    if (c.key.empty()) return empty_key();
  }
  if (Status s = check_branch(req.success); !s.ok()) return s;
  return check_branch(req.failure);
}

}  // namespace ks::metastore
