#include "common/regex.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace ks {

// Recursive-descent parser emitting NFA fragments straight into the program.
// A fragment is (start, list of dangling out-slots to patch).
class RegexCompiler {
 public:
  RegexCompiler(std::string_view p, Regex& re) : p_(p), re_(re) {}

  bool compile(std::string& error) {
    Frag f;
    if (!alternation(f, 0)) {
      error = err_.empty() ? "invalid regular expression" : err_;
      return false;
    }
    if (pos_ != p_.size()) {
      error = fmt::format("unexpected '{}' at offset {}", p_[pos_], pos_);
      return false;
    }
    const std::int32_t m = add(Regex::State{});
    if (m < 0) {
      error = err_;
      return false;
    }
    patch(f, m);
    re_.start_ = f.start;
    return true;
  }

 private:
  struct Frag {
    std::int32_t start = -1;
    std::vector<std::pair<std::int32_t, bool>> outs;  // (state, second branch)
  };

  bool fail(std::string m) {
    if (err_.empty()) err_ = std::move(m);
    return false;
  }

  std::int32_t add(Regex::State s) {
    if (re_.prog_.size() >= Regex::kMaxProgramSize) {
      fail(fmt::format("pattern too large (over {} states)", Regex::kMaxProgramSize));
      return -1;
    }
    re_.prog_.push_back(s);
    return static_cast<std::int32_t>(re_.prog_.size() - 1);
  }

  void patch(const Frag& f, std::int32_t to) {
    for (auto [s, second] : f.outs) {
      if (second) {
        re_.prog_[s].y = to;
      } else {
        re_.prog_[s].x = to;
      }
    }
  }

  // An empty fragment: a jump.
  bool empty(Frag& f) {
    Regex::State s;
    s.kind = Regex::State::kJump;
    const auto i = add(s);
    if (i < 0) return false;
    f.start = i;
    f.outs = {{i, false}};
    return true;
  }

  bool alternation(Frag& out, int depth) {
    if (depth > Regex::kMaxNesting) return fail("groups nested too deeply");
    Frag left;
    if (!concatenation(left, depth)) return false;
    while (pos_ < p_.size() && p_[pos_] == '|') {
      ++pos_;
      Frag right;
      if (!concatenation(right, depth)) return false;
      Regex::State s;
      s.kind = Regex::State::kSplit;
      s.x = left.start;
      s.y = right.start;
      const auto i = add(s);
      if (i < 0) return false;
      left.start = i;
      left.outs.insert(left.outs.end(), right.outs.begin(), right.outs.end());
    }
    out = std::move(left);
    return true;
  }

  // Appends `f` to the sequence `acc` (the first fragment appended becomes it; `any` says one was).
  void append(Frag& acc, bool& any, Frag& f) {
    if (!any) {
      acc = std::move(f);
      any = true;
    } else {
      patch(acc, f.start);
      acc.outs = std::move(f.outs);
    }
  }

  bool concatenation(Frag& out, int depth) {
    bool any = false;
    Frag acc;
    while (pos_ < p_.size() && p_[pos_] != '|' && p_[pos_] != ')') {
      const std::size_t atom_begin = pos_;
      Frag f;
      if (!repeat(f, depth, atom_begin)) return false;
      append(acc, any, f);
    }
    if (!any) return empty(out);
    out = std::move(acc);
    return true;
  }

  // Re-parses the atom at `begin` (used to copy it for {m,n}).
  bool atom_at(std::size_t begin, Frag& f, int depth) {
    const std::size_t saved = pos_;
    pos_ = begin;
    const bool ok = atom(f, depth);
    pos_ = saved;
    return ok;
  }

  // f*, f+, f?: a split whose first branch (taken first) is f when greedy, what follows when lazy.
  std::int32_t split_to(Frag& f, bool lazy) {
    Regex::State s;
    s.kind = Regex::State::kSplit;
    (lazy ? s.y : s.x) = f.start;
    return add(s);
  }

  bool star(Frag& f, bool lazy) {
    const auto i = split_to(f, lazy);
    if (i < 0) return false;
    patch(f, i);
    f.start = i;
    f.outs = {{i, !lazy}};
    return true;
  }

  bool plus(Frag& f, bool lazy) {
    const auto i = split_to(f, lazy);
    if (i < 0) return false;
    patch(f, i);
    f.outs = {{i, !lazy}};
    return true;
  }

  bool quest(Frag& f, bool lazy) {
    const auto i = split_to(f, lazy);
    if (i < 0) return false;
    f.start = i;
    f.outs.emplace_back(i, !lazy);
    return true;
  }

  // After a quantifier: `?` makes it lazy, `+` (possessive) is taken as greedy.
  bool lazy_suffix() {
    if (pos_ < p_.size() && (p_[pos_] == '?' || p_[pos_] == '+')) return p_[pos_++] == '?';
    return false;
  }

  bool number(int& v) {
    if (pos_ >= p_.size() || p_[pos_] < '0' || p_[pos_] > '9') return false;
    v = 0;
    while (pos_ < p_.size() && p_[pos_] >= '0' && p_[pos_] <= '9') {
      v = v * 10 + (p_[pos_] - '0');
      if (v > Regex::kMaxRepeat) return fail(fmt::format("repeat count over {}", Regex::kMaxRepeat));
      ++pos_;
    }
    return true;
  }

  bool repeat(Frag& out, int depth, std::size_t atom_begin) {
    if (!atom(out, depth)) return false;
    const std::size_t atom_end = pos_;
    if (pos_ >= p_.size()) return true;
    const char q = p_[pos_];
    if (q == '*' || q == '+' || q == '?') {
      ++pos_;
      const bool lazy = lazy_suffix();
      const bool ok = q == '*' ? star(out, lazy) : q == '+' ? plus(out, lazy) : quest(out, lazy);
      if (ok && pos_ < p_.size() &&
          (p_[pos_] == '*' || p_[pos_] == '+' || p_[pos_] == '?' || p_[pos_] == '{'))
        return fail("bad repetition operator");
      return ok;
    }
    if (q != '{') return true;
    ++pos_;
    int lo = 0, hi = 0;
    if (!number(lo)) return fail("bad repetition {m,n}");
    bool unbounded = false;
    if (pos_ < p_.size() && p_[pos_] == ',') {
      ++pos_;
      if (pos_ < p_.size() && p_[pos_] == '}') {
        unbounded = true;
      } else if (!number(hi)) {
        return fail("bad repetition {m,n}");
      }
    } else {
      hi = lo;
    }
    if (pos_ >= p_.size() || p_[pos_] != '}') return fail("bad repetition {m,n}");
    ++pos_;
    if (!unbounded && hi < lo) return fail("bad repetition {m,n}: n < m");
    const bool lazy = lazy_suffix();
    if (pos_ < p_.size() && (p_[pos_] == '*' || p_[pos_] == '+' || p_[pos_] == '?' || p_[pos_] == '{'))
      return fail("bad repetition operator");
    // Expand: lo copies, then (hi - lo) optional copies or one starred copy.
    const std::size_t after = pos_;
    Frag acc;
    bool any = false;
    const int copies = unbounded ? std::max(lo, 1) : std::max(hi, 0);
    for (int i = 0; i < copies; ++i) {
      Frag f;
      if (i == 0) {
        f = std::move(out);
      } else if (!atom_at(atom_begin, f, depth)) {
        return false;
      }
      if (unbounded && i == copies - 1) {
        if (!(lo == 0 ? star(f, lazy) : plus(f, lazy))) return false;
      } else if (i >= lo) {
        if (!quest(f, lazy)) return false;
      }
      append(acc, any, f);
    }
    pos_ = after;
    (void)atom_end;
    if (!any) return empty(out);  // x{0} or x{0,0}
    out = std::move(acc);
    return true;
  }

  // (f) as group `group`: slot 2 x group before f, slot 2 x group + 1 after it.
  bool capture(Frag& f, int group) {
    Regex::State open;
    open.kind = Regex::State::kSave;
    open.cls = static_cast<std::uint32_t>(2 * group);
    open.x = f.start;
    const auto i = add(open);
    Regex::State close;
    close.kind = Regex::State::kSave;
    close.cls = static_cast<std::uint32_t>(2 * group + 1);
    const auto j = add(close);
    if (i < 0 || j < 0) return false;
    patch(f, j);
    f.start = i;
    f.outs = {{j, false}};
    return true;
  }

  bool single(Frag& f, Regex::State s) {
    const auto i = add(s);
    if (i < 0) return false;
    f.start = i;
    f.outs = {{i, false}};
    return true;
  }

  static void set_escape_class(char e, std::vector<bool>& cls) {
    for (int c = 0; c < 256; ++c) {
      const bool digit = c >= '0' && c <= '9';
      const bool word = digit || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
      const bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
      bool in = false;
      switch (e) {
        case 'd':
          in = digit;
          break;
        case 'D':
          in = !digit;
          break;
        case 'w':
          in = word;
          break;
        case 'W':
          in = !word;
          break;
        case 's':
          in = space;
          break;
        case 'S':
          in = !space;
          break;
        default:
          break;
      }
      if (in) cls[static_cast<std::size_t>(c)] = true;
    }
  }

  static bool is_class_escape(char e) { return std::string_view("dDwWsS").find(e) != std::string_view::npos; }
  static bool is_literal_escape(char e) {
    return std::string_view(".\\+*?()|[]{}^$-/#&~ '\"_=!,:;<>@%").find(e) != std::string_view::npos;
  }

  bool add_class(Frag& f, std::vector<bool> cls, bool negate) {
    re_.classes_.push_back(std::move(cls));
    Regex::State s;
    s.kind = Regex::State::kClass;
    s.cls = static_cast<std::uint32_t>(re_.classes_.size() - 1);
    s.negate = negate;
    return single(f, s);
  }

  bool bracket(Frag& f) {
    ++pos_;  // [
    bool negate = false;
    if (pos_ < p_.size() && p_[pos_] == '^') {
      negate = true;
      ++pos_;
    }
    std::vector<bool> cls(256, false);
    bool first = true;
    while (true) {
      if (pos_ >= p_.size()) return fail("missing ]");
      char c = p_[pos_];
      if (c == ']' && !first) break;
      first = false;
      if (c == '[') return fail("nested or POSIX classes are not supported");
      unsigned char lo;
      if (c == '\\') {
        if (pos_ + 1 >= p_.size()) return fail("trailing backslash");
        const char e = p_[pos_ + 1];
        pos_ += 2;
        if (is_class_escape(e)) {
          set_escape_class(e, cls);
          continue;
        }
        if (!is_literal_escape(e)) return fail(fmt::format("unsupported escape \\{}", e));
        lo = static_cast<unsigned char>(e);
      } else {
        lo = static_cast<unsigned char>(c);
        ++pos_;
      }
      unsigned char hi = lo;
      if (pos_ + 1 < p_.size() && p_[pos_] == '-' && p_[pos_ + 1] != ']') {
        char h = p_[pos_ + 1];
        pos_ += 2;
        if (h == '\\') {
          if (pos_ >= p_.size()) return fail("trailing backslash");
          h = p_[pos_++];
          if (!is_literal_escape(h)) return fail(fmt::format("unsupported escape \\{}", h));
        }
        hi = static_cast<unsigned char>(h);
        if (hi < lo) return fail("bad class range");
      }
      for (int x = lo; x <= hi; ++x) cls[static_cast<std::size_t>(x)] = true;
    }
    ++pos_;  // ]
    return add_class(f, std::move(cls), negate);
  }

  bool atom(Frag& f, int depth) {
    if (pos_ >= p_.size()) return fail("missing operand");
    const char c = p_[pos_];
    switch (c) {
      case '(': {
        const std::size_t open = pos_++;
        bool capturing = true;
        if (pos_ < p_.size() && p_[pos_] == '?') {
          if (pos_ + 1 < p_.size() && p_[pos_ + 1] == ':') {
            pos_ += 2;
            capturing = false;
          } else {
            return fail("only (?:...) groups are supported (no flags, lookaround or named groups)");
          }
        }
        // A group copied by {m,n} is parsed again: it keeps its number.
        int group = 0;
        if (capturing) {
          auto [it, fresh] = group_at_.emplace(open, re_.groups_ + 1);
          if (fresh && ++re_.groups_ > Regex::kMaxGroups)
            return fail(fmt::format("more than {} groups", Regex::kMaxGroups));
          group = it->second;
        }
        if (!alternation(f, depth + 1)) return false;
        if (pos_ >= p_.size() || p_[pos_] != ')') return fail("missing )");
        ++pos_;
        return capturing ? capture(f, group) : true;
      }
      case ')':
        return fail("unexpected )");
      case '*':
      case '+':
      case '?':
      case '{':
        return fail(fmt::format("missing argument to repetition operator {}", c));
      case '^':
      case '$': {
        ++pos_;
        Regex::State s;
        s.kind = c == '^' ? Regex::State::kBegin : Regex::State::kEnd;
        return single(f, s);
      }
      case '[':
        return bracket(f);
      case '.': {
        ++pos_;
        Regex::State s;
        s.kind = Regex::State::kAny;
        return single(f, s);
      }
      case '\\': {
        if (pos_ + 1 >= p_.size()) return fail("trailing backslash");
        const char e = p_[pos_ + 1];
        pos_ += 2;
        if (is_class_escape(e)) {
          std::vector<bool> cls(256, false);
          set_escape_class(e, cls);
          return add_class(f, std::move(cls), false);
        }
        if (!is_literal_escape(e)) return fail(fmt::format("unsupported escape \\{}", e));
        Regex::State s;
        s.kind = Regex::State::kChar;
        s.c = static_cast<unsigned char>(e);
        return single(f, s);
      }
      default: {
        ++pos_;
        Regex::State s;
        s.kind = Regex::State::kChar;
        s.c = static_cast<unsigned char>(c);
        return single(f, s);
      }
    }
  }

  std::string_view p_;
  Regex& re_;
  std::map<std::size_t, int> group_at_;  // group number by the offset of its '('
  std::size_t pos_ = 0;
  std::string err_;
};

std::optional<Regex> Regex::compile(std::string_view pattern, std::string& error) {
  if (pattern.size() > kMaxPatternBytes) {
    error = fmt::format("pattern longer than {} bytes", kMaxPatternBytes);
    return std::nullopt;
  }
  Regex re;
  re.pattern_ = std::string(pattern);
  RegexCompiler c(pattern, re);
  if (!c.compile(error)) return std::nullopt;
  return re;
}

bool Regex::reads(const State& st, unsigned char c) const {
  switch (st.kind) {
    case State::kChar:
      return st.c == c;
    case State::kAny:
      return c != '\n';
    case State::kClass:
      return classes_[st.cls][c] != st.negate;
    default:
      return false;
  }
}

namespace {

// A Pike VM thread: a state and the capture slots of the path that reached it.
struct Thread {
  std::int32_t state;
  std::vector<int> caps;  // 2 per group (group 0 included): start, end; -1 unset
};

// Adds the threads `s` reaches without reading, in priority order (first branch first); a state already
// reached at this position keeps the higher-priority thread that came first.
void add_thread(const std::vector<Regex::State>& prog, std::int32_t s, std::vector<int> caps,
                std::vector<Thread>& list, std::vector<std::uint32_t>& mark, std::uint32_t gen,
                std::vector<Thread>& stack, std::size_t pos, std::size_t len) {
  stack.clear();
  stack.push_back(Thread{s, std::move(caps)});
  while (!stack.empty()) {
    Thread t = std::move(stack.back());
    stack.pop_back();
    const std::int32_t i = t.state;
    if (i < 0 || mark[static_cast<std::size_t>(i)] == gen) continue;
    mark[static_cast<std::size_t>(i)] = gen;
    const auto& st = prog[static_cast<std::size_t>(i)];
    switch (st.kind) {
      case Regex::State::kSplit:
        stack.push_back(Thread{st.y, t.caps});
        stack.push_back(Thread{st.x, std::move(t.caps)});
        break;
      case Regex::State::kJump:
        stack.push_back(Thread{st.x, std::move(t.caps)});
        break;
      case Regex::State::kSave:
        if (st.cls < t.caps.size()) t.caps[st.cls] = static_cast<int>(pos);  // none kept by full_match()
        stack.push_back(Thread{st.x, std::move(t.caps)});
        break;
      case Regex::State::kBegin:
        if (pos == 0) stack.push_back(Thread{st.x, std::move(t.caps)});
        break;
      case Regex::State::kEnd:
        if (pos == len) stack.push_back(Thread{st.x, std::move(t.caps)});
        break;
      default:
        list.push_back(std::move(t));
        break;
    }
  }
}

}  // namespace

std::optional<std::vector<int>> Regex::run(std::string_view s, std::size_t slots) const {
  std::vector<std::uint32_t> mark(prog_.size(), 0);
  std::vector<Thread> cur, next, stack;
  std::uint32_t gen = 1;
  add_thread(prog_, start_, std::vector<int>(slots, -1), cur, mark, gen, stack, 0, s.size());
  std::size_t pos = 0;
  for (char ch : s) {
    ++pos;
    const auto c = static_cast<unsigned char>(ch);
    ++gen;
    next.clear();
    for (Thread& t : cur) {
      const auto& st = prog_[static_cast<std::size_t>(t.state)];
      if (reads(st, c)) add_thread(prog_, st.x, std::move(t.caps), next, mark, gen, stack, pos, s.size());
    }
    cur.swap(next);
    if (cur.empty()) return std::nullopt;
  }
  for (Thread& t : cur) {
    if (prog_[static_cast<std::size_t>(t.state)].kind == State::kMatch) return std::move(t.caps);
  }
  return std::nullopt;
}

bool Regex::full_match(std::string_view s) const { return run(s, 0).has_value(); }

std::optional<std::vector<std::optional<std::string_view>>> Regex::full_match_groups(
    std::string_view s) const {
  const auto caps = run(s, 2 * static_cast<std::size_t>(groups_ + 1));
  if (!caps) return std::nullopt;
  std::vector<std::optional<std::string_view>> out(static_cast<std::size_t>(groups_ + 1));
  out[0] = s;
  for (std::size_t g = 1; g < out.size(); ++g) {
    const int b = (*caps)[2 * g], e = (*caps)[2 * g + 1];
    if (b >= 0 && e >= b) out[g] = s.substr(static_cast<std::size_t>(b), static_cast<std::size_t>(e - b));
  }
  return out;
}

}  // namespace ks
