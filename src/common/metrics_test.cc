#include "common/metrics.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

namespace ks::metrics {
namespace {

TEST(MetricsTest, CounterAndGaugeBasics) {
  Counter c;
  c.inc();
  c.add(41);
  EXPECT_EQ(c.value(), 42u);
  Gauge g;
  g.set(10);
  g.add(2.5);
  g.dec();
  g.sub(0.5);
  EXPECT_DOUBLE_EQ(g.value(), 11.0);
}

TEST(MetricsTest, SameNameAndLabelsGiveSameSeries) {
  Registry r;
  Counter& a = r.counter("req_total", "Requests.", {{"api", "produce"}, {"v", "9"}});
  // Label order does not matter.
  Counter& b = r.counter("req_total", "Requests.", {{"v", "9"}, {"api", "produce"}});
  Counter& c = r.counter("req_total", "Requests.", {{"api", "fetch"}, {"v", "9"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &c);
  Gauge& g1 = r.gauge("conns", "Connections.");
  Gauge& g2 = r.gauge("conns", "Connections.");
  EXPECT_EQ(&g1, &g2);
}

TEST(MetricsTest, RenderIsExact) {
  Registry r;
  r.gauge("zeta", "Last family.").set(-1.5);
  r.counter("alpha_total", "Counts \\ things\nover lines.", {{"topic", "b"}}).add(2);
  r.counter("alpha_total", "ignored second help", {{"topic", "a\"q\\x\ny"}}).add(1);
  r.counter("plain_total", "No labels.").inc();
  r.gauge_fn("mid", "Callback.", {{"k", "v"}}, [] { return 7.0; });
  r.gauge("inf", "Infinite.").set(std::numeric_limits<double>::infinity());
  r.gauge("nan", "Not a number.").set(std::nan(""));

  const std::string expected =
      "# HELP alpha_total Counts \\\\ things\\nover lines.\n"
      "# TYPE alpha_total counter\n"
      "alpha_total{topic=\"a\\\"q\\\\x\\ny\"} 1\n"
      "alpha_total{topic=\"b\"} 2\n"
      "# HELP inf Infinite.\n"
      "# TYPE inf gauge\n"
      "inf +Inf\n"
      "# HELP mid Callback.\n"
      "# TYPE mid gauge\n"
      "mid{k=\"v\"} 7\n"
      "# HELP nan Not a number.\n"
      "# TYPE nan gauge\n"
      "nan NaN\n"
      "# HELP plain_total No labels.\n"
      "# TYPE plain_total counter\n"
      "plain_total 1\n"
      "# HELP zeta Last family.\n"
      "# TYPE zeta gauge\n"
      "zeta -1.5\n";
  EXPECT_EQ(r.render(), expected);
}

TEST(MetricsTest, MultipleLabelsSortedByName) {
  Registry r;
  r.gauge("g", "h", {{"z", "1"}, {"a", "2"}}).set(3);
  EXPECT_EQ(r.render(), "# HELP g h\n# TYPE g gauge\ng{a=\"2\",z=\"1\"} 3\n");
}

TEST(MetricsTest, InvalidUtf8InLabelValueIsReplaced) {
  Registry r;
  r.counter("c", "h", {{"client", std::string("ok\xff\xc3\xa9")}}).inc();
  EXPECT_EQ(r.render(), "# HELP c h\n# TYPE c counter\nc{client=\"ok\xEF\xBF\xBD\xC3\xA9\"} 1\n");
}

TEST(MetricsTest, GaugeFnReplaceAndRemove) {
  Registry r;
  r.gauge_fn("q", "h", {}, [] { return 1.0; });
  r.gauge_fn("q", "h", {}, [] { return 2.0; });
  EXPECT_EQ(r.render(), "# HELP q h\n# TYPE q gauge\nq 2\n");
  r.remove_gauge_fn("q");
  EXPECT_EQ(r.render(), "");
  r.remove_gauge_fn("absent", {{"a", "b"}});  // no-op
}

TEST(MetricsTest, GaugeFnMayUseRegistry) {
  Registry r;
  Counter& c = r.counter("c_total", "h");
  c.add(5);
  // The callback runs without the registry lock, so looking metrics up from it must not deadlock.
  r.gauge_fn("derived", "h", {}, [&r] { return static_cast<double>(r.counter("c_total", "h").value()); });
  EXPECT_NE(r.render().find("derived 5\n"), std::string::npos);
}

TEST(MetricsTest, CardinalityCapUsesOverflowSeries) {
  Registry r(/*max_series_per_family=*/3);
  std::vector<Counter*> cs;
  for (int i = 0; i < 3; ++i) {
    cs.push_back(&r.counter("t_total", "h", {{"topic", std::to_string(i)}}));
  }
  Counter& over1 = r.counter("t_total", "h", {{"topic", "x"}});
  Counter& over2 = r.counter("t_total", "h", {{"topic", "y"}});
  EXPECT_EQ(&over1, &over2);
  for (Counter* c : cs) EXPECT_NE(c, &over1);
  // Existing series are still found after the cap is hit.
  EXPECT_EQ(&r.counter("t_total", "h", {{"topic", "1"}}), cs[1]);
  over1.add(2);
  over2.add(3);
  std::string out = r.render();
  EXPECT_NE(out.find("t_total{overflow=\"true\"} 5\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("topic=\"x\""), std::string::npos) << out;
  // Callback gauges beyond the cap are dropped, not merged.
  for (int i = 0; i < 5; ++i) {
    r.gauge_fn("cb", "h", {{"i", std::to_string(i)}}, [] { return 1.0; });
  }
  out = r.render();
  EXPECT_NE(out.find("cb{i=\"2\"} 1\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("cb{i=\"3\"}"), std::string::npos) << out;
}

TEST(MetricsTest, ManySeriesStayBoundedByDefaultCap) {
  Registry r;
  for (size_t i = 0; i < Registry::kDefaultMaxSeriesPerFamily + 500; ++i) {
    r.counter("hostile_total", "h", {{"client", std::to_string(i)}}).inc();
  }
  std::string out = r.render();
  size_t lines = std::count(out.begin(), out.end(), '\n');
  // HELP + TYPE + the cap + one overflow series.
  EXPECT_EQ(lines, 2 + Registry::kDefaultMaxSeriesPerFamily + 1);
  EXPECT_NE(out.find("hostile_total{overflow=\"true\"} 500\n"), std::string::npos);
}

TEST(MetricsTest, TypeMismatchAssertsOrReturnsDetachedMetric) {
  Registry r;
  r.counter("m", "h").inc();
  // Programmer error: asserts in debug builds; in release it must not corrupt the counter family.
  EXPECT_DEBUG_DEATH(r.gauge("m", "h").set(99), "different types");
  EXPECT_EQ(r.render(), "# HELP m h\n# TYPE m counter\nm 1\n");
}

TEST(MetricsTest, ConcurrentUpdatesAndRendering) {
  Registry r;
  constexpr int kThreads = 4;
  constexpr int kIters = 20000;
  std::atomic<bool> stop{false};
  std::thread renderer([&] {
    while (!stop.load()) {
      std::string s = r.render();
      ASSERT_TRUE(s.empty() || s.back() == '\n');
    }
  });
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < kIters; ++i) {
        r.counter("shared_total", "h").inc();
        r.counter("per_thread_total", "h", {{"t", std::to_string(t)}}).inc();
        r.gauge("g", "h").add(1);
      }
    });
  }
  for (auto& th : ts) th.join();
  stop = true;
  renderer.join();
  EXPECT_EQ(r.counter("shared_total", "h").value(), uint64_t{kThreads} * kIters);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(r.counter("per_thread_total", "h", {{"t", std::to_string(t)}}).value(), uint64_t{kIters});
  }
  EXPECT_DOUBLE_EQ(r.gauge("g", "h").value(), double{kThreads} * kIters);
}

TEST(MetricsTest, HistogramRendersCumulativeBucketsSumAndCount) {
  Registry r;
  Histogram& h = r.histogram("lat_seconds", "Latency", {{"op", "put"}}, {0.01, 0.1, 1});
  h.observe(0.005);
  h.observe(0.01);  // on a bound: counted in that bucket ("le")
  h.observe(0.5);
  h.observe(std::chrono::seconds(3));
  EXPECT_EQ(&h, &r.histogram("lat_seconds", "Latency", {{"op", "put"}}));
  EXPECT_EQ(r.render(),
            "# HELP lat_seconds Latency\n"
            "# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{le=\"0.01\",op=\"put\"} 2\n"
            "lat_seconds_bucket{le=\"0.1\",op=\"put\"} 2\n"
            "lat_seconds_bucket{le=\"1\",op=\"put\"} 3\n"
            "lat_seconds_bucket{le=\"+Inf\",op=\"put\"} 4\n"
            "lat_seconds_sum{op=\"put\"} 3.515\n"
            "lat_seconds_count{op=\"put\"} 4\n");
}

TEST(MetricsTest, LatencyBoundsIncreaseFrom100usTo70s) {
  const auto& b = latency_bounds();
  ASSERT_EQ(b.size(), 36u);
  EXPECT_DOUBLE_EQ(b.front(), 0.0001);
  EXPECT_DOUBLE_EQ(b[1], 0.00015);
  EXPECT_DOUBLE_EQ(b.back(), 70);
  EXPECT_TRUE(std::is_sorted(b.begin(), b.end()));
}

TEST(MetricsTest, GlobalRegistryIsSingleton) { EXPECT_EQ(&registry(), &registry()); }

}  // namespace
}  // namespace ks::metrics
