#include "objstore/s3_responses.h"

#include <gtest/gtest.h>

namespace ks::objstore::s3 {
namespace {

TEST(S3ResponsesTest, ListPageWithEntriesAndToken) {
  auto page = parse_list_page(
      "<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>t&amp;2</"
      "NextContinuationToken>"
      "<Contents><Key>p/a&lt;1</Key><Size>12</Size></Contents><Contents><Key>p/b</Key><Size>0</Size></"
      "Contents>"
      "</ListBucketResult>",
      10);
  ASSERT_TRUE(page.ok()) << page.status().to_string();
  ASSERT_EQ(page->entries.size(), 2u);
  EXPECT_EQ(page->entries[0].key, "p/a<1");
  EXPECT_EQ(page->entries[0].size, 12u);
  EXPECT_EQ(page->entries[1].size, 0u);
  EXPECT_TRUE(page->truncated);
  EXPECT_EQ(page->next_token, "t&2");
}

TEST(S3ResponsesTest, ListPageRefusesWhatIsMalformed) {
  EXPECT_FALSE(parse_list_page("<Contents><Key>a</Key></Contents>", 10).ok());
  EXPECT_FALSE(parse_list_page("<Contents><Key>a</Key><Size>-1</Size></Contents>", 10).ok());
  EXPECT_FALSE(parse_list_page("<Contents><Key>a</Key><Size>1x</Size></Contents>", 10).ok());
  EXPECT_FALSE(parse_list_page("<Contents><Key>a</Key><Size></Size></Contents>", 10).ok());
  EXPECT_FALSE(
      parse_list_page("<Contents><Key>a</Key><Size>99999999999999999999</Size></Contents>", 10).ok());
  auto two = "<Contents><Key>a</Key><Size>1</Size></Contents><Contents><Key>b</Key><Size>1</Size></Contents>";
  EXPECT_FALSE(parse_list_page(two, 1).ok());
  EXPECT_TRUE(parse_list_page(two, 2).ok());
  auto empty = parse_list_page("<ListBucketResult></ListBucketResult>", 10);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->entries.empty());
  EXPECT_FALSE(empty->truncated);
}

TEST(S3ResponsesTest, ErrorsUploadIdsAndKeyErrors) {
  auto e = parse_error("<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>");
  EXPECT_EQ(e.code, "NoSuchKey");
  EXPECT_EQ(e.message, "gone");
  EXPECT_EQ(parse_error("not xml").code, "");
  EXPECT_EQ(parse_upload_id("<UploadId>u1</UploadId>"), "u1");
  EXPECT_FALSE(parse_upload_id("<UploadId></UploadId>"));
  EXPECT_FALSE(parse_upload_id(""));
  auto k = parse_key_errors(
      "<DeleteResult><Error><Key>a</Key><Code>AccessDenied</Code></Error><Error><Key>b</Key></Error></"
      "DeleteResult>");
  EXPECT_EQ(k.count, 2u);
  ASSERT_TRUE(k.first);
  EXPECT_EQ(k.first->key, "a");
  EXPECT_EQ(k.first->code, "AccessDenied");
  EXPECT_EQ(parse_key_errors("<DeleteResult/>").count, 0u);
}

}  // namespace
}  // namespace ks::objstore::s3
