#include "common/metrics.h"

#include <gtest/gtest.h>

#include <thread>

namespace embedrec {
namespace {

TEST(MetricsRegistryTest, CountersAddPerLabelSet) {
  MetricsRegistry m;
  m.Inc("reqs", {{"route", "/a"}});
  m.Inc("reqs", {{"route", "/a"}}, 2);
  m.Inc("reqs", {{"route", "/b"}});
  EXPECT_EQ(m.Value("reqs", {{"route", "/a"}}), 3);
  EXPECT_EQ(m.Value("reqs", {{"route", "/b"}}), 1);
  EXPECT_EQ(m.Value("reqs", {{"route", "/c"}}), 0);
}

TEST(MetricsRegistryTest, RendersPrometheusTextWithHelpTypeAndEscapedLabels) {
  MetricsRegistry m;
  m.Declare("hits_total", MetricsRegistry::Type::kCounter, "Hits.");
  m.Inc("hits_total", {{"path", "a\"b"}});
  std::string text = m.RenderPrometheus();
  EXPECT_NE(text.find("# HELP hits_total Hits.\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE hits_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("hits_total{path=\"a\\\"b\"} 1\n"), std::string::npos);
}

TEST(MetricsRegistryTest, LargeAndFractionalValuesKeepEveryDigit) {
  MetricsRegistry m;
  m.Declare("big_total", MetricsRegistry::Type::kCounter, "Big.");
  m.Inc("big_total", {}, 1234567);
  m.DeclareGaugeFunction("bytes", "Bytes.", [] { return double(int64_t{1} << 30); });
  m.DeclareGaugeFunction("share", "Share.", [] { return 0.1; });
  std::string text = m.RenderPrometheus();
  EXPECT_NE(text.find("big_total 1234567\n"), std::string::npos) << text;
  EXPECT_NE(text.find("bytes 1073741824\n"), std::string::npos) << text;
  EXPECT_NE(text.find("share 0.1\n"), std::string::npos) << text;
}

TEST(MetricsRegistryTest, AValueFunctionRendersAsTheTypeItWasDeclared) {
  MetricsRegistry m;
  int64_t stalls = 0;
  m.DeclareCounterFunction("stalls_total", "Stalls.", [&] { return double(stalls); });
  m.DeclareGaugeFunction("in_use", "In use.", [] { return 3.0; });
  stalls = 2;
  std::string text = m.RenderPrometheus();
  EXPECT_NE(text.find("# TYPE stalls_total counter\nstalls_total 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE in_use gauge\nin_use 3\n"), std::string::npos) << text;
}

TEST(MetricsRegistryTest, HistogramBucketsAreCumulative) {
  MetricsRegistry m;
  m.Declare("lat", MetricsRegistry::Type::kHistogram, "Latency.", {0.1, 1});
  m.Observe("lat", {}, 0.05);
  m.Observe("lat", {}, 0.5);
  m.Observe("lat", {}, 5);
  std::string text = m.RenderPrometheus();
  EXPECT_NE(text.find("lat_bucket{le=\"0.1\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_bucket{le=\"1\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_bucket{le=\"+Inf\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_count 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_sum 5.55\n"), std::string::npos) << text;
}

TEST(MetricsRegistryTest, ConcurrentIncrementsAreNotLost) {
  MetricsRegistry m;
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) m.Inc("c", {{"k", "v"}});
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(m.Value("c", {{"k", "v"}}), 40000);
}

}  // namespace
}  // namespace embedrec

namespace embedrec {
namespace {

TEST(MetricsRelabelTest, TheTenantLabelIsRenderedThroughTheAliasEverywhere) {
  MetricsRegistry m;
  m.Inc("req_total", {{"tenant", "abc"}, {"endpoint", "recs"}});
  m.Inc("other_total", {{"endpoint", "x"}, {"tenant", "abc"}});
  m.Observe("lat_seconds", {{"tenant", "abc"}}, 0.01);
  m.Inc("plain_total", {{"route", "/tenant=\"no\""}});
  const std::string out = m.RenderPrometheus([](std::string_view t) { return "alias-" + std::string(t); });
  EXPECT_EQ(out.find("\"abc\""), std::string::npos) << out;
  EXPECT_NE(out.find("req_total{tenant=\"alias-abc\",endpoint=\"recs\"} 1"), std::string::npos) << out;
  EXPECT_NE(out.find("other_total{endpoint=\"x\",tenant=\"alias-abc\"} 1"), std::string::npos) << out;
  EXPECT_NE(out.find("lat_seconds_count{tenant=\"alias-abc\"} 1"), std::string::npos) << out;
  EXPECT_NE(m.RenderPrometheus().find("tenant=\"abc\""), std::string::npos);
}

}  // namespace
}  // namespace embedrec
