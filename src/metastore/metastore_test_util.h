// Test helpers shared by the metastore test files (temp dirs, watch recorder).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "metastore/embedded_store.h"
#include "metastore/metadata_store.h"

namespace ks::metastore::testing {

// A fresh directory under the temporary directory ($TMPDIR, else /tmp), removed with its contents.
class TempDir {
 public:
  TempDir() {
    std::error_code ec;
    std::filesystem::path base = std::filesystem::temp_directory_path(ec);
    if (ec) base = "/tmp";
    std::string tmpl = (base / "ks-meta-XXXXXX").string();
    if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// An embedded store in a fresh temp dir that is removed when the store dies (nullptr + a test failure if it
// cannot be opened).
inline std::shared_ptr<EmbeddedMetadataStore> temp_embedded_store() {
  auto dir = std::make_shared<TempDir>();
  auto store = EmbeddedMetadataStore::open(dir->path());
  if (!store.ok()) {
    ADD_FAILURE() << store.status().to_string();
    return nullptr;
  }
  return std::shared_ptr<EmbeddedMetadataStore>(store->release(),
                                                [dir](EmbeddedMetadataStore* s) { delete s; });
}

// Collects watch callbacks; tests wait on it with a deadline. Must outlive the
// Watch it records (declare it first).
class WatchRecorder {
 public:
  WatchCallback callback() {
    return [this](const std::vector<WatchEvent>& events, const Status& status) {
      std::lock_guard l(mu_);
      ++calls_;
      events_.insert(events_.end(), events.begin(), events.end());
      if (!status.ok()) end_ = status;
      cv_.notify_all();
    };
  }

  // True once at least `n` events arrived (false at the deadline).
  bool wait_events(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock l(mu_);
    return cv_.wait_for(l, timeout, [&] { return events_.size() >= n; });
  }
  // The final status, once the watch ended (nullopt at the deadline).
  std::optional<Status> wait_end(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock l(mu_);
    cv_.wait_for(l, timeout, [&] { return end_.has_value(); });
    return end_;
  }
  std::vector<WatchEvent> events() const {
    std::lock_guard l(mu_);
    return events_;
  }
  std::size_t calls() const {
    std::lock_guard l(mu_);
    return calls_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<WatchEvent> events_;
  std::optional<Status> end_;
  std::size_t calls_ = 0;
};

}  // namespace ks::metastore::testing
