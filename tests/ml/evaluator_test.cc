#include "ml/evaluator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <filesystem>
#include <fstream>

namespace embedrec::ml {
namespace {

// `n_users` users, each with one training and one held-out item of
// `n_items`, and random embeddings of `d` dimensions.
struct RandomlyEmbedded {
  Dataset data;
  std::vector<float> users, items;
};
RandomlyEmbedded RandomlyEmbeddedSplit(int32_t n_users, int32_t n_items, int d, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> unit(-1, 1);
  std::vector<Interaction> train, test;
  for (int32_t u = 0; u < n_users; ++u) {
    train.push_back({u, u % n_items, 1, 0});
    test.push_back({u, (u * 7 + 3) % n_items, 1, 0});
  }
  RandomlyEmbedded r{MakeDataset(train, test, n_users, n_items),
                     std::vector<float>(static_cast<size_t>(n_users) * d),
                     std::vector<float>(static_cast<size_t>(n_items) * d)};
  for (auto& x : r.users) x = unit(rng);
  for (auto& x : r.items) x = unit(rng);
  return r;
}

TEST(EvaluatorTest, UserMetricsByHand) {
  // Ranked: 5 3 9 1 7; relevant: {1, 3, 8}.
  std::vector<int32_t> ranked = {5, 3, 9, 1, 7};
  std::vector<int32_t> rel = {1, 3, 8};
  std::map<std::string, double> m;
  AddUserMetrics(ranked, rel.data(), rel.data() + rel.size(), {2, 5}, &m);
  EXPECT_DOUBLE_EQ(m["recall@2"], 1.0 / 3);
  EXPECT_DOUBLE_EQ(m["precision@2"], 0.5);
  EXPECT_DOUBLE_EQ(m["hit_rate@2"], 1.0);
  EXPECT_DOUBLE_EQ(m["mrr@2"], 0.5);
  // DCG@2 = 1/log2(3); IDCG@2 = 1 + 1/log2(3).
  EXPECT_NEAR(m["ndcg@2"], (1 / std::log2(3.0)) / (1 + 1 / std::log2(3.0)), 1e-12);
  EXPECT_DOUBLE_EQ(m["recall@5"], 2.0 / 3);
  EXPECT_DOUBLE_EQ(m["precision@5"], 0.4);
  // DCG@5 = 1/log2(3) + 1/log2(5); IDCG over min(5, 3) = 3 positions.
  double idcg = 1 + 1 / std::log2(3.0) + 1 / std::log2(4.0);
  EXPECT_NEAR(m["ndcg@5"], (1 / std::log2(3.0) + 1 / std::log2(5.0)) / idcg, 1e-12);
  std::map<std::string, double> none;
  std::vector<int32_t> miss = {42};
  AddUserMetrics(ranked, miss.data(), miss.data() + 1, {5}, &none);
  EXPECT_EQ(none["hit_rate@5"], 0);
  EXPECT_EQ(none["mrr@5"], 0);
  EXPECT_EQ(none["ndcg@5"], 0);
}

TEST(EvaluatorTest, RanksAllUnseenItemsAndExcludesTraining) {
  // 2 users, 4 items, d = 1: scores are user * item.
  // User 0 trained on item 3 (the top score), held out item 2.
  // User 1 held out item 0; with a negative embedding item 0 scores best.
  Dataset d = MakeDataset({{0, 3, 1, 0}, {1, 1, 1, 0}}, {{0, 2, 1, 0}, {1, 0, 1, 0}});
  std::vector<float> users = {1.0f, -1.0f};
  std::vector<float> items = {0.1f, 0.2f, 0.3f, 0.4f};
  Metrics m = Evaluate(d, users.data(), items.data(), 1, {1, 2});
  EXPECT_EQ(m.users, 2);
  // User 0: ranking 2, 1, 0 (3 excluded) → hit at 1. User 1: 0, 2, 3 → hit at 1.
  EXPECT_DOUBLE_EQ(m.Get("recall@1"), 1.0);
  EXPECT_DOUBLE_EQ(m.Get("precision@2"), 0.5);
  // Top-1 lists {2} and {0}: 2 of 4 items.
  EXPECT_DOUBLE_EQ(m.Get("coverage@1"), 0.5);
}

TEST(EvaluatorTest, JudgedAsServedAViewedItemTakesASlot) {
  // User 0 viewed item 3 (weight 1, the top score) and bought item 0
  // (weight 3); held out item 2. Serving leaves only the purchase out, so
  // the viewed item ranks first and the held-out one second.
  Dataset d = MakeDataset({{0, 3, 1, 0}, {0, 0, 3, 0}, {1, 1, 1, 0}, {1, 0, 3, 0}}, {{0, 2, 1, 0}});
  // What serving never shows again: the purchases (views are shown again).
  const UserItems served = UserItems::FromInteractions(2, {{0, 0, 3, 0}, {1, 0, 3, 0}});
  ASSERT_EQ(served.num_users(), 2);
  EXPECT_EQ(std::vector<int32_t>(served.begin(0), served.end(0)), std::vector<int32_t>{0});
  EXPECT_EQ(std::vector<int32_t>(served.begin(1), served.end(1)), std::vector<int32_t>{0});
  std::vector<float> users = {1.0f, 1.0f};
  std::vector<float> items = {0.1f, 0.2f, 0.3f, 0.4f};
  EXPECT_DOUBLE_EQ(Evaluate(d, users.data(), items.data(), 1, {1, 2}).Get("hit_rate@1"), 1.0);
  const Metrics as_served = Evaluate(d, users.data(), items.data(), 1, {1, 2}, &served);
  EXPECT_DOUBLE_EQ(as_served.Get("hit_rate@1"), 0.0);
  EXPECT_DOUBLE_EQ(as_served.Get("hit_rate@2"), 1.0);
}

TEST(EvaluatorTest, ASampleOfUsersEstimatesTheFullFiguresWithItsStandardError) {
  // 4,000 users, 50 items, d = 2: every user's held-out item is ranked
  // somewhere by a random embedding; the sample's means must fall within a
  // few standard errors of the full evaluation's.
  auto [d, users, items] = RandomlyEmbeddedSplit(4000, 50, 2, 5);
  Metrics full = Evaluate(d, users.data(), items.data(), 2, {10});
  EXPECT_EQ(full.users, 4000);
  EXPECT_EQ(full.population, 4000);
  EXPECT_TRUE(full.std_errors.empty());

  SampleEvalUsers(&d, 500, 11);
  ASSERT_EQ(d.eval_users.size(), 500u);
  EXPECT_TRUE(std::is_sorted(d.eval_users.begin(), d.eval_users.end()));
  const std::vector<int32_t> first = d.eval_users;
  SampleEvalUsers(&d, 500, 11);
  EXPECT_EQ(d.eval_users, first);  // the same sample for the same seed
  Metrics part = Evaluate(d, users.data(), items.data(), 2, {10});
  EXPECT_EQ(part.users, 500);
  EXPECT_EQ(part.population, 4000);
  for (const char* name : {"hit_rate@10", "ndcg@10", "recall@10"}) {
    ASSERT_TRUE(part.std_errors.count(name)) << name;
    const double se = part.std_errors.at(name);
    EXPECT_GT(se, 0) << name;
    EXPECT_LT(se, 0.03) << name;
    EXPECT_NEAR(part.Get(name), full.Get(name), 4 * se) << name;
  }
  // No sample when there are not more users than asked for.
  SampleEvalUsers(&d, 4000, 11);
  EXPECT_TRUE(d.eval_users.empty());
}

TEST(EvaluatorTest, AsksAJobsStepAsideBetweenBlocksOfUsersAndRanksTheSame) {
  // 1,000 users with a held-out item: four blocks of 256, three asks between them.
  const auto [d, users, items] = RandomlyEmbeddedSplit(1000, 40, 4, 9);
  int asked = 0;
  StepAside aside([&] {
    ++asked;
    return false;  // no request waits: it never pauses
  });
  const Metrics plain = Evaluate(d, users.data(), items.data(), 4, {10});
  const Metrics stepping = Evaluate(d, users.data(), items.data(), 4, {10}, nullptr, &aside);
  EXPECT_EQ(asked, 3);
  EXPECT_EQ(stepping.values, plain.values);
  EXPECT_EQ(stepping.users, 1000);
}

TEST(DatasetTest, SplitHoldsOutTheLatestItemsPerUser) {
  std::vector<Interaction> all;
  for (int i = 0; i < 10; ++i) all.push_back({0, i, 1.0f, 100 + i});
  all.push_back({1, 0, 1.0f, 5});  // a single item: training only
  all.push_back({0, 9, 1.0f, 50});  // an older repeat of item 9: the latest counts
  std::vector<Interaction> train, test;
  SplitPerUser(all, {}, &train, &test);
  ASSERT_EQ(test.size(), 2u);
  for (const auto& t : test) EXPECT_TRUE(t.item == 8 || t.item == 9);
  EXPECT_EQ(train.size(), 9u);
  // Each user's next visit: their held-out items within an hour of the
  // earliest one; that one takes half the chance of coming next, the
  // visit's items share the other half.
  const Dataset d = MakeDataset(train, test);
  ASSERT_EQ(d.next_choices.num_users(), 2);
  EXPECT_EQ(std::vector<int32_t>(d.next_choices.begin(0), d.next_choices.end(0)), (std::vector<int32_t>{8, 9}));
  EXPECT_FLOAT_EQ(d.next_choices.WeightOf(0, 8), 0.75f);
  EXPECT_FLOAT_EQ(d.next_choices.WeightOf(0, 9), 0.25f);
  EXPECT_EQ(d.next_choices.degree(1), 0);
  const Dataset apart = MakeDataset(train, {{0, 8, 1.0f, 1000}, {0, 9, 1.0f, 1000 + 2 * Dataset::kSessionSeconds}});
  EXPECT_EQ(std::vector<int32_t>(apart.next_choices.begin(0), apart.next_choices.end(0)), (std::vector<int32_t>{8}));
  EXPECT_FLOAT_EQ(apart.next_choices.WeightOf(0, 8), 1.0f);
  EXPECT_EQ(MakeDataset(train, {{0, 8, 1.0f, 0}, {0, 9, 1.0f, 0}}).next_choices.size(), 0);  // no times
}

}  // namespace
}  // namespace embedrec::ml

namespace embedrec::ml {
namespace {

TEST(DatasetTest, CsvTypesBecomeWeightsAndNonPositivesAreSkipped) {
  auto path = std::filesystem::temp_directory_path() / "embedrec-types.csv";
  std::ofstream(path) << "user_id,item_id,interaction_type,timestamp\n"
                         "u1,p1,view,10\n"
                         "u1,p1,purchase,1970-01-01T00:00:20Z\n"
                         "u1,p2,remove_from_cart,30\n"
                         "u2,p2,add_to_cart,40\n"
                         "u2,p3,recommendations_shown,50\n";
  CsvIds ids;
  auto rows = ReadInteractionsCsv(path.string(), 0, &ids);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 3u);  // remove_from_cart and the impression are not positives
  EXPECT_EQ(ids.user_ids, (std::vector<std::string>{"u1", "u2"}));
  EXPECT_EQ(ids.item_ids, (std::vector<std::string>{"p1", "p2"}));
  Dataset d = MakeDataset(*rows, {});
  // u1–p1 keeps its purchase weight; u2–p2 is an add_to_cart.
  EXPECT_EQ(d.train.items, (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(d.train.weights, (std::vector<float>{5.0f, 3.0f}));
  EXPECT_EQ((*rows)[1].ts, 20);
}

}  // namespace
}  // namespace embedrec::ml
