// ssl.principal.mapping.rules: the principal name of a client certificate's
// subject DN (RFC 2253 form, "CN=alice,OU=ops,O=Example"), as Kafka's
// SslPrincipalMapper computes it.
//
// Rules, separated by commas or newlines, tried in order; the first that
// applies gives the name:
//   DEFAULT                     the whole DN
//   RULE:pattern/replacement/   when the pattern matches the whole DN: the DN
//                               with every match replaced ($1... name groups)
//   RULE:pattern/replacement/L  the same, lower case (U: upper case)
// In pattern and replacement a backslash escapes the next character ("\/" is
// a slash). No rule applies: the connection is refused (Kafka fails the SSL
// authentication). Patterns are common/regex.h expressions (linear time: no
// rule can stall the loop on a crafted subject); what Kafka's rules use
// (groups, classes, anchors, greedy and lazy quantifiers) means the same as in
// java.util.regex. The replacement takes `$n` (group n of the whole-DN match)
// and `\c` (the character c), as Java's; a `$` not followed by the number of a
// group is refused at start. Kafka replaces every match the pattern finds in
// the DN; here the replacement is applied once, to the whole-DN match, which
// is the same for rules anchored with ^...$ as Kafka's documentation writes
// them.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/regex.h"
#include "common/status.h"

namespace ks::security {

class SslPrincipalMapper {
 public:
  // invalid_argument naming the rule that is malformed.
  static Result<SslPrincipalMapper> parse(std::string_view rules);

  // The name for `dn` (without "User:"); not_found when no rule applies.
  Result<std::string> name(const std::string& dn) const;

  // Only DEFAULT: the whole DN (Kafka's default).
  bool is_default() const { return rules_.size() == 1 && rules_[0].is_default; }

  // One rule as parsed (public for the parser's helpers).
  struct Rule {
    bool is_default = false;
    std::string pattern_text;
    std::optional<Regex> pattern;
    // The replacement: literal text, and group numbers (>= 0) where a group's text goes.
    struct Piece {
      std::string text;
      int group = -1;
    };
    std::vector<Piece> replacement;
    char to_case = 0;  // 'L', 'U' or 0
  };

 private:
  std::vector<Rule> rules_;
};

}  // namespace ks::security
