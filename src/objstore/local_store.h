// LocalObjectStore: objects as files under a root directory ("a/b/c" is the
// file root/a/b/c). Used for `make run`, tests and single-node deployments.
//
// Crash safety: put writes a temp file in root/.tmp/, fsyncs it, creates and
// fsyncs missing parent directories, renames it into place and fsyncs the
// target directory. A crash at any instant leaves either the old state or the
// whole new object; leftover temp files are deleted by open().
//
// One process per root: open() deletes every file in root/.tmp/, including
// those of puts in flight in another open instance on the same root.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "objstore/object_store.h"

namespace ks::objstore {

class LocalObjectStore final : public ObjectStore {
 public:
  // Creates `root` (and its parents) if missing and deletes stale temp files.
  static Result<std::unique_ptr<LocalObjectStore>> open(std::string root);

  ~LocalObjectStore() override;
  LocalObjectStore(const LocalObjectStore&) = delete;
  LocalObjectStore& operator=(const LocalObjectStore&) = delete;

  // Keys whose first segment is ".tmp" are rejected (invalid_argument): that
  // directory holds in-progress writes. A key that would need an existing
  // object to be a directory (or vice versa, "a" vs "a/b") is also rejected
  // with invalid_argument; S3 allows both, our key layouts never need it.
  Status put(std::string_view key, std::string_view data) override;
  Result<std::string> get(std::string_view key, std::optional<ByteRange> range = std::nullopt) override;
  Result<std::vector<ObjectInfo>> list(std::string_view prefix) override;
  Status remove(std::string_view key) override;
  std::string describe() const override;  // "file://<absolute root>"

  const std::string& root() const { return root_; }

  // Larger objects are refused (limit_exceeded): whole-object gets return one
  // std::string, and 5 GiB is also the S3 single-PUT maximum.
  static constexpr std::uint64_t kMaxObjectSize = 5ull << 30;
  // list() fails with limit_exceeded beyond this many results, so one call
  // cannot grow without bound; callers list narrower prefixes.
  static constexpr std::size_t kMaxListResults = 1'000'000;

 private:
  LocalObjectStore(std::string root, int root_fd, int tmp_fd);

  Status ensure_parent_dirs(std::string_view key);
  void forget_dirs();
  Status fsync_dir(std::string_view dir);
  Status list_dir(int dir_fd, std::string rel, std::string_view prefix, std::vector<ObjectInfo>& out);

  const std::string root_;
  const int root_fd_;
  const int tmp_fd_;  // root/.tmp

  // Directories known to exist with a durable entry in their parent, so puts
  // skip mkdir+fsync for them. Bounded: cleared when full (costs only fsyncs).
  static constexpr std::size_t kMaxKnownDirs = 100'000;
  std::mutex dirs_mu_;
  std::unordered_set<std::string> known_dirs_;
};

}  // namespace ks::objstore
