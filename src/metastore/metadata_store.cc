#include "metastore/metadata_store.h"

#include <utility>

namespace ks::metastore {

std::string prefix_end(const std::string& prefix) {
  // Drop trailing 0xff bytes, then increment the last byte: the smallest key
  // greater than every key with this prefix. None exists for "" or all-0xff,
  // so the range then runs to the end of the keyspace ("\0"), as in etcd.
  std::string end = prefix;
  while (!end.empty()) {
    auto last = static_cast<unsigned char>(end.back());
    if (last < 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

Op Op::put(std::string k, std::string v, LeaseId lease) {
  Op op;
  op.type = Type::put;
  op.key = std::move(k);
  op.value = std::move(v);
  op.lease = lease;
  return op;
}

namespace {

Op over_range(Op::Type type, std::string k, std::string range_end) {
  Op op;
  op.type = type;
  op.key = std::move(k);
  op.range_end = std::move(range_end);
  return op;
}

}  // namespace

Op Op::del(std::string k, std::string range_end) {
  return over_range(Type::delete_range, std::move(k), std::move(range_end));
}

Op Op::get(std::string k, std::string range_end) {
  return over_range(Type::range, std::move(k), std::move(range_end));
}

}  // namespace ks::metastore
