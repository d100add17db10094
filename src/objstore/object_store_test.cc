#include "objstore/object_store.h"

#include <gtest/gtest.h>

#include <string>

namespace ks::objstore {
namespace {

TEST(ValidKey, AcceptsPlainKeys) {
  for (std::string_view key : {"a", "a/b/c", "objects/00000000000000000012.obj", "A-Z_a-z.0-9", "a/.hidden",
                               "a/..b", "...", "x/b..", "_/-/x"}) {
    EXPECT_TRUE(valid_key(key)) << key;
  }
  EXPECT_TRUE(valid_key(std::string(1024, 'k')));
}

TEST(ValidKey, RejectsEverythingElse) {
  for (std::string_view key :
       {"",      "/",      "/a",  "a/",   "a//b", ".",   "..",  "./a",  "../a", "a/.", "a/..",
        "a/./b", "a/../b", "a b", "a\tb", "a\\b", "a:b", "a?b", "a%20", "a+b",  "\xff"}) {
    EXPECT_FALSE(valid_key(key)) << key;
  }
  EXPECT_FALSE(valid_key(std::string("a\0b", 3)));
  EXPECT_FALSE(valid_key(std::string(1025, 'k')));
  std::string ok(1023, 'k');
  EXPECT_TRUE(valid_key(ok + "k"));
  EXPECT_FALSE(valid_key(ok + "/"));
}

}  // namespace
}  // namespace ks::objstore
