// The statistics of an experiment: the arms' metric estimates from their
// users' figures (the user is the unit: users are assigned to arms), and a
// mixture sequential probability ratio test (mSPRT; Johari, Pekelis, Walsh,
// "Always valid inference", 2017) whose p-value may be looked at after
// every new observation without inflating the false-positive rate.
//
//   estimate per arm: ctr = Σclicks / Σimpressions, conversion = Σorders /
//     Σimpressions (ratios of per-user sums; variance by the delta method
//     over users), revenue_per_user = Σrevenue / users (sample variance)
//   θ̂ = challenger − control, V = var(challenger) + var(control)
//   Λ = sqrt(V / (V + τ²)) · exp(θ̂² τ² / (2 V (V + τ²))), with the mixing
//     spread τ = kRelativeSpread × the pooled estimate (effects of ~10–30 %)
//   always-valid p = min over every look so far of min(1, 1/Λ)
//
// A decision needs p ≤ 1 − confidence and min_sample users in each arm
// (the normal approximation needs some data).
#pragma once

#include <optional>
#include <string_view>

#include "store/analytics_store.h"

namespace embedrec::experiments {

enum class Metric { kCtr, kConversion, kRevenuePerUser };
std::string_view MetricName(Metric m);
std::optional<Metric> ParseMetric(std::string_view name);

struct Estimate {
  double value = 0;     // the metric
  double variance = 0;  // of the estimate
};
Estimate EstimateOf(const store::ArmSums& arm, Metric m);

inline constexpr double kRelativeSpread = 0.2;

enum class Outcome { kNone, kChallengerBetter, kChallengerWorse };
std::string_view OutcomeName(Outcome o);

struct TestResult {
  Estimate control, challenger;
  double difference = 0;     // challenger − control
  double relative_lift = 0;  // difference / control (0 when control is 0)
  double likelihood_ratio = 1;
  double p_value = 1;          // always valid: never above the previous look's
  double probability_better = 0.5;  // P(challenger > control), normal posterior under a flat prior
  Outcome outcome = Outcome::kNone;
};

// One look: `previous_p` is the p-value of the looks before (1 at first).
TestResult Compare(const store::ArmSums& control, const store::ArmSums& challenger, Metric m, double confidence,
                   double min_sample, double previous_p);

}  // namespace embedrec::experiments
