// Every model behind the Model interface: learning, fold-in, save/load.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>

#include "ml/ml_test_util.h"
#include "ml/model.h"
#include "ml/model_file.h"

namespace embedrec::ml {
namespace {

TEST(BaselinesTest, EveryModelLearnsPlantedTastesAndPopularityDoesNot) {
  Dataset d = testing::PlantedSplit(11);
  std::map<std::string, double> recall;
  for (std::string type : {"popularity", "bpr_mf", "als", "lightgcn", "ease", "item_knn"}) {
    auto m = testing::NewNamed(type);
    ASSERT_NE(m, nullptr) << type;
    ASSERT_TRUE(m->Fit(d, testing::QuickOptions(type), nullptr).ok()) << type;
    EXPECT_EQ(m->user_embeddings().size(), static_cast<size_t>(d.n_users) * m->dim()) << type;
    recall[type] = Evaluate(d, m->user_embeddings().data(), m->item_embeddings().data(),
                            m->dim(), {10}).Get("recall@10");
  }
  // Chance is ~0.11; knowing the user's half, ~0.22.
  EXPECT_LT(recall["popularity"], 0.17);
  for (const char* t : {"bpr_mf", "als", "lightgcn", "ease", "item_knn"}) EXPECT_GT(recall[t], 0.18) << t;
  EXPECT_FALSE(ParseModelType("nope"));
  for (ModelType t : AllModelTypes()) {
    EXPECT_EQ(ParseModelType(ModelTypeName(t)), t);
    EXPECT_EQ(NewModel(t)->name(), ModelTypeName(t));
  }
}

TEST(BaselinesTest, PopularityDecaysWithAgeAndSumsWeights) {
  // Item 0: one old heavy event; item 1: two fresh light ones; item 2: nothing.
  std::vector<Interaction> train = {{0, 0, 3.0f, 1000}, {1, 1, 1.0f, 1000 + 60 * 86400},
                                    {2, 1, 1.0f, 1000 + 60 * 86400}, {2, 2, 0.0f, 1}};
  Dataset d = MakeDataset(train, {});
  TrainOptions o;
  o.half_life_days = 30;  // item 0 is 60 days old: 3 / 4 = 0.75
  auto m = NewPopularity();
  ASSERT_TRUE(m->Fit(d, o, nullptr).ok());
  EXPECT_NEAR(m->item_embeddings()[0], 0.75, 1e-5);
  EXPECT_NEAR(m->item_embeddings()[1], 2.0, 1e-5);
}


TEST(FoldInTest, ANewUserGetsRecommendationsFromTheirItems) {
  // Fold in a user who liked three items of the first half: the first half
  // must outscore the second for every model but popularity.
  Dataset d = MakeDataset(testing::PlantedHalves(200, 50, 12, 5), {});
  for (std::string type : {"bpr_mf", "als", "lightgcn", "popularity", "ease", "item_knn"}) {
    auto m = testing::NewNamed(type);
    EXPECT_EQ(m->FoldIn({{0, 1.0f}}).status().code(), StatusCode::kFailedPrecondition);
    ASSERT_TRUE(m->Fit(d, testing::QuickOptions(type), nullptr).ok());
    auto e = m->FoldIn({{3, 1.0f}, {17, 2.0f}, {30, 1.0f}});
    ASSERT_TRUE(e.ok()) << type;
    ASSERT_EQ(static_cast<int>(e->size()), m->dim());
    double first = 0, second = 0;
    for (int i = 0; i < 100; ++i) {
      double s = 0;
      for (int j = 0; j < m->dim(); ++j) s += (*e)[j] * m->item_embeddings()[i * m->dim() + j];
      (i < 50 ? first : second) += s;
    }
    if (type != "popularity") {
      EXPECT_GT(first, second) << type;
    }
    EXPECT_EQ(m->FoldIn({}).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(m->FoldIn({{100, 1.0f}}).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(m->FoldIn({{1, 0.0f}}).status().code(), StatusCode::kInvalidArgument);
  }
}

TEST(SamplerWeightsTest, RepeatedEventsKeepTheHighestWeight) {
  UserItems ui = UserItems::FromInteractions(
      2, {{0, 5, 1.0f, 0}, {0, 5, 5.0f, 0}, {0, 2, 3.0f, 0}, {1, 1, 1.0f, 0}});
  ASSERT_EQ(ui.items, (std::vector<int32_t>{2, 5, 1}));
  EXPECT_EQ(ui.weights, (std::vector<float>{3.0f, 5.0f, 1.0f}));
  UserItems plain = UserItems::FromInteractions(1, {{0, 1, 1.0f, 0}, {0, 1, 1.0f, 0}});
  EXPECT_TRUE(plain.weights.empty());
}


TEST(SplitTest, TrainingKeepsEveryEventOfItsPairsAndAHeldOutPairWeighsItsStrongest) {
  // User 0: item 1 viewed, bought, viewed again last (the latest pair, held
  // out as a purchase). User 1: item 1 viewed then bought first (kept, both
  // events), item 5 last (held out).
  std::vector<Interaction> all = {{0, 1, 1.0f, 10}, {0, 1, 5.0f, 20}, {0, 1, 1.0f, 30}, {0, 2, 1.0f, 5},
                                  {0, 3, 1.0f, 6},  {0, 4, 1.0f, 7},  {0, 5, 1.0f, 8},  {1, 1, 1.0f, 1},
                                  {1, 1, 5.0f, 2},  {1, 2, 1.0f, 10}, {1, 3, 1.0f, 11}, {1, 4, 1.0f, 12},
                                  {1, 5, 1.0f, 13}};
  std::vector<Interaction> train, test;
  SplitPerUser(all, {.fraction = 0.2, .seed = 1, .min_items = 2, .temporal = true}, &train, &test);
  ASSERT_EQ(test.size(), 2u);
  EXPECT_EQ(test[0].user, 0);
  EXPECT_EQ(test[0].item, 1);
  EXPECT_EQ(test[0].weight, 5.0f);  // its strongest event
  EXPECT_EQ(test[0].ts, 30);        // dated by its latest
  EXPECT_EQ(test[1].item, 5);
  EXPECT_EQ(train.size(), 4u + 5u);  // user 0: items 2-5; user 1: both events of item 1, items 2-4
  EXPECT_EQ(std::count_if(train.begin(), train.end(), [](const Interaction& x) { return x.user == 1 && x.item == 1; }), 2);
  for (const auto& x : train) EXPECT_FALSE(x.user == 0 && x.item == 1);
}

TEST(SplitTest, StrongestTypeOnlyHoldsOutTheLatestPurchaseAndKeepsTheViewsAroundIt) {
  // Each user views items 0-5 and buys items 1 and 4 (item 4 last), then
  // views item 6 after buying: only the latest purchase is held out; the
  // views (even the later one) and the earlier purchase stay in training.
  std::vector<Interaction> all;
  for (int32_t u = 0; u < 3; ++u) {
    for (int32_t i = 0; i < 6; ++i) all.push_back({u, i, 1.0f, 10 + i});
    all.push_back({u, 1, 5.0f, 20});
    all.push_back({u, 4, 5.0f, 30});
    all.push_back({u, 6, 1.0f, 40});
  }
  std::vector<Interaction> train, test;
  SplitPerUser(all, {.fraction = 0.2, .strongest_type_only = true}, &train, &test);
  ASSERT_EQ(test.size(), 3u);
  for (const auto& x : test) {
    EXPECT_EQ(x.item, 4);
    EXPECT_EQ(x.weight, 5.0f);  // the pair weighs its strongest event
  }
  EXPECT_EQ(train.size(), all.size() - 6);  // item 4's view and purchase, per user
  for (const auto& x : train) EXPECT_NE(x.item, 4);
  // The plain split holds out the latest 20 % of items whatever their type:
  // the view after the purchase.
  SplitPerUser(all, {.fraction = 0.2}, &train, &test);
  ASSERT_EQ(test.size(), 3u);
  for (const auto& x : test) EXPECT_EQ(x.item, 6);
  // One type only: the two modes agree.
  std::vector<Interaction> same;
  for (const auto& x : all) same.push_back({x.user, x.item, 1.0f, x.ts});
  std::vector<Interaction> train2, test2;
  SplitPerUser(same, {.fraction = 0.2, .strongest_type_only = true}, &train, &test);
  SplitPerUser(same, {.fraction = 0.2}, &train2, &test2);
  EXPECT_EQ(test.size(), test2.size());
  EXPECT_EQ(train.size(), train2.size());
}

TEST(SaveLoadTest, ARestoredModelServesAndFoldsInLikeTheTrainedOne) {
  Dataset d = MakeDataset(testing::PlantedHalves(120, 40, 10, 9), {});
  Model::ItemWeights items = {{1, 1.0f}, {7, 3.0f}};
  for (std::string type : {"lightgcn", "bpr_mf", "als", "popularity", "ease", "item_knn"}) {
    auto m = testing::NewNamed(type);
    EXPECT_EQ(m->Export().status().code(), StatusCode::kFailedPrecondition);
    TrainOptions o = testing::QuickOptions(type, 8);
    o.epochs = 3;
    ASSERT_TRUE(m->Fit(d, o, nullptr).ok());
    auto a = m->Export();
    ASSERT_TRUE(a.ok()) << type;
    // Through the file format, as a server would load it.
    auto decoded = DecodeModel(EncodeModel(*a));
    ASSERT_TRUE(decoded.ok());
    auto loaded = LoadModel(*decoded);
    ASSERT_TRUE(loaded.ok()) << type << ": " << loaded.status().ToString();
    EXPECT_EQ((*loaded)->name(), type);
    EXPECT_EQ((*loaded)->user_embeddings(), m->user_embeddings());
    EXPECT_EQ((*loaded)->item_embeddings(), m->item_embeddings());
    auto want = m->FoldIn(items);
    auto got = (*loaded)->FoldIn(items);
    ASSERT_TRUE(want.ok() && got.ok()) << type;
    for (size_t j = 0; j < want->size(); ++j) EXPECT_NEAR((*got)[j], (*want)[j], 1e-5) << type;
  }
  ModelArtifact wrong;
  wrong.model_type = "nope";
  EXPECT_EQ(LoadModel(wrong).status().code(), StatusCode::kInvalidArgument);
  ModelArtifact als;
  als.model_type = "als";
  als.dim = 2;
  als.n_users = 1;
  als.n_items = 1;
  als.user_emb = {1, 2};
  als.item_emb = {3, 4};
  EXPECT_EQ(LoadModel(als).status().code(), StatusCode::kInvalidArgument);  // no alpha/lambda
  als.params_json = R"({"alpha":10,"lambda":0.1})";
  EXPECT_TRUE(LoadModel(als).ok());
  als.item_emb = {3};
  EXPECT_EQ(LoadModel(als).status().code(), StatusCode::kInvalidArgument);  // sizes
}

TEST(ItemItemTest, FactoredEaseAtFullRankScoresAsTheExactSolution) {
  // 30 items, rank 30: x_u·L·Vᵀ must equal x_u·B / ‖x_u‖ with B from the closed form,
  // computed here independently in double precision.
  Dataset d = MakeDataset(testing::PlantedHalves(80, 15, 8, 4), {});
  const int n = d.n_items;
  TrainOptions o = testing::QuickOptions("ease", n);
  o.lambda = 5;
  auto m = NewEase();
  ASSERT_TRUE(m->Fit(d, o, nullptr).ok());
  ASSERT_EQ(m->dim(), n);
  std::vector<double> x(static_cast<size_t>(d.n_users) * n, 0.0);
  for (int32_t u = 0; u < d.n_users; ++u) {
    for (int64_t p = d.train.offsets[u]; p < d.train.offsets[u + 1]; ++p) {
      const float w = d.train.weights.empty() ? 1.0f : d.train.weights[p];
      x[u * n + d.train.items[p]] = std::log1p(w);
    }
  }
  std::vector<double> g(n * n, 0.0);
  for (int32_t u = 0; u < d.n_users; ++u)
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) g[i * n + j] += x[u * n + i] * x[u * n + j];
  for (int i = 0; i < n; ++i) g[i * n + i] += o.lambda;
  // Gauss-Jordan inverse.
  std::vector<double> inv(n * n, 0.0);
  for (int i = 0; i < n; ++i) inv[i * n + i] = 1;
  for (int c = 0; c < n; ++c) {
    const double piv = g[c * n + c];
    for (int j = 0; j < n; ++j) g[c * n + j] /= piv, inv[c * n + j] /= piv;
    for (int r = 0; r < n; ++r) {
      if (r == c) continue;
      const double f = g[r * n + c];
      for (int j = 0; j < n; ++j) g[r * n + j] -= f * g[c * n + j], inv[r * n + j] -= f * inv[c * n + j];
    }
  }
  double worst = 0;
  for (int32_t u = 0; u < d.n_users; ++u) {
    double norm = 0;  // the user's input is scaled to unit length
    for (int i = 0; i < n; ++i) norm += x[u * n + i] * x[u * n + i];
    for (int j = 0; j < n; ++j) {
      double exact = 0;
      for (int i = 0; i < n; ++i) {
        if (i != j) exact += x[u * n + i] * (-inv[i * n + j] / inv[j * n + j]);
      }
      exact /= std::sqrt(norm);
      double got = 0;
      for (int k = 0; k < n; ++k) got += m->user_embeddings()[u * n + k] * m->item_embeddings()[j * n + k];
      worst = std::max(worst, std::abs(got - exact));
    }
  }
  EXPECT_LT(worst, 2e-3);
  // Too large a catalog is refused with a clear error.
  EXPECT_GT(kMaxItemItemItems, 10000);
}

TEST(ItemItemTest, UsersWhoseEventsDecayedToAlmostNothingStillGetFiniteVectors) {
  // item_knn decays inputs by age from the newest event: users active 20
  // years before it weigh ~1e-70, which once overflowed their unit scaling.
  std::vector<Interaction> all = testing::PlantedHalves(200, 50, 12, 4);
  for (auto& e : all) e.ts = e.user < 100 ? 1'000'000'000 : 1'000'000'000 + 20LL * 365 * 86400;
  Dataset data = MakeDataset(all, {});
  auto model = testing::NewNamed("item_knn");
  ASSERT_TRUE(model->Fit(data, testing::QuickOptions("item_knn"), nullptr).ok());
  const auto& u = model->user_embeddings();
  EXPECT_TRUE(std::all_of(u.begin(), u.end(), [](float x) { return std::isfinite(x); }));
  double first = 0;
  for (int j = 0; j < model->dim(); ++j) first += std::abs(u[j]);
  EXPECT_GT(first, 0);  // an old user still has a direction
  auto q = model->FoldIn({{1, 1e-30f}, {2, 1e-31f}});
  ASSERT_TRUE(q.ok());
  EXPECT_TRUE(std::all_of(q->begin(), q->end(), [](float x) { return std::isfinite(x); }));
}

TEST(ItemItemTest, WithoutAHalfLifeItemKnnDecaysOverTheDatasOwnTimeSpread) {
  // 160 users with planted tastes last seen 20 years before 40 recent users
  // of random items (ratings gathered over decades): a 30-day decay leaves
  // the co-occurrences to the random users; the data's own half-life (the
  // median user's lag: 20 years) keeps the tastes.
  const int64_t old_ts = 1'000'000'000, new_ts = old_ts + 20LL * 365 * 86400;
  std::vector<Interaction> all = testing::PlantedHalves(160, 50, 12, 5);
  for (auto& e : all) e.ts = old_ts + e.user;
  std::mt19937_64 rng(9);
  for (int32_t u = 160; u < 200; ++u) {
    for (int k = 0; k < 12; ++k) all.push_back({u, static_cast<int32_t>(rng() % 100), 1.0f, new_ts});
  }
  std::vector<Interaction> train, test;
  SplitPerUser(all, {.fraction = 0.2, .seed = 1, .min_items = 2, .temporal = false}, &train, &test);
  std::erase_if(test, [](const Interaction& e) { return e.user >= 160; });  // judged on the tastes
  Dataset d = MakeDataset(train, test, 200, 100);
  EXPECT_NEAR(DataHalfLifeDays(d), 20 * 365, 1.0);
  auto recall = [&](double half_life_days) {
    TrainOptions o = testing::QuickOptions("item_knn");
    o.half_life_days = half_life_days;
    auto m = NewItemKnn();
    EXPECT_TRUE(m->Fit(d, o, nullptr).ok());
    return Evaluate(d, m->user_embeddings().data(), m->item_embeddings().data(), m->dim(), {10}).Get("recall@10");
  };
  const double fixed = recall(30), from_data = recall(0);
  EXPECT_LT(fixed, 0.13);  // chance ~0.1 (measured 0.094)
  EXPECT_GT(from_data, 0.16) << "30 days: " << fixed;  // knowing the half: ~0.2 (measured 0.194)
  // Users all active within weeks, or no timestamps: at least 30 days.
  for (auto& e : all) e.ts = new_ts - (e.user % 7) * 86400;
  EXPECT_DOUBLE_EQ(DataHalfLifeDays(MakeDataset(all, {})), kMinDataHalfLifeDays);
  for (auto& e : all) e.ts = 0;
  EXPECT_DOUBLE_EQ(DataHalfLifeDays(MakeDataset(all, {})), kMinDataHalfLifeDays);
}

TEST(WarmStartTest, ContinuesFromAnotherModelsEmbeddingsAndNewRowsStartFresh) {
  Dataset d = testing::PlantedSplit(5);
  for (std::string type : {"lightgcn", "bpr_mf", "als"}) {
    auto first = testing::NewNamed(type);
    TrainOptions o = testing::QuickOptions(type);
    ASSERT_TRUE(first->Fit(d, o, nullptr).ok()) << type;
    auto a = first->Export();
    ASSERT_TRUE(a.ok());
    if (type == "lightgcn") {
      ASSERT_EQ(a->user_ego.size(), a->user_emb.size());  // E(0) kept for warm starts
      ASSERT_NE(a->user_ego, a->user_emb);
    } else {
      EXPECT_TRUE(a->user_ego.empty());
    }
    WarmStart w;
    w.dim = a->dim;
    w.users = a->user_ego.empty() ? a->user_emb : a->user_ego;
    w.items = a->item_ego.empty() ? a->item_emb : a->item_ego;
    w.user_known.assign(d.n_users, 1);
    w.item_known.assign(d.n_items, 1);
    w.user_known[0] = 0;  // as if new since the last model
    const double before = Evaluate(d, first->user_embeddings().data(),
                                   first->item_embeddings().data(), first->dim(), {10})
                              .Get("recall@10");
    // One more epoch from the warm start keeps the quality a cold epoch lacks.
    TrainOptions one = o;
    one.epochs = 1;
    one.learning_rate = 1e-4;  // too little for a cold start to learn anything
    one.warm_start = &w;
    auto warm = testing::NewNamed(type);
    ASSERT_TRUE(warm->Fit(d, one, nullptr).ok()) << type;
    one.warm_start = nullptr;
    auto cold = testing::NewNamed(type);
    ASSERT_TRUE(cold->Fit(d, one, nullptr).ok());
    auto recall = [&](const Model& m) {
      return Evaluate(d, m.user_embeddings().data(), m.item_embeddings().data(), m.dim(), {10})
          .Get("recall@10");
    };
    EXPECT_GT(recall(*warm), 0.8 * before) << type;
    EXPECT_GT(recall(*warm), recall(*cold) + 0.02) << type;
    w.dim = 7;
    one.warm_start = &w;
    EXPECT_EQ(testing::NewNamed(type)->Fit(d, one, nullptr).code(), StatusCode::kInvalidArgument) << type;
  }
}

TEST(CancelTest, FitReturnsCancelledOnceTheFlagIsSet) {
  Dataset d = testing::PlantedSplit(6);
  for (std::string type : {"lightgcn", "bpr_mf", "als"}) {
    std::atomic<bool> cancel{false};
    TrainOptions o = testing::QuickOptions(type);
    o.epochs = 1000;
    o.cancel = &cancel;
    int epochs_seen = 0;
    auto m = testing::NewNamed(type);
    Status s = m->Fit(d, o, [&](const EpochReport& r) {
      epochs_seen = r.epoch;
      if (r.epoch == 2) cancel = true;
    });
    EXPECT_EQ(s.code(), StatusCode::kCancelled) << type;
    EXPECT_EQ(epochs_seen, 2) << type;
  }
}

// An epoch's report says how much of its time the fit stood aside for
// requests (not its speed: the speed estimate learns the rest), and none
// when nothing waited.
TEST(StepAsideTest, AnEpochReportsTheTimeItStoodAsideForRequests) {
  Dataset d = testing::PlantedSplit(6);
  for (std::string type : {"lightgcn", "bpr_mf", "als"}) {
    for (bool waiting : {false, true}) {
      StepAside aside([waiting] { return waiting; }, std::chrono::milliseconds(5));
      TrainOptions o = testing::QuickOptions(type);
      o.epochs = 3;
      o.step_aside = &aside;
      double seconds = 0, paused = 0;
      auto m = testing::NewNamed(type);
      ASSERT_TRUE(m->Fit(d, o, [&](const EpochReport& r) {
        EXPECT_LE(r.paused_seconds, r.seconds) << type;
        seconds += r.seconds;
        paused += r.paused_seconds;
      }).ok()) << type;
      if (!waiting) {
        EXPECT_EQ(paused, 0.0) << type;
      } else {
        EXPECT_GT(paused, 0.0) << type;
        // Each pause is up to 4× the work before it: most of the time is aside.
        EXPECT_GT(paused, 0.5 * seconds) << type;
        EXPECT_NEAR(paused, std::chrono::duration<double>(aside.paused()).count(), 0.05) << type;
      }
    }
  }
}

TEST(StepAsideTest, AFitsValidationStandsAsideAndItsSecondsLeaveThePauseOut) {
  // 600 users with a held-out choice: three blocks of users per validation.
  Dataset d = testing::PlantSessions(true, 4).data;
  for (std::string type : {"lightgcn", "als"}) {
    StepAside aside([] { return true; }, std::chrono::milliseconds(20));  // requests always wait
    TrainOptions o = testing::QuickOptions(type);
    o.epochs = 2;
    o.eval_every = 1;
    o.step_aside = &aside;
    double epochs_paused = 0, eval_seconds = 0;
    int evaluations = 0;
    auto m = testing::NewNamed(type);
    ASSERT_TRUE(m->Fit(d, o, [&](const EpochReport& r) {
      epochs_paused += r.paused_seconds;
      eval_seconds += r.eval_seconds;
      evaluations += r.metrics.has_value();
    }).ok()) << type;
    ASSERT_EQ(evaluations, 2) << type;
    // The validations stood aside between their blocks (each pause up to 4× the
    // work before it) and report their seconds without it.
    const double eval_paused = std::chrono::duration<double>(aside.paused()).count() - epochs_paused;
    EXPECT_GT(eval_paused, 0.001) << type;
    EXPECT_GE(eval_seconds, 0.0) << type;
    EXPECT_LT(eval_seconds, eval_paused) << type;
  }
}

}  // namespace
}  // namespace embedrec::ml
