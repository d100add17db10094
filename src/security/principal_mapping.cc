#include "security/principal_mapping.h"

#include <fmt/format.h>

#include <cctype>

namespace ks::security {
namespace {

Status bad(std::string_view rule, std::string_view why) {
  return Status(Errc::invalid_argument, fmt::format("ssl.principal.mapping.rules: {} in '{}'", why, rule));
}

bool space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// Reads up to the next unescaped '/', keeping escapes as written (the regex
// and the replacement see "\/" and "\." as Kafka's do). False at the end.
bool read_part(std::string_view s, std::size_t& i, std::string& out) {
  while (i < s.size()) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      // "\/" is a slash in both; other escapes stay for the regex.
      if (s[i + 1] == '/') {
        out += '/';
      } else {
        out += s.substr(i, 2);
      }
      i += 2;
      continue;
    }
    if (s[i] == '/') {
      ++i;
      return true;
    }
    out += s[i++];
  }
  return false;
}

// Java's replacement syntax: `\c` is c, `$n` is group n (more digits while the number stays a group).
std::optional<std::string> parse_replacement(std::string_view text, int groups,
                                             std::vector<SslPrincipalMapper::Rule::Piece>& out) {
  std::string literal;
  auto flush = [&] {
    if (!literal.empty()) out.push_back({std::move(literal), -1});
    literal.clear();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\') {
      if (i + 1 >= text.size()) return "a replacement cannot end with a backslash";
      literal += text[++i];
    } else if (c == '$') {
      if (i + 1 >= text.size() || !std::isdigit(static_cast<unsigned char>(text[i + 1]))) {
        return "'$' in a replacement must be followed by a group number";
      }
      int g = text[++i] - '0';
      while (i + 1 < text.size() && std::isdigit(static_cast<unsigned char>(text[i + 1])) &&
             g * 10 + (text[i + 1] - '0') <= groups) {
        g = g * 10 + (text[++i] - '0');
      }
      if (g > groups) return fmt::format("the replacement names group {}; the pattern has {}", g, groups);
      flush();
      out.push_back({"", g});
    } else {
      literal += c;
    }
  }
  flush();
  return std::nullopt;
}

}  // namespace

Result<SslPrincipalMapper> SslPrincipalMapper::parse(std::string_view s) {
  SslPrincipalMapper m;
  std::size_t i = 0;
  // Between rules any white space, new lines included; after a rule, up to its separator, none but blanks.
  auto skip_space = [&](bool newlines) {
    while (i < s.size() && (space(s[i]) || (newlines && s[i] == '\n'))) ++i;
  };
  constexpr std::size_t kMaxRules = 100;
  while (true) {
    skip_space(true);
    if (i >= s.size()) break;
    const std::size_t start = i;
    Rule r;
    if (s.substr(i).starts_with("DEFAULT")) {
      r.is_default = true;
      i += 7;
    } else if (s.substr(i).starts_with("RULE:")) {
      i += 5;
      if (!read_part(s, i, r.pattern_text))
        return bad(s.substr(start), "a RULE needs RULE:pattern/replacement/");
      std::string replacement;
      if (!read_part(s, i, replacement))
        return bad(s.substr(start), "a RULE needs RULE:pattern/replacement/");
      if (i < s.size() && (s[i] == 'L' || s[i] == 'U')) r.to_case = s[i++];
      std::string why;
      r.pattern = Regex::compile(r.pattern_text, why);
      if (!r.pattern) {
        return bad(s.substr(start, i - start), fmt::format("invalid pattern '{}' ({})", r.pattern_text, why));
      }
      if (auto e = parse_replacement(replacement, r.pattern->groups(), r.replacement)) {
        return bad(s.substr(start, i - start), *e);
      }
    } else {
      return bad(s.substr(start), "expected DEFAULT or RULE:");
    }
    skip_space(false);
    if (i < s.size() && s[i] != ',' && s[i] != '\n') {
      return bad(s.substr(start), "expected ',' or a new line after the rule");
    }
    if (i < s.size()) ++i;
    m.rules_.push_back(std::move(r));
    if (m.rules_.size() > kMaxRules) return bad(s.substr(0, 40), "more than 100 rules");
  }
  if (m.rules_.empty()) return bad(s, "no rule");
  return m;
}

Result<std::string> SslPrincipalMapper::name(const std::string& dn) const {
  for (const Rule& r : rules_) {
    if (r.is_default) return dn;
    const auto groups = r.pattern->full_match_groups(dn);
    if (!groups) continue;
    std::string out;
    for (const auto& piece : r.replacement) {
      if (piece.group < 0) {
        out += piece.text;
      } else if (const auto& g = (*groups)[static_cast<std::size_t>(piece.group)]) {
        out += *g;
      }
    }
    if (r.to_case == 'L') {
      for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (r.to_case == 'U') {
      for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return out;
  }
  return Status(Errc::not_found, "no ssl.principal.mapping.rules rule applies to the certificate's subject");
}

}  // namespace ks::security
