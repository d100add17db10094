// Metrics registry rendered in the Prometheus text exposition format (version 0.0.4).
//
// Counters and gauges are lock-free to update; the registry lock is taken only to look a series up
// (do that once, keep the reference) and to render.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ks::metrics {

// Label name/value pairs. Order does not matter: the registry sorts them by name.
using Labels = std::vector<std::pair<std::string, std::string>>;

// Monotonic counter.
class Counter {
 public:
  void inc() { add(1); }
  void add(uint64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// Value that can go up and down. Integers are exact up to 2^53.
class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double d) { value_.fetch_add(d, std::memory_order_relaxed); }
  void sub(double d) { add(-d); }
  void inc() { add(1); }
  void dec() { add(-1); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Distribution of observed values over fixed upper bounds (Prometheus histogram: <name>_bucket{le},
// <name>_sum, <name>_count). Lock-free to update; memory is fixed by the bounds given at creation.
class Histogram {
 public:
  // `bounds`: strictly increasing finite upper bounds; +Inf is implicit.
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  void observe(std::chrono::steady_clock::duration d) { observe(std::chrono::duration<double>(d).count()); }

  const std::vector<double>& bounds() const { return bounds_; }
  // Observations in (bounds[i-1], bounds[i]]; i == bounds().size() is the +Inf bucket. Not cumulative.
  uint64_t bucket(size_t i) const { return buckets_[i].load(std::memory_order_relaxed); }
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<double> sum_{0};
};

// Latency bounds in seconds: 1-1.5-2-3-5-7 per decade from 100 us to 70 s (36 buckets + Inf), fine
// enough to read a p99 of object-store and etcd requests, which range from sub-ms to tens of seconds.
const std::vector<double>& latency_bounds();

class Registry {
 public:
  // A family holds at most this many series by default; later label sets share one overflow series.
  static constexpr size_t kDefaultMaxSeriesPerFamily = 10000;

  explicit Registry(size_t max_series_per_family = kDefaultMaxSeriesPerFamily);
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Returns the series for name+labels, creating it (and its family) on first use. The reference stays
  // valid for the registry's lifetime. Names must be valid Prometheus names (programmer error otherwise);
  // label values may be anything (they are escaped). When a family already holds the maximum number of
  // series, a new label set gets the family's shared series labelled overflow="true" instead.
  // Asking for a name already registered with another type is a programmer error (asserts; in release
  // builds a detached metric that is never rendered is returned).
  Counter& counter(std::string_view name, std::string_view help, Labels labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, Labels labels = {});
  // Histogram series; the bounds of a family are those given when its first series was created.
  Histogram& histogram(std::string_view name, std::string_view help, Labels labels = {},
                       const std::vector<double>& bounds = latency_bounds());

  // A gauge whose value is computed at render time. Registering the same name+labels again replaces
  // the callback. The callback runs on the rendering thread without the registry lock held, so it may
  // use the registry; it must stay callable until removed (see remove_gauge_fn) or the registry dies.
  void gauge_fn(std::string_view name, std::string_view help, Labels labels, std::function<double()> fn);
  // Drops a callback gauge series (e.g. when the object it reads is destroyed). No-op if absent. Do not
  // also hold a gauge() reference to the same name+labels: it dies with the series.
  void remove_gauge_fn(std::string_view name, const Labels& labels = {});

  // Prometheus text format: families sorted by name, HELP and TYPE once per family, series sorted by
  // labels.
  std::string render() const;

  // Changes the per-family series limit for families created afterwards and existing ones.
  void set_max_series_per_family(size_t n);

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Series;
  struct Family;

  // Finds or creates a series; nullptr on a type mismatch or (for callbacks) when the family is full.
  Series* series_locked(std::string_view name, std::string_view help, Type type, Labels labels,
                        bool allow_overflow, const std::vector<double>* bounds = nullptr);

  mutable std::mutex mu_;
  size_t max_series_;                                                     // guarded by mu_
  std::map<std::string, std::unique_ptr<Family>, std::less<>> families_;  // guarded by mu_
  // Returned on type mismatches so callers still get a usable object; never rendered.
  Counter detached_counter_;
  Gauge detached_gauge_;
  Histogram detached_histogram_{latency_bounds()};
};

// The process-wide registry the broker exposes on /metrics.
Registry& registry();

}  // namespace ks::metrics
