#include "coordinator/topic_regex.h"

#include <gtest/gtest.h>

namespace ks::coordinator {
namespace {

bool matches(std::string_view pattern, std::string_view s) {
  std::string why;
  auto re = TopicRegex::compile(pattern, why);
  EXPECT_TRUE(re.has_value()) << pattern << ": " << why;
  return re && re->full_match(s);
}

bool invalid(std::string_view pattern) {
  std::string why;
  auto re = TopicRegex::compile(pattern, why);
  if (!re) {
    EXPECT_FALSE(why.empty());
  }
  return !re.has_value();
}

TEST(TopicRegex, FullMatchOfTopicNames) {
  EXPECT_TRUE(matches("orders.*", "orders-eu"));
  EXPECT_TRUE(matches("orders.*", "orders"));
  EXPECT_FALSE(matches("orders", "orders-eu"));  // a full match, like Kafka's matches()
  EXPECT_TRUE(matches("^orders-(eu|us)$", "orders-us"));
  EXPECT_FALSE(matches("orders-(eu|us)", "orders-asia"));
  EXPECT_TRUE(matches("t[0-9]+", "t42"));
  EXPECT_FALSE(matches("t[0-9]+", "t"));
  EXPECT_TRUE(matches("t[^a-z]?", "t"));
  EXPECT_TRUE(matches("a\\.b", "a.b"));
  EXPECT_FALSE(matches("a\\.b", "axb"));
  EXPECT_TRUE(matches("\\w+_\\d{2,3}", "log_123"));
  EXPECT_FALSE(matches("\\w+_\\d{2,3}", "log_1234"));
  EXPECT_TRUE(matches("(?:ab)*c", "ababc"));
  EXPECT_TRUE(matches("x{0}y", "y"));
  EXPECT_TRUE(matches("a{2,}", "aaaa"));
  EXPECT_FALSE(matches("a{2,}", "a"));
  EXPECT_TRUE(matches("", ""));
  EXPECT_TRUE(matches("a|", ""));
  // librdkafka's form: each subscribed regex in parentheses, joined by |.
  EXPECT_TRUE(matches("(^orders-.*)|(^audit$)", "orders-eu"));
  EXPECT_TRUE(matches("(^orders-.*)|(^audit$)", "audit"));
  EXPECT_FALSE(matches("(^orders-.*)|(^audit$)", "audit2"));
  EXPECT_FALSE(matches("a^b", "ab"));  // ^ inside can never hold
  EXPECT_FALSE(matches("a$b", "ab"));
}

TEST(TopicRegex, RefusesWhatItDoesNotSupport) {
  EXPECT_TRUE(invalid("("));
  EXPECT_TRUE(invalid("a)"));
  EXPECT_TRUE(invalid("[a-"));
  EXPECT_TRUE(invalid("*a"));
  EXPECT_TRUE(invalid("a**"));
  EXPECT_TRUE(invalid("(a)\\1"));   // backreference
  EXPECT_TRUE(invalid("(?=a)"));    // lookahead
  EXPECT_TRUE(invalid("(?i)abc"));  // flags
  EXPECT_TRUE(invalid("a{3,1}"));
  EXPECT_TRUE(invalid("a{1000}"));  // over kMaxRepeat
  EXPECT_TRUE(invalid("\\"));
  EXPECT_TRUE(invalid(std::string(TopicRegex::kMaxPatternBytes + 1, 'a')));
  // Nested repetition that would expand past the program bound.
  EXPECT_TRUE(invalid("((((a{100}){100}){100}){100})"));
  EXPECT_TRUE(invalid(std::string(200, '(') + std::string(200, ')')));
}

TEST(TopicRegex, PathologicalPatternsStayLinear) {
  // Exponential for a backtracking engine; linear here.
  std::string p;
  for (int i = 0; i < 30; ++i) p += "a?";
  for (int i = 0; i < 30; ++i) p += "a";
  EXPECT_TRUE(matches(p, std::string(30, 'a')));
  EXPECT_FALSE(matches("(a+)+b", std::string(200, 'a')));
  EXPECT_FALSE(matches("(a|aa)*c", std::string(249, 'a')));
}

}  // namespace
}  // namespace ks::coordinator
