// Score calibration recovers a known link between inner product and choice.
#include "ml/calibration.h"

#include "common/json_text.h"

#include <gtest/gtest.h>

#include <boost/json/object.hpp>

#include <cmath>
#include <random>

namespace embedrec::ml {
namespace {

TEST(ScoreCalibrationTest, RecoversAKnownLogisticLink) {
  // One dimension: every user is [1], item i is x_i in [-3, 3]; a user holds
  // item i out with probability sigmoid(2 x_i - 3).
  constexpr int kUsers = 3000, kItems = 200;
  Dataset data;
  data.n_users = kUsers;
  data.n_items = kItems;
  std::vector<float> users(kUsers, 1.0f), items(kItems);
  for (int i = 0; i < kItems; ++i) items[i] = static_cast<float>(-3 + 6.0 * i / (kItems - 1));
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> uni(0, 1);
  data.train.offsets.assign(kUsers + 1, 0);
  for (int u = 0; u < kUsers; ++u) {
    for (int i = 0; i < kItems; ++i) {
      if (uni(rng) < 1 / (1 + std::exp(-(2 * items[i] - 3)))) data.test.items.push_back(i);
    }
    data.test.offsets.push_back(static_cast<int64_t>(data.test.items.size()));
  }
  auto c = FitScoreCalibration(data, users.data(), items.data(), 1, {.seed = 5});
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_NEAR(c->a, 2.0, 0.15);
  EXPECT_NEAR(c->b, -3.0, 0.15);
  EXPECT_EQ(c->users, kUsers);
  EXPECT_EQ(c->positives, data.test.size());
  EXPECT_NEAR(c->Probability(1.5), 0.5, 0.05);
}

// Users and items as standard normal vectors in `dim` dimensions; user u
// holds out item i with probability p(u·i) (data.test; nothing in train).
struct Planted {
  int dim = 0;
  std::vector<float> users, items;
  Dataset data;
  double Ip(int u, int i) const {
    double ip = 0;
    for (int j = 0; j < dim; ++j) ip += users[u * dim + j] * items[i * dim + j];
    return ip;
  }
};

Planted PlantChoices(int n_users, int n_items, int dim, unsigned seed, double (*p)(double)) {
  Planted out;
  out.dim = dim;
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<double> uni(0, 1);
  out.users.resize(n_users * dim);
  out.items.resize(n_items * dim);
  for (auto& x : out.users) x = normal(rng);
  for (auto& x : out.items) x = normal(rng);
  out.data.n_users = n_users;
  out.data.n_items = n_items;
  out.data.train.offsets.assign(n_users + 1, 0);
  for (int u = 0; u < n_users; ++u) {
    for (int i = 0; i < n_items; ++i) {
      if (uni(rng) < p(out.Ip(u, i))) out.data.test.items.push_back(i);
    }
    out.data.test.offsets.push_back(static_cast<int64_t>(out.data.test.items.size()));
  }
  return out;
}

TEST(ScoreCalibrationTest, ATopKFitMatchesPrecisionWhereItemsAreShown) {
  // Users and items in 4 dimensions; a user holds out items with a
  // probability that is not logistic in the inner product (it saturates at
  // 0.25, as choices do: nobody buys everything they like): fitted on the
  // top 20, the mean score of the 10 best is within 10 % of their
  // precision; the fit over all items overshoots it.
  constexpr int kUsers = 800, kItems = 300, kDim = 4;
  const Planted planted =
      PlantChoices(kUsers, kItems, kDim, 3, [](double ip) { return 0.25 / (1 + std::exp(-(2 * ip - 4))); });
  const Dataset& data = planted.data;
  const std::vector<float>& users = planted.users;
  const std::vector<float>& items = planted.items;
  auto top = FitScoreCalibration(data, users.data(), items.data(), kDim, {.seed = 1, .top_k = 20});
  ASSERT_TRUE(top.ok()) << top.status().message();
  EXPECT_NEAR(top->mean_score_at_10 / top->precision_at_10, 1.0, 0.1);
  EXPECT_GT(top->precision_at_10, 0.05);
  // The same measure for the fit over all items.
  auto all = FitScoreCalibration(data, users.data(), items.data(), kDim, {.seed = 1});
  ASSERT_TRUE(all.ok());
  double score = 0;
  for (int u = 0; u < kUsers; ++u) {
    std::vector<double> ips;
    for (int i = 0; i < kItems; ++i) ips.push_back(planted.Ip(u, i));
    double norm = 0;
    for (int j = 0; j < kDim; ++j) norm += users[u * kDim + j] * users[u * kDim + j];
    std::partial_sort(ips.begin(), ips.begin() + 10, ips.end(), std::greater<>());
    for (int r = 0; r < 10; ++r) score += all->Probability(ips[r], std::sqrt(norm));
  }
  EXPECT_GT(std::abs(score / (10.0 * kUsers) / top->precision_at_10 - 1), 0.2);
  EXPECT_TRUE(all->ToJson().if_contains("mean_score@10") == nullptr);
  EXPECT_TRUE(top->ToJson().if_contains("mean_score@10") != nullptr);
}

TEST(ScoreCalibrationTest, OneChoicePerUserMatchesAProtocolThatWithholdsOneItem) {
  // Users hold out several items each (a 20 % split of a long history); a
  // shop's next visit, and the withheld-last-purchase protocol, has one
  // to find. Fitted with one choice per user, the mean score@10 matches the
  // precision@10 of lists judged against that one; the plain top-k fit
  // matches the split's precision, far higher.
  // Both ways to name the choice: the split's next visit per user
  // (next_choices, here one item each), or, when the split has no times,
  // any held-out item as likely (the expected hit of a draw).
  constexpr int kUsers = 1500, kItems = 300, kDim = 4;
  Planted planted =
      PlantChoices(kUsers, kItems, kDim, 21, [](double ip) { return 0.6 / (1 + std::exp(-(2 * ip - 5))); });
  Dataset& data = planted.data;
  const std::vector<float>& users = planted.users;
  const std::vector<float>& items = planted.items;
  auto ip_of = [&](int u, int i) { return planted.Ip(u, i); };
  std::mt19937 rng(22);
  // The protocol: `target[u]` the one item to find.
  auto protocol = [&](const std::vector<int32_t>& target, const ScoreCalibration& c) {
    double hits = 0, score = 0, n = 0;
    for (int u = 0; u < kUsers; ++u) {
      if (target[u] < 0) continue;
      std::vector<std::pair<double, int>> ips;
      for (int i = 0; i < kItems; ++i) ips.emplace_back(ip_of(u, i), i);
      std::partial_sort(ips.begin(), ips.begin() + 10, ips.end(), std::greater<>());
      double norm = 0;
      for (int j = 0; j < kDim; ++j) norm += users[u * kDim + j] * users[u * kDim + j];
      for (int r = 0; r < 10; ++r) hits += ips[r].second == target[u], score += c.Probability(ips[r].first, std::sqrt(norm));
      n += 10;
    }
    return std::pair(hits / n, score / n);
  };
  std::vector<int32_t> drawn(kUsers, -1);
  for (int u = 0; u < kUsers; ++u) {
    if (data.test.degree(u) > 0) drawn[u] = data.test.begin(u)[rng() % data.test.degree(u)];
  }
  CalibrationOptions opt{.seed = 2, .top_k = 20};
  auto split = FitScoreCalibration(data, users.data(), items.data(), kDim, opt);
  opt.one_choice_per_user = true;
  auto one = FitScoreCalibration(data, users.data(), items.data(), kDim, opt);  // any held-out item
  std::vector<Interaction> first;
  for (int u = 0; u < kUsers; ++u) {
    if (drawn[u] >= 0) first.push_back({u, drawn[u], 1.0f, 0});
  }
  data.next_choices = UserItems::FromInteractions(kUsers, first);  // as if these came first
  auto next = FitScoreCalibration(data, users.data(), items.data(), kDim, opt);
  ASSERT_TRUE(split.ok() && one.ok() && next.ok());
  EXPECT_TRUE(one->one_choice_per_user);
  const auto [precision, one_score] = protocol(drawn, *one);
  const auto [same, next_score] = protocol(drawn, *next);
  EXPECT_GT(split->precision_at_10, 2.5 * precision);  // several held out per user
  EXPECT_NEAR(one_score / precision, 1.0, 0.15);
  EXPECT_NEAR(next_score / precision, 1.0, 0.1);
  EXPECT_NEAR(next->precision_at_10, precision, 1e-12);  // the same targets, the same lists
  EXPECT_NEAR(next->mean_score_at_10 / next->precision_at_10, 1.0, 0.1);
  EXPECT_EQ(JsonText(one->ToJson().at("held_out")), "\"one next choice per user\"");
}

TEST(ScoreCalibrationTest, TheRerankersGainIsMeasuredOnTheListsAsServed) {
  // A reranker that keeps the model's order leaves the fit as it is; one
  // that turns the order round (the 100 candidates' worst first) shows
  // lists that hold almost no held-out item: the gain says so and the
  // scores drop with it.
  Planted planted =
      PlantChoices(600, 300, 4, 5, [](double ip) { return 0.3 / (1 + std::exp(-(2 * ip - 4))); });
  const std::vector<int32_t> no_categories;
  Reranker keep, reverse;
  for (int f = 0; f < Reranker::kFeatures; ++f) keep.scale[f] = reverse.scale[f] = 1;
  keep.weight[0] = 1;      // relative_score: the model's order
  reverse.weight[0] = -1;  // its reverse
  CalibrationOptions opt{.seed = 3, .top_k = 20, .one_choice_per_user = true, .item_category = &no_categories};
  auto plain = FitScoreCalibration(planted.data, planted.users.data(), planted.items.data(), 4, opt);
  opt.reranker = &keep;
  auto kept = FitScoreCalibration(planted.data, planted.users.data(), planted.items.data(), 4, opt);
  opt.reranker = &reverse;
  auto reversed = FitScoreCalibration(planted.data, planted.users.data(), planted.items.data(), 4, opt);
  ASSERT_TRUE(plain.ok() && kept.ok() && reversed.ok());
  EXPECT_EQ(kept->reranker_gain, 1.0);
  EXPECT_DOUBLE_EQ(kept->b, plain->b);
  EXPECT_LT(reversed->reranker_gain, 0.3);
  EXPECT_NEAR(reversed->precision_at_10, plain->precision_at_10 * reversed->reranker_gain, 1e-12);
  EXPECT_NEAR(reversed->mean_score_at_10 / reversed->precision_at_10, 1.0, 0.1);
  EXPECT_TRUE(reversed->ToJson().contains("reranker_gain"));
  EXPECT_FALSE(kept->ToJson().contains("reranker_gain"));
}

TEST(ScoreCalibrationTest, AnInterceptIsFoundForAMeanScoreAtTen) {
  // A refit model: the slope is kept, the intercept moved so that the mean
  // score of every user's 10 best unseen items is the target.
  constexpr int kUsers = 300, kItems = 80, kDim = 3;
  std::mt19937 rng(9);
  std::normal_distribution<float> normal;
  std::vector<float> users(kUsers * kDim), items(kItems * kDim);
  for (auto& x : users) x = normal(rng);
  for (auto& x : items) x = normal(rng);
  std::vector<Interaction> train;
  for (int u = 0; u < kUsers; ++u) train.push_back({u, u % kItems, 1.0f, 0});
  Dataset data = MakeDataset(train, {}, kUsers, kItems);
  ScoreCalibration c;
  c.a = 1.7;
  c.b = 3;
  ASSERT_TRUE(MatchMeanScoreAtTen(data, users.data(), items.data(), kDim, 0.08, &c).ok());
  EXPECT_DOUBLE_EQ(c.a, 1.7);
  double sum = 0;
  for (int u = 0; u < kUsers; ++u) {
    std::vector<double> ips;
    for (int i = 0; i < kItems; ++i) {
      if (i == u % kItems) continue;  // seen
      double ip = 0;
      for (int j = 0; j < kDim; ++j) ip += users[u * kDim + j] * items[i * kDim + j];
      ips.push_back(ip);
    }
    std::partial_sort(ips.begin(), ips.begin() + 10, ips.end(), std::greater<>());
    for (int r = 0; r < 10; ++r) sum += c.Probability(ips[r]);
  }
  EXPECT_NEAR(sum / (10.0 * kUsers), 0.08, 1e-6);
  EXPECT_FALSE(MatchMeanScoreAtTen(data, users.data(), items.data(), kDim, 1.5, &c).ok());
}

TEST(ScoreCalibrationTest, TheMatchRanksTheViewedItemsServingShowsAgain) {
  // Each user viewed (weight 1) the item their vector points at most, and
  // bought (weight 5) another. Serving excludes purchases only: the viewed
  // item is among the 10 best it shows, so matching over what is shown
  // needs a lower intercept than matching over unseen items alone.
  constexpr int kUsers = 200, kItems = 60, kDim = 4;
  std::mt19937 rng(4);
  std::normal_distribution<float> normal;
  std::vector<float> users(kUsers * kDim), items(kItems * kDim);
  for (auto& x : items) x = normal(rng);
  std::vector<Interaction> train, purchases;
  for (int u = 0; u < kUsers; ++u) {
    const int viewed = u % kItems, bought = (u + 7) % kItems;
    for (int j = 0; j < kDim; ++j) users[u * kDim + j] = 3 * items[viewed * kDim + j] + 0.1f * normal(rng);
    train.push_back({u, viewed, 1.0f, 0});
    train.push_back({u, bought, 5.0f, 1});
    purchases.push_back({u, bought, 5.0f, 1});
  }
  const UserItems never_shown = UserItems::FromInteractions(kUsers, purchases);
  Dataset data = MakeDataset(train, {}, kUsers, kItems);
  EXPECT_EQ(data.train.WeightOf(0, 0), 1.0f);
  EXPECT_EQ(data.train.WeightOf(0, 7), 5.0f);
  EXPECT_EQ(data.train.WeightOf(0, 8), 0.0f);
  ScoreCalibration unseen, shown;
  unseen.a = shown.a = 1;
  ASSERT_TRUE(MatchMeanScoreAtTen(data, users.data(), items.data(), kDim, 0.05, &unseen).ok());
  ASSERT_TRUE(MatchMeanScoreAtTen(data, users.data(), items.data(), kDim, 0.05, &shown, 2000, &never_shown).ok());
  EXPECT_LT(shown.b, unseen.b - 0.5);
}

TEST(ScoreCalibrationTest, NothingHeldOutIsAnError) {
  Dataset data;
  data.n_users = 2;
  data.n_items = 3;
  data.train.offsets = {0, 0, 0};
  data.test.offsets = {0, 0, 0};
  std::vector<float> users(2, 1.0f), items(3, 1.0f);
  EXPECT_FALSE(FitScoreCalibration(data, users.data(), items.data(), 1, {.seed = 1}).ok());
  EXPECT_DOUBLE_EQ(ScoreCalibration{}.Probability(0), 0.5);  // the identity link
}

// 200 users (all [1]) and 50 items on a line (item i scores i); user u held
// out item first + u % 3.
struct Line {
  Dataset data;
  std::vector<float> users = std::vector<float>(200, 1.0f), items = std::vector<float>(50);
  explicit Line(int first) {
    data.n_users = 200;
    data.n_items = 50;
    data.train.offsets.assign(201, 0);
    for (int i = 0; i < 50; ++i) items[i] = static_cast<float>(i);
    for (int u = 0; u < 200; ++u) {
      data.test.items.push_back(first + u % 3);
      data.test.offsets.push_back(static_cast<int64_t>(data.test.items.size()));
    }
  }
};

TEST(ScoreCalibrationTest, AModelThatRanksHeldOutItemsLastIsNotCalibrated) {
  // Held-out items have the lowest inner products: an increasing link cannot fit.
  Line line(0);
  EXPECT_FALSE(FitScoreCalibration(line.data, line.users.data(), line.items.data(), 1, {.seed = 1}).ok());
}

TEST(ScoreCalibrationTest, ATopKFitThatDoesNotIncreaseIsFlatAtTheShownBaseRate) {
  // Among each user's 20 best (items 30..49), the held-out ones are the
  // lowest: scores become nearly flat at the rate of held-out items shown
  // (1 in 20), still increasing (each user's order is kept).
  Line line(30);
  auto c = FitScoreCalibration(line.data, line.users.data(), line.items.data(), 1, {.seed = 1, .max_users = 2000, .top_k = 20});
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_TRUE(c->floored_slope);
  EXPECT_GT(c->a, 0);
  EXPECT_NEAR(c->Probability(40), 0.05, 0.005);
  EXPECT_GT(c->Probability(49), c->Probability(30));
  EXPECT_TRUE(c->ToJson().at("floored_slope").as_bool());
}

TEST(ScoreCalibrationTest, ReadBackFromModelMetadata) {
  ScoreCalibration c;
  c.a = 1.75;
  c.b = -4.5;
  const std::string meta = "{\"version\":\"v1\",\"score_calibration\":" + JsonText(c.ToJson()) + "}";
  const auto back = ScoreCalibration::FromMetadata(meta);
  EXPECT_DOUBLE_EQ(back.a, 1.75);
  EXPECT_DOUBLE_EQ(back.b, -4.5);
  EXPECT_FALSE(back.per_user_norm);
  c.per_user_norm = true;
  const auto normed = ScoreCalibration::FromMetadata(
      "{\"score_calibration\":" + JsonText(c.ToJson()) + "}");
  EXPECT_TRUE(normed.per_user_norm);
  EXPECT_DOUBLE_EQ(normed.Probability(3.5, 2.0), back.Probability(1.75));  // ip / ‖user‖
  for (const char* bad : {"", "not json", "{}", R"({"score_calibration":null})",
                          R"({"score_calibration":{"a":"x","b":1}})"}) {
    const auto id = ScoreCalibration::FromMetadata(bad);
    EXPECT_EQ(id.a, 1) << bad;
    EXPECT_EQ(id.b, 0) << bad;
  }
}

}  // namespace
}  // namespace embedrec::ml
