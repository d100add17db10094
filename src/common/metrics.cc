#include "common/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <variant>

namespace ks::metrics {

struct Registry::Series {
  Labels labels;
  Counter counter;
  Gauge gauge;
  std::unique_ptr<Histogram> histogram;  // set for histogram families
  std::function<double()> fn;            // set for callback gauges
};

struct Registry::Family {
  std::string help;
  Type type;
  std::vector<double> bounds;  // histogram families
  std::map<Labels, std::unique_ptr<Series>> series;
  bool has_overflow = false;
};

namespace {

bool valid_name(std::string_view s, bool allow_colon) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':') ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// Invalid names are programmer errors; in release builds they are repaired so the output stays parseable.
std::string sanitize_name(std::string_view s, bool allow_colon) {
  assert(valid_name(s, allow_colon) && "invalid metric or label name");
  if (valid_name(s, allow_colon)) return std::string(s);
  std::string out = s.empty() ? "_" : std::string(s);
  for (size_t i = 0; i < out.size(); ++i) {
    char c = out[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':') ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) out[i] = '_';
  }
  return out;
}

Labels normalize(Labels labels) {
  for (auto& [k, v] : labels) k = sanitize_name(k, /*allow_colon=*/false);
  std::sort(labels.begin(), labels.end());
  auto dup = std::adjacent_find(labels.begin(), labels.end(),
                                [](const auto& a, const auto& b) { return a.first == b.first; });
  assert(dup == labels.end() && "duplicate label name");
  if (dup != labels.end()) {
    labels.erase(std::unique(labels.begin(), labels.end(),
                             [](const auto& a, const auto& b) { return a.first == b.first; }),
                 labels.end());
  }
  return labels;
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is invalid.
size_t utf8_len(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if ((c & 0xE0) == 0xC0) {
    n = 2, cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3, cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4, cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

// Escapes per the text format; label values additionally escape '"'. Invalid UTF-8 (label values can
// come from clients) becomes U+FFFD because scrapers reject the whole page otherwise.
void append_escaped(std::string& out, std::string_view s, bool quote) {
  for (size_t i = 0; i < s.size();) {
    char c = s[i];
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      size_t n = utf8_len(s, i);
      if (n == 0) {
        out += "\xEF\xBF\xBD";
        ++i;
        continue;
      }
      out.append(s.substr(i, n));
      i += n;
      continue;
    }
    ++i;
  }
}

void append_value(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else {
    fmt::format_to(std::back_inserter(out), "{}", v);
  }
}

void append_labels(std::string& out, const Labels& labels) {
  if (labels.empty()) return;
  out += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    append_escaped(out, v, /*quote=*/true);
    out += '"';
  }
  out += '}';
}

// <name>_bucket{...,le="b"} cumulative counts, then _sum and _count. The count is the +Inf bucket, so
// the page stays consistent even while observations race with the snapshot.
void append_histogram(std::string& out, const std::string& name, const std::vector<double>& bounds,
                      const Labels& labels, const std::vector<uint64_t>& buckets, double sum) {
  uint64_t cumulative = 0;
  for (size_t i = 0; i < buckets.size(); ++i) {
    cumulative += buckets[i];
    Labels l = labels;
    l.emplace_back("le", i < bounds.size() ? fmt::format("{}", bounds[i]) : std::string("+Inf"));
    std::sort(l.begin(), l.end());
    out += name;
    out += "_bucket";
    append_labels(out, l);
    fmt::format_to(std::back_inserter(out), " {}\n", cumulative);
  }
  out += name;
  out += "_sum";
  append_labels(out, labels);
  out += ' ';
  append_value(out, sum);
  out += '\n';
  out += name;
  out += "_count";
  append_labels(out, labels);
  fmt::format_to(std::back_inserter(out), " {}\n", cumulative);
}

const Labels& overflow_labels() {
  static const Labels kLabels = {{"overflow", "true"}};
  return kLabels;
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  assert(std::is_sorted(bounds_.begin(), bounds_.end()) &&
         std::adjacent_find(bounds_.begin(), bounds_.end()) == bounds_.end() && "bounds must increase");
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double v) {
  // The first bound >= v: Prometheus buckets are "less than or equal".
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

const std::vector<double>& latency_bounds() {
  static const std::vector<double> kBounds = [] {
    std::vector<double> b;
    for (double decade = 0.0001; decade < 100; decade *= 10) {
      for (double m : {1.0, 1.5, 2.0, 3.0, 5.0, 7.0}) b.push_back(std::round(decade * m * 1e6) / 1e6);
    }
    return b;
  }();
  return kBounds;
}

Registry::Registry(size_t max_series_per_family) : max_series_(max_series_per_family) {}
Registry::~Registry() = default;

void Registry::set_max_series_per_family(size_t n) {
  std::lock_guard lock(mu_);
  max_series_ = n;
}

Registry::Series* Registry::series_locked(std::string_view name, std::string_view help, Type type,
                                          Labels labels, bool allow_overflow,
                                          const std::vector<double>* bounds) {
  auto fit = families_.find(name);
  if (fit == families_.end()) {
    auto fam = std::make_unique<Family>();
    fam->help = std::string(help);
    fam->type = type;
    if (bounds) fam->bounds = *bounds;
    fit = families_.emplace(sanitize_name(name, /*allow_colon=*/true), std::move(fam)).first;
  }
  Family& fam = *fit->second;
  assert(fam.type == type && "metric registered twice with different types");
  if (fam.type != type) return nullptr;

  labels = normalize(std::move(labels));
  auto sit = fam.series.find(labels);
  if (sit != fam.series.end()) return sit->second.get();

  // Cardinality bound: label values may derive from client input, so the number of series per family
  // is capped to keep memory (and scrape size) bounded.
  size_t regular = fam.series.size() - (fam.has_overflow ? 1 : 0);
  if (regular >= max_series_) {
    if (!allow_overflow) return nullptr;
    auto& slot = fam.series[overflow_labels()];
    if (!slot) {
      slot = std::make_unique<Series>();
      slot->labels = overflow_labels();
      if (type == Type::kHistogram) slot->histogram = std::make_unique<Histogram>(fam.bounds);
      fam.has_overflow = true;
    }
    return slot.get();
  }
  auto s = std::make_unique<Series>();
  s->labels = labels;
  if (type == Type::kHistogram) s->histogram = std::make_unique<Histogram>(fam.bounds);
  Series* raw = s.get();
  fam.series.emplace(std::move(labels), std::move(s));
  return raw;
}

Counter& Registry::counter(std::string_view name, std::string_view help, Labels labels) {
  std::lock_guard lock(mu_);
  Series* s = series_locked(name, help, Type::kCounter, std::move(labels), /*allow_overflow=*/true);
  return s ? s->counter : detached_counter_;
}

Gauge& Registry::gauge(std::string_view name, std::string_view help, Labels labels) {
  std::lock_guard lock(mu_);
  Series* s = series_locked(name, help, Type::kGauge, std::move(labels), /*allow_overflow=*/true);
  return s ? s->gauge : detached_gauge_;
}

Histogram& Registry::histogram(std::string_view name, std::string_view help, Labels labels,
                               const std::vector<double>& bounds) {
  std::lock_guard lock(mu_);
  Series* s =
      series_locked(name, help, Type::kHistogram, std::move(labels), /*allow_overflow=*/true, &bounds);
  return s ? *s->histogram : detached_histogram_;
}

void Registry::gauge_fn(std::string_view name, std::string_view help, Labels labels,
                        std::function<double()> fn) {
  std::lock_guard lock(mu_);
  // A full family drops the callback: an overflow series cannot sum arbitrary callbacks.
  Series* s = series_locked(name, help, Type::kGauge, std::move(labels), /*allow_overflow=*/false);
  if (s) s->fn = std::move(fn);
}

void Registry::remove_gauge_fn(std::string_view name, const Labels& labels) {
  std::lock_guard lock(mu_);
  auto fit = families_.find(name);
  if (fit == families_.end()) return;
  Family& fam = *fit->second;
  auto sit = fam.series.find(normalize(labels));
  if (sit == fam.series.end() || !sit->second->fn) return;
  fam.series.erase(sit);
  if (fam.series.empty()) families_.erase(fit);
}

std::string Registry::render() const {
  // Snapshot under the lock, then run callbacks and format without it.
  struct Row {
    Labels owned;  // copied: remove_gauge_fn may destroy the series once the lock is released
    std::variant<uint64_t, double, std::function<double()>> value;
    std::vector<uint64_t> buckets;  // histograms: per-bucket counts (not cumulative)
  };
  struct Fam {
    std::string name, help;
    Type type;
    std::vector<double> bounds;
    std::vector<Row> rows;
  };
  std::vector<Fam> fams;
  {
    std::lock_guard lock(mu_);
    fams.reserve(families_.size());
    for (const auto& [name, fam] : families_) {
      Fam f{name, fam->help, fam->type, fam->bounds, {}};
      f.rows.reserve(fam->series.size());
      for (const auto& [labels, s] : fam->series) {
        Row r{labels, 0.0, {}};
        if (fam->type == Type::kHistogram) {
          for (size_t i = 0; i <= s->histogram->bounds().size(); ++i)
            r.buckets.push_back(s->histogram->bucket(i));
          r.value = s->histogram->sum();
        } else if (fam->type == Type::kCounter) {
          r.value = s->counter.value();
        } else if (s->fn) {
          r.value = s->fn;
        } else {
          r.value = s->gauge.value();
        }
        f.rows.push_back(std::move(r));
      }
      fams.push_back(std::move(f));
    }
  }

  std::string out;
  for (const Fam& f : fams) {
    out += "# HELP ";
    out += f.name;
    out += ' ';
    append_escaped(out, f.help, /*quote=*/false);
    out += "\n# TYPE ";
    out += f.name;
    out += f.type == Type::kCounter ? " counter\n" : f.type == Type::kGauge ? " gauge\n" : " histogram\n";
    for (const Row& r : f.rows) {
      if (f.type == Type::kHistogram) {
        append_histogram(out, f.name, f.bounds, r.owned, r.buckets, std::get<double>(r.value));
        continue;
      }
      out += f.name;
      append_labels(out, r.owned);
      out += ' ';
      if (auto* u = std::get_if<uint64_t>(&r.value)) {
        fmt::format_to(std::back_inserter(out), "{}", *u);
      } else if (auto* d = std::get_if<double>(&r.value)) {
        append_value(out, *d);
      } else {
        append_value(out, std::get<std::function<double()>>(r.value)());
      }
      out += '\n';
    }
  }
  return out;
}

Registry& registry() {
  // Leaked on purpose: metrics may be touched by threads still running during static destruction.
  static Registry* r = new Registry();
  return *r;
}

}  // namespace ks::metrics
