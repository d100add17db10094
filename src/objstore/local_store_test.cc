#include "objstore/local_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "objstore/test_util.h"

#define KS_OBJSTORE_CONFORMANCE_SUITE LocalStoreConformance
#include "objstore/object_store_conformance.h"

namespace ks::objstore {

INSTANTIATE_TEST_SUITE_P(Local, LocalStoreConformance,
                         ::testing::Values(StoreFactory{
                             "local",
                             [] { return std::shared_ptr<ObjectStore>(testing::make_temp_local_store()); }}),
                         StoreFactoryName);

namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_file(const fs::path& p, std::string_view data) {
  std::ofstream out(p, std::ios::binary);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

std::size_t count_entries(const fs::path& dir) {
  return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

class LocalStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::make_temp_dir();
    ASSERT_FALSE(dir_.empty());
    root_ = dir_ + "/store";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::unique_ptr<LocalObjectStore> open_store() {
    auto r = LocalObjectStore::open(root_);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.status().to_string());
    return r.ok() ? std::move(*r) : nullptr;
  }

  std::string dir_;
  std::string root_;
};

TEST_F(LocalStoreTest, OpenCreatesNestedRootAndDescribes) {
  root_ = dir_ + "/x/y/z/";
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(fs::is_directory(dir_ + "/x/y/z"));
  EXPECT_TRUE(fs::is_directory(dir_ + "/x/y/z/.tmp"));
  EXPECT_EQ(store->root(), dir_ + "/x/y/z");
  EXPECT_EQ(store->describe(), "file://" + dir_ + "/x/y/z");
}

TEST_F(LocalStoreTest, OpenRejectsBadRoots) {
  EXPECT_EQ(LocalObjectStore::open("").code(), Errc::invalid_argument);
  write_file(dir_ + "/file", "x");
  EXPECT_EQ(LocalObjectStore::open(dir_ + "/file").code(), Errc::io_error);
  EXPECT_EQ(LocalObjectStore::open(dir_ + "/file/sub").code(), Errc::io_error);
  fs::create_directories(dir_ + "/badtmp");
  write_file(dir_ + "/badtmp/.tmp", "not a directory");
  auto r = LocalObjectStore::open(dir_ + "/badtmp");
  ASSERT_EQ(r.code(), Errc::io_error);
  EXPECT_NE(r.status().message().find("Not a directory"), std::string::npos) << r.status().message();
}

TEST_F(LocalStoreTest, ObjectsAreFilesAtTheirKeyPath) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->put("a/b/c", std::string("hello\0world", 11)).ok());
  EXPECT_EQ(read_file(root_ + "/a/b/c"), std::string("hello\0world", 11));
  EXPECT_EQ(count_entries(root_ + "/.tmp"), 0u);  // the temp file was renamed away
}

TEST_F(LocalStoreTest, ObjectsPersistAcrossReopen) {
  {
    auto store = open_store();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->put("p/1", "one").ok());
  }
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  auto r = store->get("p/1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "one");
}

TEST_F(LocalStoreTest, StaleTempFilesIgnoredByListAndRemovedOnOpen) {
  {
    auto store = open_store();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->put("k", "v").ok());
    write_file(root_ + "/.tmp/123.4", "partial");
    write_file(root_ + "/.tmp/other", "partial");
    auto listed = store->list("");
    ASSERT_TRUE(listed.ok());
    ASSERT_EQ(listed->size(), 1u);
    EXPECT_EQ((*listed)[0].key, "k");
    EXPECT_TRUE(store->list(".tmp").ok());
    EXPECT_TRUE(store->list(".tmp")->empty());
    EXPECT_TRUE(store->list(".tmp/")->empty());
  }
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(count_entries(root_ + "/.tmp"), 0u);
  EXPECT_TRUE(store->get("k").ok());
}

TEST_F(LocalStoreTest, TmpKeysRejected) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->put(".tmp", "x").code(), Errc::invalid_argument);
  EXPECT_EQ(store->put(".tmp/x", "x").code(), Errc::invalid_argument);
  EXPECT_EQ(store->get(".tmp/x").code(), Errc::invalid_argument);
  EXPECT_EQ(store->remove(".tmp/x").code(), Errc::invalid_argument);
  ASSERT_TRUE(store->put(".tmpx", "ok").ok());  // only the exact segment is reserved
  ASSERT_TRUE(store->put("a/.tmp/b", "ok").ok());
  auto listed = store->list("");
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 2u);
}

TEST_F(LocalStoreTest, ForeignFilesAndSymlinksNotListed) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->put("d/ok", "1").ok());
  write_file(root_ + "/d/bad name", "x");
  fs::create_symlink(root_ + "/d/ok", root_ + "/d/link");
  auto listed = store->list("d/");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].key, "d/ok");
  EXPECT_EQ(store->get("d/link").code(), Errc::not_found);  // symlinks are not objects
}

TEST_F(LocalStoreTest, FileDirectoryConflictsAreErrorsNotCrashes) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->put("a", "file").ok());
  EXPECT_EQ(store->put("a/b", "x").code(), Errc::invalid_argument);
  EXPECT_EQ(store->put("a/b/c", "x").code(), Errc::invalid_argument);
  ASSERT_TRUE(store->put("d/e", "nested").ok());
  EXPECT_EQ(store->put("d", "x").code(), Errc::invalid_argument);
  EXPECT_TRUE(store->remove("d").ok());  // a directory is not an object
  EXPECT_EQ(*store->get("a"), "file");
  EXPECT_EQ(*store->get("d/e"), "nested");
  EXPECT_EQ(count_entries(root_ + "/.tmp"), 0u);  // failed puts clean up their temp file
}

TEST_F(LocalStoreTest, ParentDirectoryRemovedBehindTheStoreIsRecreated) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->put("p/q/r", "1").ok());
  fs::remove_all(root_ + "/p");
  ASSERT_TRUE(store->put("p/q/s", "2").ok());
  EXPECT_EQ(*store->get("p/q/s"), "2");
}

// Puts use direct I/O through an aligned buffer of 4 MiB: sizes around the
// block and buffer boundaries come back byte for byte, with the exact size.
TEST_F(LocalStoreTest, ObjectsOfEverySizeRoundTrip) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  const std::size_t sizes[] = {0,
                               1,
                               511,
                               4095,
                               4096,
                               4097,
                               (1u << 20) + 3,
                               (4u << 20) - 1,
                               4u << 20,
                               (4u << 20) + 5,
                               (9u << 20) + 4097};
  std::uint32_t x = 12345;
  for (std::size_t size : sizes) {
    std::string data(size, '\0');
    for (auto& c : data) {
      x = x * 1664525u + 1013904223u;
      c = static_cast<char>(x >> 24);
    }
    const std::string key = "sizes/" + std::to_string(size);
    ASSERT_TRUE(store->put(key, data).ok()) << size;
    EXPECT_EQ(fs::file_size(root_ + "/" + key), size);
    auto got = store->get(key);
    ASSERT_TRUE(got.ok()) << size;
    EXPECT_TRUE(*got == data) << "object of " << size << " bytes differs";
    if (size > 5000) {
      auto part = store->get(key, ByteRange{4093, 1000});
      ASSERT_TRUE(part.ok());
      EXPECT_EQ(*part, data.substr(4093, 1000));
    }
  }
  // Replacing a larger object with a smaller one leaves no stale tail.
  ASSERT_TRUE(store->put("sizes/replace", std::string(10000, 'a')).ok());
  ASSERT_TRUE(store->put("sizes/replace", "bc").ok());
  auto got = store->get("sizes/replace");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "bc");
}

// Page-aligned data is written straight from the caller's memory (whole
// blocks), the rest through the bounce buffer: same bytes, exact size.
TEST_F(LocalStoreTest, AlignedDataRoundTrips) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  constexpr std::size_t kCap = (9u << 20) + 8192;
  void* mem = nullptr;
  ASSERT_EQ(::posix_memalign(&mem, 4096, kCap), 0);
  std::unique_ptr<char, decltype(&std::free)> hold(static_cast<char*>(mem), &std::free);
  std::uint32_t x = 777;
  for (std::size_t i = 0; i < kCap; ++i) {
    x = x * 1664525u + 1013904223u;
    hold.get()[i] = static_cast<char>(x >> 24);
  }
  const std::size_t sizes[] = {1, 4095, 4096, 4097, 8192, (4u << 20) + 1, (9u << 20) + 4097};
  for (std::size_t size : sizes) {
    const std::string_view data(hold.get(), size);
    const std::string key = "aligned/" + std::to_string(size);
    ASSERT_TRUE(store->put(key, data).ok()) << size;
    EXPECT_EQ(fs::file_size(root_ + "/" + key), size);
    auto got = store->get(key);
    ASSERT_TRUE(got.ok()) << size;
    EXPECT_TRUE(*got == data) << "object of " << size << " bytes differs";
  }
}

TEST_F(LocalStoreTest, IoErrorsCarryErrnoText) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  // A path below a regular file is simply absent (ENOTDIR is not an I/O error).
  ASSERT_TRUE(store->put("f", "x").ok());
  EXPECT_EQ(store->get("f/g").code(), Errc::not_found);
  // Permission tests do not work as root; deleting the root does (ENOENT).
  fs::remove_all(root_);
  Status st = store->put("gone", "x");
  EXPECT_EQ(st.code(), Errc::io_error);
  EXPECT_NE(st.message().find("No such file or directory"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace ks::objstore
