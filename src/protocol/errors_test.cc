#include "protocol/errors.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace ks::protocol {
namespace {

TEST(Errors, KnownEntries) {
  EXPECT_EQ(to_int(ErrorCode::kUnsupportedVersion), 35);
  EXPECT_EQ(to_int(ErrorCode::kInvalidRecord), 87);
  EXPECT_EQ(to_int(ErrorCode::kTransactionAbortable), 120);
  EXPECT_EQ(error_name(ErrorCode::kUnknownTopicOrPartition), "UNKNOWN_TOPIC_OR_PARTITION");
  EXPECT_EQ(error_name(ErrorCode::kUnknownServerError), "UNKNOWN_SERVER_ERROR");
  EXPECT_EQ(error_name(ErrorCode::kNone), "NONE");
  EXPECT_EQ(error_name(ErrorCode::kVoterNotFound), "VOTER_NOT_FOUND");
  EXPECT_EQ(error_name(static_cast<ErrorCode>(30000)), "UNKNOWN_ERROR_CODE");
  EXPECT_TRUE(is_retriable(ErrorCode::kNotLeaderOrFollower));
  EXPECT_TRUE(is_retriable(ErrorCode::kUnknownTopicOrPartition));
  EXPECT_TRUE(is_retriable(ErrorCode::kKafkaStorageError));
  EXPECT_TRUE(is_retriable(ErrorCode::kInvalidShareSessionEpoch));
  EXPECT_FALSE(is_retriable(ErrorCode::kNone));
  EXPECT_FALSE(is_retriable(ErrorCode::kTopicAlreadyExists));
  EXPECT_FALSE(is_retriable(ErrorCode::kUnknownServerError));
  EXPECT_FALSE(is_retriable(static_cast<ErrorCode>(30000)));
}

// Every code from -1 to 128 is declared once, with a name of its own.
TEST(Errors, TableIsCompleteAndUnique) {
  std::set<std::string_view> names;
  for (int code = -1; code <= 128; ++code) {
    auto name = error_name(static_cast<ErrorCode>(code));
    EXPECT_NE(name, "UNKNOWN_ERROR_CODE") << code;
    EXPECT_TRUE(names.insert(name).second) << name;
  }
  EXPECT_EQ(error_name(static_cast<ErrorCode>(129)), "UNKNOWN_ERROR_CODE");
}

}  // namespace
}  // namespace ks::protocol
