// Helpers shared by the objstore tests (header-only; not part of the library API).
#pragma once

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "objstore/local_store.h"

namespace ks::objstore::testing {

// A fresh directory under the temporary directory ($TMPDIR, else /tmp); empty string on failure.
inline std::string make_temp_dir() {
  std::error_code ec;
  std::filesystem::path base = std::filesystem::temp_directory_path(ec);
  if (ec) base = "/tmp";
  std::string tmpl = (base / "ks_objstore_XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) return {};
  return tmpl;
}

// A LocalObjectStore in a fresh temp directory that is deleted with the store.
inline std::shared_ptr<LocalObjectStore> make_temp_local_store() {
  std::string dir = make_temp_dir();
  if (dir.empty()) return nullptr;
  auto opened = LocalObjectStore::open(dir + "/root");
  if (!opened.ok()) return nullptr;
  return std::shared_ptr<LocalObjectStore>(std::move(*opened).release(), [dir](LocalObjectStore* s) {
    delete s;
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  });
}

// Polls `pred` until true or `timeout` passes; returns the last value.
inline bool wait_until(const std::function<bool()>& pred,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace ks::objstore::testing
