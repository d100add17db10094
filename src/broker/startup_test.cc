#include "broker/startup.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "broker/nospace_store.h"
#include "metastore/embedded_store.h"
#include "metastore/fault_store.h"
#include "objstore/fault_store.h"
#include "objstore/local_store.h"

namespace ks::broker {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

class StartupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ks_startup_XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto local = objstore::LocalObjectStore::open(dir_ + "/objects");
    ASSERT_TRUE(local.ok());
    objects_ = std::make_shared<objstore::FaultObjectStore>(
        std::shared_ptr<objstore::ObjectStore>(std::move(*local)));
    auto m = metastore::EmbeddedMetadataStore::open(dir_ + "/meta");
    ASSERT_TRUE(m.ok());
    meta_ = std::make_shared<metastore::FaultMetadataStore>(
        std::shared_ptr<metastore::MetadataStore>(std::move(*m)));
    cfg_ = default_config();
    cfg_.object_store = "s3://bucket/prefix";
    cfg_.metadata = "etcd://127.0.0.1:2379/p";
    cfg_.startup_timeout = 10s;
    options_.timeout = cfg_.startup_timeout;
    options_.sleep = [this](std::chrono::milliseconds d) { slept_.push_back(d); };
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  StoreOpeners openers() {
    return StoreOpeners{[this]() -> Result<std::shared_ptr<objstore::ObjectStore>> {
                          ++object_opens_;
                          if (object_open_failures_ > 0) {
                            --object_open_failures_;
                            return Status(object_open_error_, "bucket not there yet");
                          }
                          return std::shared_ptr<objstore::ObjectStore>(objects_);
                        },
                        [this]() -> Result<std::shared_ptr<metastore::MetadataStore>> {
                          ++meta_opens_;
                          if (meta_open_failures_ > 0) {
                            --meta_open_failures_;
                            return Status(Errc::unavailable, "etcd: connection refused");
                          }
                          return std::shared_ptr<metastore::MetadataStore>(meta_);
                        }};
  }

  std::string dir_;
  std::shared_ptr<objstore::FaultObjectStore> objects_;
  std::shared_ptr<metastore::FaultMetadataStore> meta_;
  Config cfg_;
  StartupOptions options_;
  std::vector<std::chrono::milliseconds> slept_;
  int object_opens_ = 0, meta_opens_ = 0;
  int object_open_failures_ = 0, meta_open_failures_ = 0;
  Errc object_open_error_ = Errc::unavailable;
};

TEST_F(StartupTest, SucceedsAtOnceAndLeavesNoProbeObject) {
  auto out = open_stores_at_startup(cfg_, openers(), options_);
  ASSERT_TRUE(out.stores.has_value()) << out.message;
  EXPECT_EQ(out.stores->objects, objects_);
  EXPECT_EQ(out.stores->metadata, meta_);
  EXPECT_TRUE(slept_.empty());
  using Op = objstore::FaultObjectStore::Op;
  EXPECT_EQ(objects_->calls(Op::put), 1u);
  EXPECT_EQ(objects_->calls(Op::get), 1u);
  EXPECT_EQ(objects_->calls(Op::remove), 1u);
  auto left = objects_->list("");
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->empty());
}

TEST_F(StartupTest, RetriesWithGrowingBackoffUntilTheDependenciesAnswer) {
  object_open_failures_ = 2;
  objects_->fail_next(objstore::FaultObjectStore::Op::put, 2,
                      Errc::unavailable);  // bucket read-only for a while
  meta_open_failures_ = 1;
  meta_->fail_next(metastore::StoreMethod::range, 1, Errc::unavailable);
  auto out = open_stores_at_startup(cfg_, openers(), options_);
  ASSERT_TRUE(out.stores.has_value()) << out.message;
  EXPECT_EQ(object_opens_, 3);  // an opened store is kept: only the probe is retried
  EXPECT_EQ(meta_opens_, 2);
  ASSERT_EQ(slept_.size(), 6u);
  EXPECT_EQ(slept_[0], 200ms);
  EXPECT_EQ(slept_[1], 400ms);
  EXPECT_EQ(slept_[2], 800ms);
  EXPECT_EQ(slept_[3], 1600ms);
}

TEST_F(StartupTest, GivesUpAtTheDeadlineWithExitCode1NamingTheSetting) {
  cfg_.startup_timeout = options_.timeout = 300ms;
  options_.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  objects_->set_unavailable(true);
  auto out = open_stores_at_startup(cfg_, openers(), options_);
  EXPECT_FALSE(out.stores.has_value());
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.message, HasSubstr("object-store 's3://bucket/prefix' is not usable"));
  EXPECT_THAT(out.message, HasSubstr("startup-timeout-ms = 300"));
  EXPECT_THAT(out.message, HasSubstr("writing probe object health/startup-probe-auto-"));
  EXPECT_THAT(out.message, HasSubstr("AWS_* credentials"));

  objects_->set_unavailable(false);
  meta_->set_unavailable(true);
  out = open_stores_at_startup(cfg_, openers(), options_);
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.message, HasSubstr("metadata 'etcd://127.0.0.1:2379/p' is not usable"));
}

TEST_F(StartupTest, BadSettingExits2WithoutRetrying) {
  object_open_failures_ = 100;
  object_open_error_ = Errc::invalid_argument;
  auto out = open_stores_at_startup(cfg_, openers(), options_);
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_EQ(object_opens_, 1);
  EXPECT_TRUE(slept_.empty());
  EXPECT_THAT(out.message, HasSubstr("object-store 's3://bucket/prefix': bucket not there yet"));
}

TEST_F(StartupTest, ZeroTimeoutTriesOnce) {
  cfg_.startup_timeout = options_.timeout = 0ms;
  meta_open_failures_ = 1;
  auto out = open_stores_at_startup(cfg_, openers(), options_);
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_EQ(meta_opens_, 1);
  EXPECT_THAT(out.message, HasSubstr("(1 attempt within"));
}

TEST_F(StartupTest, ProbeDetectsAStoreThatLosesWrites) {
  // A store whose reads return other bytes than were written is not usable.
  class Liar final : public objstore::ObjectStore {
   public:
    Status put(std::string_view, std::string_view) override { return {}; }
    Result<std::string> get(std::string_view, std::optional<objstore::ByteRange>) override {
      return std::string("old");
    }
    Result<std::vector<objstore::ObjectInfo>> list(std::string_view) override {
      return std::vector<objstore::ObjectInfo>{};
    }
    Status remove(std::string_view) override { return {}; }
    std::string describe() const override { return "liar"; }
  } liar;
  Status s = probe_object_store(liar, "health/p");
  EXPECT_EQ(s.code(), Errc::corrupt);
  EXPECT_THAT(s.message(), HasSubstr("differ"));
}

TEST(NospaceStoreTest, LogsTheOperatorsInstructionsOnceAndTheRecovery) {
  char tmpl[] = "/tmp/ks_nospace_XXXXXX";
  std::string dir = mkdtemp(tmpl);
  auto m = metastore::EmbeddedMetadataStore::open(dir + "/meta");
  ASSERT_TRUE(m.ok());
  auto fault = std::make_shared<metastore::FaultMetadataStore>(
      std::shared_ptr<metastore::MetadataStore>(std::move(*m)));
  std::vector<std::pair<bool, std::string>> lines;
  auto store =
      log_nospace(fault, 1h, [&](bool error, const std::string& line) { lines.emplace_back(error, line); });

  fault->fail_next(metastore::StoreMethod::put, 3, Errc::nospace);
  fault->fail_next(metastore::StoreMethod::txn, 1, Errc::nospace);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(store->put("/k", "v").code(), Errc::nospace);
  EXPECT_EQ(store->txn(metastore::TxnRequest{}).code(), Errc::nospace);
  ASSERT_EQ(lines.size(), 1u);  // one line per episode (and per hour while it lasts)
  EXPECT_TRUE(lines[0].first);
  for (const char* want : {"NOSPACE", "etcdctl compaction", "etcdctl defrag", "etcdctl alarm disarm",
                           "--quota-backend-bytes", "retriable"}) {
    EXPECT_THAT(lines[0].second, HasSubstr(want));
  }
  metastore::RangeRequest read;
  read.key = "/k";
  EXPECT_TRUE(store->range(read).ok());  // reads do not end the episode
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(store->put("/k", "v").ok());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_FALSE(lines[1].first);
  EXPECT_THAT(lines[1].second, HasSubstr("after 4 were refused"));
  // A new episode logs again.
  fault->fail_next(metastore::StoreMethod::delete_range, 1, Errc::nospace);
  EXPECT_EQ(store->delete_range("/k").code(), Errc::nospace);
  EXPECT_EQ(lines.size(), 3u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ks::broker
