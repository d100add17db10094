// A latency histogram in the Prometheus histogram layout (<name>_bucket{le},
// <name>_sum, <name>_count) built from the registry's counters and gauges,
// since the registry has no histogram type yet. Header-only so both the
// objstore and metastore wrappers can use it (it needs ks_common only).
#pragma once

#include <array>
#include <chrono>
#include <string>

#include "common/metrics.h"

namespace ks::objstore {

class LatencyHistogram {
 public:
  // Upper bounds in seconds: 1-1.5-2-3-5-7 per decade, 100 us .. 70 s, then +Inf.
  static constexpr std::array<double, 36> kBounds = {
      0.0001, 0.00015, 0.0002, 0.0003, 0.0005, 0.0007, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.007,
      0.01,   0.015,   0.02,   0.03,   0.05,   0.07,   0.1,   0.15,   0.2,   0.3,   0.5,   0.7,
      1,      1.5,     2,      3,      5,      7,      10,    15,     20,    30,    50,    70};

  // `labels` are the series' labels without `le`.
  LatencyHistogram(metrics::Registry& reg, const std::string& name, const std::string& help,
                   const metrics::Labels& labels) {
    for (std::size_t i = 0; i <= kBounds.size(); ++i) {
      metrics::Labels l = labels;
      l.emplace_back("le", i < kBounds.size() ? format_bound(kBounds[i]) : std::string("+Inf"));
      buckets_[i] = &reg.counter(name + "_bucket", help, l);
    }
    sum_ = &reg.gauge(name + "_sum", help, labels);
    count_ = &reg.counter(name + "_count", help, labels);
  }

  void observe(double seconds) {
    // Cumulative buckets: every bound >= the value counts it.
    for (std::size_t i = 0; i <= kBounds.size(); ++i) {
      if (i == kBounds.size() || seconds <= kBounds[i]) buckets_[i]->inc();
    }
    sum_->add(seconds);
    count_->inc();
  }
  void observe(std::chrono::steady_clock::duration d) { observe(std::chrono::duration<double>(d).count()); }

 private:
  static std::string format_bound(double v) {
    std::string s = std::to_string(v);  // fixed, 6 decimals: "0.000100"
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
  }

  std::array<metrics::Counter*, kBounds.size() + 1> buckets_{};
  metrics::Gauge* sum_ = nullptr;
  metrics::Counter* count_ = nullptr;
};

}  // namespace ks::objstore
