// A background task of the log that dies takes the process down (exit code
// 70, naming the task and why) instead of leaving producers waiting.
#include <gtest/gtest.h>

#include <filesystem>
#include <stdexcept>

#include "common/task.h"
#include "log/log_manager.h"
#include "log/log_test_util.h"
#include "metastore/embedded_store.h"
#include "objstore/local_store.h"

namespace ks::log {
namespace {

// An object store with a bug: put() throws (backends report failures as
// Status; an exception is never expected).
class ThrowingPutStore final : public objstore::ObjectStore {
 public:
  explicit ThrowingPutStore(std::shared_ptr<objstore::ObjectStore> inner) : inner_(std::move(inner)) {}
  Status put(std::string_view, std::string_view) override { throw std::logic_error("bug in put"); }
  Result<std::string> get(std::string_view key, std::optional<objstore::ByteRange> range) override {
    return inner_->get(key, range);
  }
  Result<std::vector<objstore::ObjectInfo>> list(std::string_view prefix) override {
    return inner_->list(prefix);
  }
  Status remove(std::string_view key) override { return inner_->remove(key); }
  std::string describe() const override { return "throwing"; }

 private:
  std::shared_ptr<objstore::ObjectStore> inner_;
};

// Appends one batch with the throwing store underneath and runs the loop
// for at most 10 s (returning means the process survived: a failure).
void produce_with_a_buggy_store() {
  auto dir = std::filesystem::temp_directory_path() / ("ks-tasktest-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto local = objstore::LocalObjectStore::open((dir / "objects").string());
  auto emb = metastore::EmbeddedMetadataStore::open((dir / "meta").string());
  if (!local.ok() || !emb.ok()) return;
  auto objects =
      std::make_shared<ThrowingPutStore>(std::shared_ptr<objstore::ObjectStore>(std::move(local).value()));
  std::shared_ptr<metastore::MetadataStore> meta(std::move(emb).value());
  asio::io_context io;
  asio::thread_pool pool(2);
  LogManager log(io, pool, objects, meta, LogOptions{});
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        if (!(co_await log.start()).ok()) co_return;
        auto id = co_await logtest::make_topic(log, "t", 1);
        auto t = logtest::append_batch(log, logtest::pkey(id, 0), logtest::make_batch(2, "x"));
        if (t.ok()) co_await t->done->event.wait_until(Clock::now() + std::chrono::seconds(10));
      },
      asio::detached);
  io.run_for(std::chrono::seconds(10));
}

TEST(LogTaskDeathTest, AnExceptionUnderTheWritePathExitsTheProcess) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(produce_with_a_buggy_store(), testing::ExitedWithCode(kTaskDiedExitCode),
              "died: exception: bug in put");
}

}  // namespace
}  // namespace ks::log
