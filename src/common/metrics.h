// A small Prometheus metrics registry: counters, gauges and histograms with
// labels, rendered in the Prometheus text exposition format (version 0.0.4).
//
// Thread safety: every method may be called concurrently. One mutex guards the
// registry; updates are a map lookup under it, cheap next to any request.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace embedrec {

// Label pairs in the order they are rendered: {{"route", "/healthz"}, {"status", "200"}}.
using MetricLabels = std::vector<std::pair<std::string_view, std::string_view>>;

class MetricsRegistry {
 public:
  enum class Type { kCounter, kGauge, kHistogram };

  // Declares a metric. Declaring before use is optional (an undeclared name is a
  // counter/gauge/histogram by first use, with empty help) but gives it its help text.
  // Histogram buckets are upper bounds in increasing order; default: latency buckets in seconds.
  void Declare(std::string name, Type type, std::string help, std::vector<double> buckets = {});

  void Inc(std::string_view name, const MetricLabels& labels, double v = 1);
  void SetGauge(std::string_view name, const MetricLabels& labels, double v);
  void AddGauge(std::string_view name, const MetricLabels& labels, double v);
  void Observe(std::string_view name, const MetricLabels& labels, double v);

  // A gauge read from `fn` at render time (e.g. an atomic the owner keeps
  // updated without taking the registry's lock). `fn` must be cheap, thread
  // safe and must not call back into the registry.
  void DeclareGaugeFunction(std::string name, std::string help, std::function<double()> fn);
  // The same for a count that only grows (rendered as a counter: rate() applies).
  void DeclareCounterFunction(std::string name, std::string help, std::function<double()> fn);

  // Current value of a counter or gauge series (0 when absent); for tests and analytics.
  double Value(std::string_view name, const MetricLabels& labels) const;

  std::string RenderPrometheus() const;
  // The same with every value of the label "tenant" replaced by
  // `tenant_alias(value)` (who may read /metrics need not learn tenants' ids).
  std::string RenderPrometheus(const std::function<std::string(std::string_view)>& tenant_alias) const;

 private:
  struct Series {
    double value = 0;                 // counter / gauge
    std::vector<uint64_t> buckets;    // histogram: cumulative counts per bound
    uint64_t count = 0;
    double sum = 0;
  };
  struct Family {
    Type type = Type::kCounter;
    std::string help;
    std::vector<double> bounds;
    std::map<std::string, Series, std::less<>> series;  // key: rendered label set
  };

  Family& FamilyLocked(std::string_view name, Type type);
  static std::string LabelKey(const MetricLabels& labels);

  mutable std::mutex mu_;
  std::map<std::string, Family, std::less<>> families_;
  struct ValueFunction {
    std::string help;
    std::function<double()> fn;
    bool counter = false;
  };
  std::map<std::string, ValueFunction> value_fns_;
};

}  // namespace embedrec
