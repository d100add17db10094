// A linear-time regular expression for KIP-848 topic subscriptions
// (SubscribedTopicRegex). Kafka compiles these with RE2J; we do not link RE2,
// so this is a small Thompson-NFA engine over the RE2 subset topic patterns
// use: literals, `.`, classes `[a-z_]` / `[^...]`, escapes (`\.` `\d` `\w`
// `\s` and escaped metacharacters), groups `(...)` / `(?:...)`, `|`, `*`
// `+` `?` and bounded repetition `{m}` `{m,}` `{m,n}`, anchors `^` `$`
// (librdkafka sends its subscriptions as `(^a.*)|(^b)`). Matching is a full match of the topic name (as
// Kafka's `matcher.matches()`), in time O(name length x program size): no backtracking, so no pattern can
// blow up. Anything else (backreferences, lookaround, flags) is refused as invalid. Every size is bounded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ks::coordinator {

class TopicRegex {
 public:
  static constexpr std::size_t kMaxPatternBytes = 1024;
  static constexpr std::size_t kMaxProgramSize = 8192;  // NFA states after expanding {m,n}
  static constexpr int kMaxRepeat = 100;                // largest m or n in {m,n}
  static constexpr int kMaxNesting = 64;                // group nesting

  // nullopt and `error` set when the pattern is invalid or over a bound.
  static std::optional<TopicRegex> compile(std::string_view pattern, std::string& error);

  bool full_match(std::string_view s) const;
  const std::string& pattern() const { return pattern_; }

  struct State {
    enum Kind : std::uint8_t { kChar, kAny, kClass, kSplit, kJump, kBegin, kEnd, kMatch };
    Kind kind = kMatch;
    bool negate = false;
    unsigned char c = 0;
    std::uint32_t cls = 0;  // index into classes_ (kClass)
    std::int32_t x = -1;    // next (kChar, kAny, kClass, kJump) or first branch (kSplit)
    std::int32_t y = -1;    // second branch (kSplit)
  };

 private:
  friend class RegexCompiler;
  std::string pattern_;
  std::vector<State> prog_;
  std::vector<std::vector<bool>> classes_;  // 256 entries each
  std::int32_t start_ = 0;
};

}  // namespace ks::coordinator
