#include "experiments/sequential_test.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>

namespace embedrec::experiments {
namespace {

// Adds one user's figures to an arm's sums.
void AddUser(store::ArmSums* s, double impressions, double clicks, double orders, double revenue) {
  s->users += 1;
  s->impressions += impressions;
  s->clicks += clicks;
  s->orders += orders;
  s->revenue += revenue;
  s->impressions_sq += impressions * impressions;
  s->clicks_sq += clicks * clicks;
  s->orders_sq += orders * orders;
  s->revenue_sq += revenue * revenue;
  s->clicks_x_impressions += clicks * impressions;
  s->orders_x_impressions += orders * impressions;
}

// A simulated user: 1–5 answers seen, each clicked with probability `ctr`.
void Simulate(std::mt19937_64& rng, store::ArmSums* s, double ctr) {
  std::uniform_int_distribution<int> seen(1, 5);
  std::bernoulli_distribution click(ctr);
  const int n = seen(rng);
  int clicks = 0;
  for (int i = 0; i < n; ++i) clicks += click(rng) ? 1 : 0;
  AddUser(s, n, clicks, 0, 0);
}

// Runs an experiment of `users` per arm, looking after every `every` users
// per arm (continuous peeking); the outcome of the first decision.
Outcome RunExperiment(uint64_t seed, double control_ctr, double challenger_ctr, int users, int every) {
  std::mt19937_64 rng(seed);
  store::ArmSums c, h;
  double p = 1;
  for (int i = 1; i <= users; ++i) {
    Simulate(rng, &c, control_ctr);
    Simulate(rng, &h, challenger_ctr);
    if (i % every) continue;
    TestResult r = Compare(c, h, Metric::kCtr, 0.95, 200, p);
    EXPECT_LE(r.p_value, p);  // always valid: never rises
    p = r.p_value;
    if (r.outcome != Outcome::kNone) return r.outcome;
  }
  return Outcome::kNone;
}

TEST(SequentialTest, EstimatesARatioOverUsersWithItsDeltaMethodVariance) {
  store::ArmSums s;
  AddUser(&s, 2, 1, 0, 0);
  AddUser(&s, 4, 0, 0, 0);
  AddUser(&s, 2, 1, 1, 30);
  Estimate e = EstimateOf(s, Metric::kCtr);
  EXPECT_DOUBLE_EQ(e.value, 2.0 / 8);
  // Residuals c − R·i: 0.5, −1, 0.5 → Σ² = 1.5; × n/(n−1) = 1.5 / 64 × 1.5.
  EXPECT_NEAR(e.variance, 1.5 * 1.5 / 64, 1e-12);
  EXPECT_DOUBLE_EQ(EstimateOf(s, Metric::kConversion).value, 1.0 / 8);
  Estimate rev = EstimateOf(s, Metric::kRevenuePerUser);
  EXPECT_DOUBLE_EQ(rev.value, 10);
  EXPECT_NEAR(rev.variance, (900 - 3 * 100) / 2.0 / 3, 1e-9);
}

TEST(SequentialTest, NoDecisionBeforeTheMinimumSampleEvenWithAHugeDifference) {
  store::ArmSums c, h;
  for (int i = 0; i < 50; ++i) {
    AddUser(&c, 10, i % 2, 0, 0);
    AddUser(&h, 10, 4 + i % 3, 0, 0);
  }
  TestResult r = Compare(c, h, Metric::kCtr, 0.95, 100, 1);
  EXPECT_EQ(r.outcome, Outcome::kNone);
  EXPECT_EQ(r.p_value, 1);
  EXPECT_GT(r.probability_better, 0.99);
  r = Compare(c, h, Metric::kCtr, 0.95, 50, 1);
  EXPECT_EQ(r.outcome, Outcome::kChallengerBetter);
}

// The A/A case under continuous peeking: 400 seeded runs of 20,000 users
// per arm, looked at every 100 users (200 looks each). The mSPRT's
// false-positive rate stays at or below 1 − confidence.
TEST(SequentialTest, AnAATestRarelyDeclaresAWinnerUnderContinuousPeeking) {
  int decided = 0;
  const int runs = 400;
  for (int seed = 0; seed < runs; ++seed) {
    if (RunExperiment(static_cast<uint64_t>(seed), 0.05, 0.05, 20000, 100) != Outcome::kNone) ++decided;
  }
  std::printf("A/A: %d of %d runs declared a winner\n", decided, runs);
  EXPECT_LE(decided, runs * 5 / 100) << decided << " of " << runs << " A/A runs declared a winner";
}

TEST(SequentialTest, ATrulyBetterOrWorseChallengerIsFoundInMostRuns) {
  int better = 0, worse = 0;
  for (int seed = 0; seed < 50; ++seed) {
    if (RunExperiment(1000 + static_cast<uint64_t>(seed), 0.05, 0.06, 20000, 100) == Outcome::kChallengerBetter) ++better;
    if (RunExperiment(2000 + static_cast<uint64_t>(seed), 0.05, 0.04, 20000, 100) == Outcome::kChallengerWorse) ++worse;
  }
  std::printf("found: %d of 50 better, %d of 50 worse\n", better, worse);
  EXPECT_GE(better, 45);
  EXPECT_GE(worse, 45);
}

}  // namespace
}  // namespace embedrec::experiments
