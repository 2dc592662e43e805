#include "ml/recency.h"

#include <random>

#include <gtest/gtest.h>

#include "ml/evaluator.h"
#include "ml_test_util.h"

namespace embedrec::ml {
namespace {

// Each user's long history lies in one half of the items; their newest
// `newest` events, days later, in the other half, where their held-out
// items are too when `shifted` (else in the home half).
Dataset Drifting(bool shifted, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const int half = 50;
  std::vector<Interaction> train, test;
  for (int u = 0; u < 300; ++u) {
    const int home = (u % 2) * half, away = half - home;
    int64_t ts = 1'700'000'000;
    for (int k = 0; k < 12; ++k) train.push_back({u, static_cast<int32_t>(home + rng() % half), 1.0f, ts += 3600});
    ts += 10 * 86400;
    for (int k = 0; k < 3; ++k) train.push_back({u, static_cast<int32_t>(away + rng() % half), 1.0f, ts += 600});
    for (int k = 0; k < 2; ++k) {
      test.push_back({u, static_cast<int32_t>((shifted ? away : home) + rng() % half), 1.0f, ts += 600});
    }
  }
  // Held-out items the user also trained on would not be judged: drop them.
  std::vector<Interaction> kept;
  for (const auto& t : test) {
    bool seen = false;
    for (const auto& e : train) seen |= e.user == t.user && e.item == t.item;
    if (!seen) kept.push_back(t);
  }
  return MakeDataset(train, kept);
}

double Ndcg(const Dataset& data, const Model& m, const std::vector<float>& users) {
  return Evaluate(data, users.data(), m.item_embeddings().data(), m.dim(), {10}).Get("ndcg@10");
}

TEST(RecencyTest, SteeringByTheNewestEventsHelpsWhenTheyPredictAndNotOtherwise) {
  for (const bool shifted : {true, false}) {
    Dataset data = Drifting(shifted, 5);
    auto model = testing::NewNamed("als");
    ASSERT_TRUE(model->Fit(data, testing::QuickOptions("als"), nullptr).ok());
    const double plain = Ndcg(data, *model, model->user_embeddings());
    const double steered = Ndcg(data, *model, SteeredUserVectors(data, *model, Steering::kSeenShare));
    if (shifted) EXPECT_GT(steered, plain * 1.1) << "plain " << plain;
    else EXPECT_LT(steered, plain) << "steered " << steered;
  }
}

TEST(RecencyTest, ShareZeroKeepsTheTrainedVectors) {
  Dataset data = Drifting(true, 6);
  auto model = testing::NewNamed("als");
  ASSERT_TRUE(model->Fit(data, testing::QuickOptions("als"), nullptr).ok());
  EXPECT_EQ(SteeredUserVectors(data, *model, 0), model->user_embeddings());
  EXPECT_NE(SteeredUserVectors(data, *model, 0.5), model->user_embeddings());
}

TEST(RecencyTest, EventWeightDecaysWithAgeAndOrder) {
  EXPECT_DOUBLE_EQ(Steering::EventWeight(5, 0, 0), 5);
  EXPECT_NEAR(Steering::EventWeight(5, 3 * 86400000LL, 0), 2.5, 1e-9);
  EXPECT_NEAR(Steering::EventWeight(1, 0, 2), Steering::kOrderDecay * Steering::kOrderDecay, 1e-12);
  float q[2] = {1, 0};
  const float f[2] = {0, 1};
  Steering::Blend(q, f, Steering::kModelWeight, 2);  // equal weights: the midpoint
  EXPECT_FLOAT_EQ(q[0], 0.5f);
  EXPECT_FLOAT_EQ(q[1], 0.5f);
}

TEST(RecencyTest, TheShareIsReadFromMetadataAndBounded) {
  EXPECT_EQ(RecentEventsShare(R"({"recent_events_share":0.5})"), 0.5);
  EXPECT_EQ(RecentEventsShare(R"({"version":"v1"})"), 0);  // models from before the check
  EXPECT_EQ(RecentEventsShare(R"({"recent_events_share":"x"})"), 0);
  EXPECT_EQ(RecentEventsShare(R"({"recent_events_share":7})"), 1);
  EXPECT_EQ(RecentEventsShare("not json"), 0);
}

}  // namespace
}  // namespace embedrec::ml
