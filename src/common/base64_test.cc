#include "common/base64.h"

#include <gtest/gtest.h>

#include <string>

namespace ks {
namespace {

TEST(Base64, RoundTripsEveryLength) {
  std::string in;
  for (int i = 0; i < 300; ++i) {
    EXPECT_EQ(base64_decode(base64_encode(in)), in) << i;
    EXPECT_EQ(base64_decode(base64_encode(in, Base64::url), Base64::url), in) << i;
    in.push_back(static_cast<char>(i * 37));
  }
}

TEST(Base64, KnownValues) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("ab"), "YWI=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode(std::string("\xfb\xff", 2)), "+/8=");
  EXPECT_EQ(base64_encode(std::string("\xfb\xff", 2), Base64::url), "-_8");
  EXPECT_EQ(base64_decode("+/8="), std::string("\xfb\xff", 2));
  EXPECT_EQ(base64_decode("-_8", Base64::url), std::string("\xfb\xff", 2));
}

TEST(Base64, RejectsMalformed) {
  EXPECT_FALSE(base64_decode("Zm9"));   // unpadded
  EXPECT_FALSE(base64_decode("Z=9v"));  // padding inside
  EXPECT_FALSE(base64_decode("YW=I"));  // data after padding
  EXPECT_FALSE(base64_decode("YW*="));  // outside the alphabet
  EXPECT_FALSE(base64_decode("YW==="));
  EXPECT_FALSE(base64_decode("A==="));
  EXPECT_FALSE(base64_decode("-_8="));  // url characters in standard
  EXPECT_FALSE(base64_decode("+/8", Base64::url));
  EXPECT_FALSE(base64_decode("YWI=", Base64::url));   // no padding in url
  EXPECT_FALSE(base64_decode("YWJjZ", Base64::url));  // a length no encoding has
}

}  // namespace
}  // namespace ks
