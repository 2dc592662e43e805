#include "training/served_judgement.h"

#include <gtest/gtest.h>

#include "ml/ml_test_util.h"
#include "ml/recency.h"

namespace embedrec::training {
namespace {

using ml::testing::PlantedSessions;

// ALS on the planted sessions: it learns the users' tastes, not that the
// last session's category is what they choose next.
std::unique_ptr<ml::Model> Trained(const ml::Dataset& data, ml::ModelType type) {
  auto model = ml::NewModel(type);
  ml::TrainOptions o = ml::testing::QuickOptions(std::string(ml::ModelTypeName(type)), 8);
  EXPECT_TRUE(model->Fit(data, o, nullptr).ok());
  return model;
}

TEST(ServedJudgementTest, JudgesTheSecondStageWhereItRanksBetter) {
  PlantedSessions p = ml::testing::PlantSessions(true, 3);
  auto model = Trained(p.data, ml::ModelType::kAls);
  const ServedJudgement j = JudgeAsServed(p.data, *model, ml::ModelType::kAls, {{5, 10, 20}, true, &p.categories, 7});
  ASSERT_TRUE(j.reranked()) << j.rerank->reason;
  EXPECT_GT(j.metrics.values.count("ndcg@5"), 0u);
  const ml::RerankerFit& r = *j.rerank;
  EXPECT_NEAR(j.ndcg, j.metrics.Get("ndcg@10") * r.reranked_ndcg_at_10 / r.ndcg_at_10, 1e-12);
  EXPECT_NEAR(j.hit_rate, j.metrics.Get("hit_rate@20") * r.reranked_hit_rate_at_20 / r.hit_rate_at_20, 1e-12);
  EXPECT_GT(j.ndcg, j.metrics.Get("ndcg@10"));
  // Without the second stage: the model's own figures.
  const ServedJudgement plain = JudgeAsServed(p.data, *model, ml::ModelType::kAls, {{10, 20}, false, &p.categories, 7});
  EXPECT_FALSE(plain.rerank.has_value());
  EXPECT_DOUBLE_EQ(plain.ndcg, plain.metrics.Get("ndcg@10"));
  EXPECT_DOUBLE_EQ(plain.hit_rate, plain.metrics.Get("hit_rate@20"));
}

TEST(ServedJudgementTest, ServesTheSteeredVectorsOnlyWhereTheyPredictBetter) {
  PlantedSessions p = ml::testing::PlantSessions(true, 5);
  auto model = Trained(p.data, ml::ModelType::kAls);
  const ServedJudgement j = JudgeAsServed(p.data, *model, ml::ModelType::kAls, {{10, 20}, false, nullptr, 7});
  ASSERT_TRUE(j.steered_ndcg.has_value());
  // The last session predicts here: steering by it wins (by more than the
  // share a search per request is worth) and is served.
  EXPECT_GT(*j.steered_ndcg, j.plain_ndcg * (1 + ml::Steering::kMinSeenGain));
  EXPECT_EQ(j.recent_share, ml::Steering::kSeenShare);
  EXPECT_NE(j.users(*model), model->user_embeddings().data());
  EXPECT_DOUBLE_EQ(j.metrics.Get("ndcg@10"), *j.steered_ndcg);
  // Where it does not, the model's own vectors are served.
  PlantedSessions q = ml::testing::PlantSessions(false, 5);
  auto other = Trained(q.data, ml::ModelType::kAls);
  const ServedJudgement k = JudgeAsServed(q.data, *other, ml::ModelType::kAls, {{10, 20}, false, nullptr, 7});
  // (Sessions planted at random here: steering does not gain the 1 % it needs.)
  ASSERT_TRUE(k.steered_ndcg.has_value());
  ASSERT_LE(*k.steered_ndcg, k.plain_ndcg * (1 + ml::Steering::kMinSeenGain));
  EXPECT_EQ(k.recent_share, 0);
  EXPECT_EQ(k.users(*other), other->user_embeddings().data());
  EXPECT_DOUBLE_EQ(k.ndcg, k.plain_ndcg);
}

TEST(ServedJudgementTest, PopularityIsNeitherSteeredNorReranked) {
  PlantedSessions p = ml::testing::PlantSessions(true, 3);
  auto model = Trained(p.data, ml::ModelType::kPopularity);
  const ServedJudgement j =
      JudgeAsServed(p.data, *model, ml::ModelType::kPopularity, {{10, 20}, true, &p.categories, 7});
  EXPECT_FALSE(j.steered_ndcg.has_value());
  EXPECT_FALSE(j.rerank.has_value());
  EXPECT_DOUBLE_EQ(j.ndcg, j.plain_ndcg);
}

}  // namespace
}  // namespace embedrec::training
