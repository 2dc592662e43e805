#include "experiments/sequential_test.h"

#include <algorithm>
#include <cmath>

namespace embedrec::experiments {

std::string_view MetricName(Metric m) {
  switch (m) {
    case Metric::kCtr: return "ctr";
    case Metric::kConversion: return "conversion";
    case Metric::kRevenuePerUser: break;
  }
  return "revenue_per_user";
}

std::optional<Metric> ParseMetric(std::string_view name) {
  for (Metric m : {Metric::kCtr, Metric::kConversion, Metric::kRevenuePerUser}) {
    if (MetricName(m) == name) return m;
  }
  return std::nullopt;
}

std::string_view OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kNone: return "none";
    case Outcome::kChallengerBetter: return "challenger_better";
    case Outcome::kChallengerWorse: break;
  }
  return "challenger_worse";
}

namespace {
// Σy / Σx over users, with the delta method's variance: Σ(y − R x)² / (Σx)².
Estimate Ratio(double sum_y, double sum_x, double sum_yy, double sum_xy, double sum_xx, double users) {
  Estimate e;
  if (sum_x <= 0) return e;
  e.value = sum_y / sum_x;
  const double r = e.value;
  const double residual = std::max(0.0, sum_yy - 2 * r * sum_xy + r * r * sum_xx);
  // Small-sample correction n / (n − 1), as for a sample variance.
  const double correction = users > 1 ? users / (users - 1) : 1;
  e.variance = correction * residual / (sum_x * sum_x);
  return e;
}
}  // namespace

Estimate EstimateOf(const store::ArmSums& a, Metric m) {
  switch (m) {
    case Metric::kCtr:
      return Ratio(a.clicks, a.impressions, a.clicks_sq, a.clicks_x_impressions, a.impressions_sq, a.users);
    case Metric::kConversion:
      return Ratio(a.orders, a.impressions, a.orders_sq, a.orders_x_impressions, a.impressions_sq, a.users);
    case Metric::kRevenuePerUser: break;
  }
  Estimate e;
  if (a.users <= 0) return e;
  e.value = a.revenue / a.users;
  if (a.users > 1) {
    const double var = std::max(0.0, (a.revenue_sq - a.users * e.value * e.value) / (a.users - 1));
    e.variance = var / a.users;
  }
  return e;
}

TestResult Compare(const store::ArmSums& control, const store::ArmSums& challenger, Metric m, double confidence,
                   double min_sample, double previous_p) {
  TestResult r;
  r.control = EstimateOf(control, m);
  r.challenger = EstimateOf(challenger, m);
  r.difference = r.challenger.value - r.control.value;
  r.relative_lift = r.control.value != 0 ? r.difference / r.control.value : 0;
  r.p_value = std::clamp(previous_p, 0.0, 1.0);
  const double v = r.control.variance + r.challenger.variance;
  const double pooled = (r.control.value * control.users + r.challenger.value * challenger.users) /
                        std::max(1.0, control.users + challenger.users);
  const double tau = kRelativeSpread * std::abs(pooled);
  if (v > 0) {
    r.probability_better = 0.5 * std::erfc(-r.difference / std::sqrt(2 * v));
    if (tau > 0) {
      const double t2 = tau * tau;
      const double log_lambda = 0.5 * std::log(v / (v + t2)) + r.difference * r.difference * t2 / (2 * v * (v + t2));
      r.likelihood_ratio = std::exp(std::min(log_lambda, 700.0));
      // Looks before the minimum sample do not count: their normal
      // approximation is too rough to lower the running p-value.
      if (control.users >= min_sample && challenger.users >= min_sample) {
        r.p_value = std::min(r.p_value, std::min(1.0, 1.0 / r.likelihood_ratio));
      }
    }
  }
  if (control.users >= min_sample && challenger.users >= min_sample && r.p_value <= 1 - confidence) {
    r.outcome = r.difference > 0 ? Outcome::kChallengerBetter
                : r.difference < 0 ? Outcome::kChallengerWorse
                                   : Outcome::kNone;
  }
  return r;
}

}  // namespace embedrec::experiments
