#include "common/regex.h"

#include <gtest/gtest.h>

namespace ks {
namespace {

bool matches(std::string_view pattern, std::string_view s) {
  std::string why;
  auto re = Regex::compile(pattern, why);
  EXPECT_TRUE(re.has_value()) << pattern << ": " << why;
  return re && re->full_match(s);
}

bool invalid(std::string_view pattern) {
  std::string why;
  auto re = Regex::compile(pattern, why);
  if (!re) {
    EXPECT_FALSE(why.empty());
  }
  return !re.has_value();
}

TEST(Regex, FullMatchOfTopicNames) {
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

TEST(Regex, RefusesWhatItDoesNotSupport) {
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
  EXPECT_TRUE(invalid(std::string(Regex::kMaxPatternBytes + 1, 'a')));
  // Nested repetition that would expand past the program bound.
  EXPECT_TRUE(invalid("((((a{100}){100}){100}){100})"));
  EXPECT_TRUE(invalid(std::string(200, '(') + std::string(200, ')')));
}

TEST(Regex, PathologicalPatternsStayLinear) {
  // Exponential for a backtracking engine; linear here.
  std::string p;
  for (int i = 0; i < 30; ++i) p += "a?";
  for (int i = 0; i < 30; ++i) p += "a";
  EXPECT_TRUE(matches(p, std::string(30, 'a')));
  EXPECT_FALSE(matches("(a+)+b", std::string(200, 'a')));
  EXPECT_FALSE(matches("(a|aa)*c", std::string(249, 'a')));
}

// The groups are those of Java's matcher.matches(): greedy takes the most, lazy the least, the first
// alternative that leads to a full match wins, a group repeated keeps its last iteration.
std::vector<std::string> groups_of(std::string_view pattern, std::string_view s) {
  std::string why;
  auto re = Regex::compile(pattern, why);
  EXPECT_TRUE(re.has_value()) << pattern << ": " << why;
  if (!re) return {};
  auto g = re->full_match_groups(s);
  if (!g) return {"<no match>"};
  std::vector<std::string> out;
  for (const auto& x : *g) out.push_back(x ? std::string(*x) : "<unset>");
  return out;
}

using Groups = std::vector<std::string>;

TEST(Regex, GroupsOfAFullMatch) {
  EXPECT_EQ(groups_of("^CN=(.*?),OU=(.*?),O=(.*)$", "CN=a,b,OU=x,O=y,OU=z"),
            (Groups{"CN=a,b,OU=x,O=y,OU=z", "a,b", "x", "y,OU=z"}));
  EXPECT_EQ(groups_of("^CN=(.*),OU=(.*)$", "CN=a,OU=b,OU=c"), (Groups{"CN=a,OU=b,OU=c", "a,OU=b", "c"}));
  EXPECT_EQ(groups_of("(a*)(a*)", "aaa"), (Groups{"aaa", "aaa", ""}));
  EXPECT_EQ(groups_of("(a*?)(a*)", "aaa"), (Groups{"aaa", "", "aaa"}));
  EXPECT_EQ(groups_of("(a+?)(a*)", "aaa"), (Groups{"aaa", "a", "aa"}));
  EXPECT_EQ(groups_of("(a?"
                      "?)(a*)",
                      "aaa"),
            (Groups{"aaa", "", "aaa"}));
  EXPECT_EQ(groups_of("(a{1,3}?)(a*)", "aaa"), (Groups{"aaa", "a", "aa"}));
  EXPECT_EQ(groups_of("(a|ab)(c|bcd)(d*)", "abcd"), (Groups{"abcd", "a", "bcd", ""}));
  EXPECT_EQ(groups_of("(?:(x)|(y))+", "xy"), (Groups{"xy", "x", "y"}));
  EXPECT_EQ(groups_of("(x)?y", "y"), (Groups{"y", "<unset>"}));
  EXPECT_EQ(groups_of("((a)(b))", "ab"), (Groups{"ab", "ab", "a", "b"}));
  EXPECT_EQ(groups_of("(ab){2}", "abab"), (Groups{"abab", "ab"}));
  EXPECT_EQ(groups_of("(a)b", "ac"), (Groups{"<no match>"}));
  EXPECT_EQ(groups_of("(a)", "ab"), (Groups{"<no match>"}));  // a full match only
  // Quantifiers on quantifiers are refused (Java: "Dangling meta character"); std::regex loops forever.
  EXPECT_TRUE(invalid(".**"));
  EXPECT_TRUE(invalid(".**?"));
  EXPECT_TRUE(invalid("a{2}*"));
  EXPECT_TRUE(invalid("a*{2}"));
  EXPECT_TRUE(invalid(std::string(40, '(') + "a" + std::string(40, ')')));  // over kMaxGroups
}

TEST(Regex, GroupsStayLinearOnPathologicalPatterns) {
  // The patterns that stall std::regex (a backtracking engine) on a certificate subject.
  const std::string dn = "CN=Duke,OU=JavaSoft,O=Sun Microsystems,L=Cupertino,ST=CA,C=US";
  EXPECT_EQ(groups_of("^(.*)*x$", dn), (Groups{"<no match>"}));
  EXPECT_EQ(groups_of("^CN=(.*)*,O=x$", dn), (Groups{"<no match>"}));
  EXPECT_EQ(groups_of("(a|aa)*c", std::string(249, 'a')), (Groups{"<no match>"}));
  EXPECT_EQ(groups_of("^CN=(.*)*,C=(US)$", dn).at(2), "US");
}

}  // namespace
}  // namespace ks
