#include "ml/reranker.h"

#include <random>
#include <string>

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace embedrec::ml {
namespace {

constexpr int kItems = 300, kCategories = 10, kDim = 8;

int32_t CategoryOf(int32_t item) { return item % kCategories; }

// Each user views items of every category, then a last session of five
// views in one category; the held-out choice is an unseen item of that
// category when `session_predicts` (else of any category). The model's
// vectors are random: they know nothing of it.
struct Planted {
  Dataset data;
  std::vector<float> users, items;
  std::vector<int32_t> categories;
};

Planted Plant(bool session_predicts, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Interaction> train, test;
  for (int32_t u = 0; u < 600; ++u) {
    int64_t ts = 1'700'000'000;
    std::vector<bool> seen(kItems, false);
    for (int k = 0; k < 12; ++k) {
      const auto i = static_cast<int32_t>(rng() % kItems);
      seen[i] = true;
      train.push_back({u, i, 1.0f, ts += 3600});
    }
    const int32_t c = static_cast<int32_t>(rng() % kCategories);
    for (int k = 0; k < 5; ++k) {
      const auto i = static_cast<int32_t>(c + kCategories * (rng() % (kItems / kCategories)));
      seen[i] = true;
      train.push_back({u, i, 1.0f, ts += 60});
    }
    int32_t next;
    do {
      next = session_predicts ? static_cast<int32_t>(c + kCategories * (rng() % (kItems / kCategories)))
                              : static_cast<int32_t>(rng() % kItems);
    } while (seen[next]);
    test.push_back({u, next, 5.0f, ts += 60});
  }
  Planted p;
  p.data = MakeDataset(train, test, 600, kItems);
  std::normal_distribution<float> normal(0, 1);
  p.users.resize(600 * kDim);
  p.items.resize(kItems * kDim);
  for (auto& x : p.users) x = normal(rng);
  for (auto& x : p.items) x = normal(rng);
  for (int32_t i = 0; i < kItems; ++i) p.categories.push_back(CategoryOf(i));
  return p;
}

TEST(RerankerTest, LearnsThatTheLastSessionsCategoryPredicts) {
  Planted p = Plant(true, 3);
  RerankerFit fit = FitReranker(p.data, p.users.data(), p.items.data(), kDim, p.categories, 7);
  ASSERT_TRUE(fit.reranker.has_value()) << fit.reason;
  EXPECT_EQ(fit.users, 600);
  EXPECT_GT(fit.reranker->weight[2], 0);  // recent_category_share
  // Cross-fitted: judged on users the weights were not fitted on.
  EXPECT_GT(fit.reranked_ndcg_at_10, 2 * fit.ndcg_at_10);
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
  r.scale = {1, 1, 1, 1};
  r.weight = {0, -0.1, 2.0, 0};  // the session's category, then the model's order
  const std::vector<Reranker::Candidate> in_model_order = {
      {3.0, 0.0, 1.0}, {2.0, 0.6, 1.0}, {1.0, 0.0, 1.0}, {0.5, 0.2, 1.0}};
  EXPECT_EQ(r.Order(in_model_order), (std::vector<size_t>{1, 3, 0, 2}));
  const std::string meta = boost::json::serialize(boost::json::object{{"reranker", r.ToJson()}});
  auto back = Reranker::FromMetadata(meta);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->weight, r.weight);
  EXPECT_EQ(back->Order(in_model_order), r.Order(in_model_order));
  EXPECT_FALSE(Reranker::FromMetadata("{}").has_value());
  EXPECT_FALSE(Reranker::FromMetadata(R"({"reranker":{"mean":[0],"scale":[1],"weight":[1],"bias":0}})").has_value());
  EXPECT_FALSE(Reranker::FromMetadata("not json").has_value());
}

}  // namespace
}  // namespace embedrec::ml
