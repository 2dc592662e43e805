#include "common/metrics.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace embedrec {
namespace {

const std::vector<double>& DefaultBuckets() {
  static const std::vector<double> kBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                               0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                               1,      2.5,     5,      10};
  return kBuckets;
}

std::string FormatDouble(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  // Shortest round-trip text: a counter past a million, or a byte count,
  // keeps every digit (printf's %g kept six).
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

void AppendEscapedLabelValue(std::string_view v, std::string* out) {
  for (char c : v) {
    if (c == '\\') out->append("\\\\");
    else if (c == '"') out->append("\\\"");
    else if (c == '\n') out->append("\\n");
    else out->push_back(c);
  }
}

// `key` is `a="x",b="y"`; adds one more label for histogram buckets.
std::string WithLabel(const std::string& key, const std::string& extra) {
  if (key.empty()) return "{" + extra + "}";
  return "{" + key + "," + extra + "}";
}

}  // namespace

void MetricsRegistry::Declare(std::string name, Type type, std::string help,
                              std::vector<double> buckets) {
  std::lock_guard lock(mu_);
  Family& f = families_[std::move(name)];
  f.type = type;
  f.help = std::move(help);
  if (type == Type::kHistogram) f.bounds = buckets.empty() ? DefaultBuckets() : std::move(buckets);
}

MetricsRegistry::Family& MetricsRegistry::FamilyLocked(std::string_view name, Type type) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), Family{}).first;
    it->second.type = type;
    if (type == Type::kHistogram) it->second.bounds = DefaultBuckets();
  }
  return it->second;
}

std::string MetricsRegistry::LabelKey(const MetricLabels& labels) {
  std::string key;
  for (const auto& [k, v] : labels) {
    if (!key.empty()) key.push_back(',');
    key.append(k);
    key.append("=\"");
    AppendEscapedLabelValue(v, &key);
    key.push_back('"');
  }
  return key;
}

void MetricsRegistry::Inc(std::string_view name, const MetricLabels& labels, double v) {
  std::string key = LabelKey(labels);
  std::lock_guard lock(mu_);
  FamilyLocked(name, Type::kCounter).series[key].value += v;
}

void MetricsRegistry::SetGauge(std::string_view name, const MetricLabels& labels, double v) {
  std::string key = LabelKey(labels);
  std::lock_guard lock(mu_);
  FamilyLocked(name, Type::kGauge).series[key].value = v;
}

void MetricsRegistry::AddGauge(std::string_view name, const MetricLabels& labels, double v) {
  std::string key = LabelKey(labels);
  std::lock_guard lock(mu_);
  FamilyLocked(name, Type::kGauge).series[key].value += v;
}

void MetricsRegistry::Observe(std::string_view name, const MetricLabels& labels, double v) {
  std::string key = LabelKey(labels);
  std::lock_guard lock(mu_);
  Family& f = FamilyLocked(name, Type::kHistogram);
  Series& s = f.series[key];
  if (s.buckets.empty()) s.buckets.assign(f.bounds.size(), 0);
  for (size_t i = 0; i < f.bounds.size(); ++i) {
    if (v <= f.bounds[i]) ++s.buckets[i];
  }
  ++s.count;
  s.sum += v;
}

void MetricsRegistry::DeclareGaugeFunction(std::string name, std::string help,
                                           std::function<double()> fn) {
  std::lock_guard lock(mu_);
  value_fns_[std::move(name)] = {std::move(help), std::move(fn), false};
}

void MetricsRegistry::DeclareCounterFunction(std::string name, std::string help, std::function<double()> fn) {
  std::lock_guard lock(mu_);
  value_fns_[std::move(name)] = {std::move(help), std::move(fn), true};
}

double MetricsRegistry::Value(std::string_view name, const MetricLabels& labels) const {
  std::string key = LabelKey(labels);
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) return 0;
  auto s = it->second.series.find(key);
  if (s == it->second.series.end()) return 0;
  return it->second.type == Type::kHistogram ? double(s->second.count) : s->second.value;
}

std::string MetricsRegistry::RenderPrometheus() const { return RenderPrometheus(nullptr); }

namespace {
// `key` (a rendered label set) with the value of tenant="…" replaced.
std::string Relabeled(const std::string& key, const std::function<std::string(std::string_view)>& alias) {
  constexpr std::string_view kLabel = "tenant=\"";
  size_t at = key.rfind(kLabel, 0) == 0 ? 0 : key.find(",tenant=\"");
  if (at == std::string::npos) return key;
  const size_t value = key.find('"', at) + 1;
  size_t end = value;
  while (end < key.size() && key[end] != '"') end += key[end] == '\\' ? 2 : 1;
  if (end >= key.size()) return key;
  return key.substr(0, value) + alias(std::string_view(key).substr(value, end - value)) + key.substr(end);
}
}  // namespace

std::string MetricsRegistry::RenderPrometheus(const std::function<std::string(std::string_view)>& tenant_alias) const {
  std::string out;
  std::lock_guard lock(mu_);
  for (const auto& [name, g] : value_fns_) {
    out += "# HELP " + name + " " + g.help + "\n# TYPE " + name + (g.counter ? " counter\n" : " gauge\n") + name + " " +
           FormatDouble(g.fn()) + "\n";
  }
  for (const auto& [name, f] : families_) {
    if (!f.help.empty()) out += "# HELP " + name + " " + f.help + "\n";
    const char* type = f.type == Type::kCounter ? "counter"
                       : f.type == Type::kGauge ? "gauge" : "histogram";
    out += "# TYPE " + name + " " + type + "\n";
    for (const auto& [stored_key, s] : f.series) {
      const std::string key = tenant_alias ? Relabeled(stored_key, tenant_alias) : stored_key;
      if (f.type != Type::kHistogram) {
        out += name + (key.empty() ? "" : "{" + key + "}") + " " + FormatDouble(s.value) + "\n";
        continue;
      }
      for (size_t i = 0; i < f.bounds.size(); ++i) {
        out += name + "_bucket" + WithLabel(key, "le=\"" + FormatDouble(f.bounds[i]) + "\"") +
               " " + std::to_string(s.buckets[i]) + "\n";
      }
      out += name + "_bucket" + WithLabel(key, "le=\"+Inf\"") + " " + std::to_string(s.count) + "\n";
      std::string lbl = key.empty() ? "" : "{" + key + "}";
      out += name + "_sum" + lbl + " " + FormatDouble(s.sum) + "\n";
      out += name + "_count" + lbl + " " + std::to_string(s.count) + "\n";
    }
  }
  return out;
}

}  // namespace embedrec
