#include "ml/reranker.h"

#include <random>
#include <string>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "ml/ml_test_util.h"

namespace embedrec::ml {
namespace {

constexpr int kItems = testing::PlantedSessions::kItems, kDim = 8;

// The planted sessions (ml_test_util.h) with random model vectors: the
// model knows nothing of them.
struct Planted {
  Dataset data;
  std::vector<float> users, items;
  std::vector<int32_t> categories;
};

Planted Plant(bool session_predicts, uint64_t seed) {
  testing::PlantedSessions s = testing::PlantSessions(session_predicts, seed);
  Planted p{std::move(s.data), {}, {}, std::move(s.categories)};
  std::mt19937_64 rng(seed + 1);
  std::normal_distribution<float> normal(0, 1);
  p.users.resize(testing::PlantedSessions::kUsers * kDim);
  p.items.resize(kItems * kDim);
  for (auto& x : p.users) x = normal(rng);
  for (auto& x : p.items) x = normal(rng);
  return p;
}

TEST(RerankerTest, LearnsThatTheLastSessionsCategoryPredicts) {
  Planted p = Plant(true, 3);
  RerankerFit fit = FitReranker(p.data, p.users.data(), p.items.data(), kDim, p.categories, 7);
  ASSERT_TRUE(fit.reranker.has_value()) << fit.reason;
  EXPECT_EQ(fit.users, 600);
  // The session's category weighs up (as a share and as its log).
  const auto in_session = Reranker::Features({{1.0, 0.6, 1.0}}), outside = Reranker::Features({{1.0, 0.0, 1.0}});
  EXPECT_GT(fit.reranker->Score(in_session[0]), fit.reranker->Score(outside[0]) + 1);
  // Cross-fitted: judged on users the weights were not fitted on.
  EXPECT_GT(fit.reranked_ndcg_at_10, 2 * fit.ndcg_at_10);
  EXPECT_GT(fit.reranked_hit_rate_at_20, fit.hit_rate_at_20);
}

TEST(RerankerTest, AsksAJobsStepAsideBetweenBlocksOfUsersAndFitsTheSame) {
  Planted p = Plant(true, 3);
  int asked = 0;
  StepAside aside([&] {
    ++asked;
    return false;
  });
  const RerankerFit plain = FitReranker(p.data, p.users.data(), p.items.data(), kDim, p.categories, 7);
  const RerankerFit stepping =
      FitReranker(p.data, p.users.data(), p.items.data(), kDim, p.categories, 7, nullptr, &aside);
  EXPECT_EQ(asked, 2);  // 600 users: blocks of 256, 256 and 88
  ASSERT_TRUE(stepping.reranker.has_value());
  EXPECT_EQ(stepping.reranked_ndcg_at_10, plain.reranked_ndcg_at_10);
  EXPECT_EQ(stepping.ndcg_at_10, plain.ndcg_at_10);
}

TEST(RerankerTest, WithWhatTheUserHadLeftInTellsItApartFromTheSessionsCategory) {
  // As served where only purchases are left out (every training pair here
  // is a view, so none): the session's viewed items are candidates, never
  // the one chosen next. The "had" signal takes them down; the session's
  // category still weighs up.
  Planted p = Plant(true, 3);
  UserItems none;  // nothing masked
  none.offsets.assign(p.data.n_users + 1, 0);
  RerankerFit fit = FitReranker(p.data, p.users.data(), p.items.data(), kDim, p.categories, 7, &none);
  ASSERT_TRUE(fit.reranker.has_value()) << fit.reason;
  const auto f = Reranker::Features({{1.0, 0.6, 1.0, false}, {1.0, 0.6, 1.0, true}, {1.0, 0.0, 1.0, false}});
  EXPECT_GT(fit.reranker->Score(f[0]), fit.reranker->Score(f[1]) + 1);  // had it: down
  EXPECT_GT(fit.reranker->Score(f[0]), fit.reranker->Score(f[2]) + 1);  // the session's category: up
  EXPECT_GT(fit.reranked_hit_rate_at_20, fit.hit_rate_at_20);
}

TEST(RerankerTest, IsNotKeptWhenItsSignalsPredictNothing) {
  Planted p = Plant(false, 3);
  RerankerFit fit = FitReranker(p.data, p.users.data(), p.items.data(), kDim, p.categories, 7);
  EXPECT_FALSE(fit.reranker.has_value()) << fit.reranked_ndcg_at_10 << " vs " << fit.ndcg_at_10 << " hit "
                                         << fit.reranked_hit_rate_at_20 << " vs " << fit.hit_rate_at_20;
  EXPECT_FALSE(fit.reason.empty());
  // Nor without categories, where the session was the only signal.
  Planted q = Plant(true, 3);
  fit = FitReranker(q.data, q.users.data(), q.items.data(), kDim, {}, 7);
  EXPECT_FALSE(fit.reranker.has_value()) << fit.reranked_ndcg_at_10 << " vs " << fit.ndcg_at_10;
}

TEST(RerankerTest, TooFewUsersFitNothing) {
  Planted p = Plant(true, 3);
  std::vector<Interaction> test;
  for (int32_t u = 0; u < 10; ++u) test.push_back({u, p.data.test.begin(u)[0], 5.0f, 0});
  Dataset small = MakeDataset(p.data.train_events, test, 600, kItems);
  RerankerFit fit = FitReranker(small, p.users.data(), p.items.data(), kDim, p.categories, 7);
  EXPECT_FALSE(fit.reranker.has_value());
  EXPECT_NE(fit.reason.find("too few"), std::string::npos);
}

TEST(RerankerTest, OrdersByItsWeightsAndRoundTripsThroughMetadata) {
  Reranker r;
  r.scale = {1, 1, 1, 1, 1, 1};
  r.weight = {0, -0.1, 2.0, 0, 0, 0};  // the session's category, then the model's order
  const std::vector<Reranker::Candidate> in_model_order = {
      {3.0, 0.0, 1.0}, {2.0, 0.6, 1.0}, {1.0, 0.0, 1.0}, {0.5, 0.2, 1.0}};
  EXPECT_EQ(r.Order(in_model_order), (std::vector<size_t>{1, 3, 0, 2}));
  const std::string meta = boost::json::serialize(boost::json::object{{"reranker", r.ToJson()}});
  auto back = Reranker::FromMetadata(meta);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->weight, r.weight);
  EXPECT_EQ(back->recent_events, Reranker::kRecentEvents);
  EXPECT_EQ(back->Order(in_model_order), r.Order(in_model_order));
  EXPECT_FALSE(Reranker::FromMetadata("{}").has_value());
  EXPECT_FALSE(Reranker::FromMetadata(R"({"reranker":{"mean":[0],"scale":[1],"weight":[1],"bias":0}})").has_value());
  EXPECT_FALSE(Reranker::FromMetadata("not json").has_value());
}

TEST(RerankerTest, ReadsFeaturesByNameAndOlderFilesWithoutTheNewOnes) {
  // A model file written before the log share existed (four features), and
  // one naming a feature this build does not know: what is named is read,
  // the rest weighs nothing.
  auto old = Reranker::FromMetadata(
      R"({"reranker":{"features":["relative_score","log_position","recent_category_share","log_users"],)"
      R"("mean":[0.5,1,0.1,2],"scale":[2,1,3,0.5],"weight":[1,-0.2,0.7,0.3],"bias":-4}})");
  ASSERT_TRUE(old.has_value());
  EXPECT_EQ(old->weight, (std::array<double, Reranker::kFeatures>{1, -0.2, 0.7, 0.3, 0, 0}));
  EXPECT_EQ(old->mean[3], 2);
  EXPECT_EQ(old->scale[2], 3);
  EXPECT_EQ(old->bias, -4);
  EXPECT_EQ(old->recent_events, 10u);  // none written: this build's window
  auto seven = Reranker::FromMetadata(
      R"({"reranker":{"features":["log_users"],"mean":[1],"scale":[1],"weight":[1],"bias":0,"recent_events":7}})");
  ASSERT_TRUE(seven.has_value());
  EXPECT_EQ(seven->recent_events, 7u);
  EXPECT_FALSE(Reranker::FromMetadata(
                   R"({"reranker":{"features":["log_users"],"mean":[1],"scale":[1],"weight":[1],"bias":0,"recent_events":0}})")
                   .has_value());
  auto reordered = Reranker::FromMetadata(
      R"({"reranker":{"features":["from_the_future","log_users","relative_score"],)"
      R"("mean":[9,2,0.5],"scale":[9,0.5,2],"weight":[9,0.3,1],"bias":0}})");
  ASSERT_TRUE(reordered.has_value());
  EXPECT_EQ(reordered->weight, (std::array<double, Reranker::kFeatures>{1, 0, 0, 0.3, 0, 0}));
  // Arrays that do not match the names: malformed.
  EXPECT_FALSE(Reranker::FromMetadata(
                   R"({"reranker":{"features":["log_users","relative_score"],"mean":[1],"scale":[1],"weight":[1],"bias":0}})")
                   .has_value());
  EXPECT_FALSE(Reranker::FromMetadata(
                   R"({"reranker":{"features":[1,2],"mean":[1,1],"scale":[1,1],"weight":[1,1],"bias":0}})")
                   .has_value());
}

}  // namespace
}  // namespace embedrec::ml
