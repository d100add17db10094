// A linear-time regular expression (a Thompson NFA run as a Pike VM): KIP-848 topic subscriptions
// (SubscribedTopicRegex; Kafka compiles these with RE2J) and ssl.principal.mapping.rules (Kafka:
// java.util.regex). We do not link RE2; std::regex backtracks, so a rule like `(.*)*x` or `.**` could stall
// the event loop on one certificate subject. The syntax is the RE2 subset these use: literals, `.`, classes
// `[a-z_]` / `[^...]`, escapes (`\.` `\d` `\w` `\s` and escaped metacharacters), groups `(...)` (numbered
// from 1 by their `(`) and
// `(?:...)`, `|`, `*` `+` `?` and bounded repetition `{m}` `{m,}` `{m,n}`, each greedy or lazy (`*?`; a
// possessive `*+` is taken as greedy), anchors `^` `$` (librdkafka sends its subscriptions as `(^a.*)|(^b)`).
// Matching is a full match (as Java's `matcher.matches()`), in time O(length x program size x groups): no
// backtracking, so no pattern can blow up; the groups are those a backtracking engine would report (the
// highest-priority full match). Anything else (backreferences, lookaround, flags) is refused as invalid.
// Every size is bounded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ks {

class Regex {
 public:
  static constexpr std::size_t kMaxPatternBytes = 1024;
  static constexpr std::size_t kMaxProgramSize = 8192;  // NFA states after expanding {m,n}
  static constexpr int kMaxRepeat = 100;                // largest m or n in {m,n}
  static constexpr int kMaxNesting = 64;                // group nesting
  static constexpr int kMaxGroups = 32;                 // capturing groups

  // nullopt and `error` set when the pattern is invalid or over a bound.
  static std::optional<Regex> compile(std::string_view pattern, std::string& error);

  bool full_match(std::string_view s) const;
  // The groups of a full match of `s` (index 0: the whole of `s`; unset: a group that took no part), or
  // nullopt when `s` does not match.
  std::optional<std::vector<std::optional<std::string_view>>> full_match_groups(std::string_view s) const;
  // Capturing groups, not counting group 0.
  int groups() const { return groups_; }
  const std::string& pattern() const { return pattern_; }

  struct State {
    enum Kind : std::uint8_t { kChar, kAny, kClass, kSplit, kJump, kBegin, kEnd, kSave, kMatch };
    Kind kind = kMatch;
    bool negate = false;
    unsigned char c = 0;
    std::uint32_t cls = 0;  // index into classes_ (kClass); capture slot (kSave: 2 x group, + 1 at its end)
    std::int32_t x = -1;    // next (kChar, kAny, kClass, kJump, kSave) or first branch (kSplit)
    std::int32_t y = -1;    // second branch (kSplit)
  };

 private:
  friend class RegexCompiler;
  // Whether state `st` reads the byte `c` (kChar, kAny, kClass; false for the others).
  bool reads(const State& st, unsigned char c) const;
  // The Pike VM: the capture slots (`slots` of them, 0: none kept) of the highest-priority full match.
  std::optional<std::vector<int>> run(std::string_view s, std::size_t slots) const;
  std::string pattern_;
  std::vector<State> prog_;
  std::vector<std::vector<bool>> classes_;  // 256 entries each
  std::int32_t start_ = 0;
  int groups_ = 0;
};

}  // namespace ks
