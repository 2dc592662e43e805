// The per-model candidate lists serving keeps (per user, per item): exact
// against a brute-force ranking, kept across calls, and, walked with a
// filter, the same answer as a filtered search.
#include "serving/deployed_models.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "ml/blend.h"
#include "ml/ml_test_util.h"
#include "ml/model_file.h"
#include "test_util.h"

namespace embedrec::serving {
namespace {

constexpr int kDim = 16, kUsers = 30, kItems = 700;

std::shared_ptr<const ServingModel> RandomModel(const std::string& version = "v1.0_20261125") {
  ml::ModelArtifact a;
  a.model_type = "bpr_mf";
  a.dim = kDim;
  a.n_users = kUsers;
  a.n_items = kItems;
  std::mt19937 rng(7);
  std::normal_distribution<float> g(0, 1);
  a.user_emb.resize(kUsers * kDim);
  a.item_emb.resize(kItems * kDim);
  for (auto& x : a.user_emb) x = g(rng);
  for (auto& x : a.item_emb) x = g(rng);
  for (int u = 0; u < kUsers; ++u) a.user_ids.push_back("u" + std::to_string(u));
  for (int i = 0; i < kItems; ++i) a.item_ids.push_back("i" + std::to_string(i));
  ann::IndexOptions options;
  auto index = ann::BuildItemIndex(a.item_emb.data(), kItems, kDim, options);
  EXPECT_TRUE(index.ok());
  auto bytes = (*index)->Serialize();
  EXPECT_TRUE(bytes.ok());
  auto m = LoadServingModel(version, 0, ml::EncodeModel(a), *bytes, options);
  EXPECT_TRUE(m.ok()) << m.status().message();
  return *m;
}

// Item rows by inner product with `q`, best first (double precision).
std::vector<int64_t> BruteForce(const ServingModel& m, const float* q) {
  const auto& items = m.model->item_embeddings();
  std::vector<std::pair<double, int64_t>> s;
  for (int64_t i = 0; i < kItems; ++i) {
    double ip = 0;
    for (int j = 0; j < kDim; ++j) ip += static_cast<double>(q[j]) * items[i * kDim + j];
    s.emplace_back(-ip, i);
  }
  std::sort(s.begin(), s.end());
  std::vector<int64_t> out;
  for (auto& [_, i] : s) out.push_back(i);
  return out;
}

TEST(ServingModelTest, UserCandidatesAreTheExactTopAndKept) {
  auto m = RandomModel();
  for (int64_t u = 0; u < kUsers; ++u) {
    auto kept = m->UserCandidates(u);
    ASSERT_EQ(kept->size(), static_cast<size_t>(ServingModel::kUserCandidates));
    auto truth = BruteForce(*m, m->model->user_embeddings().data() + u * kDim);
    for (size_t r = 0; r < kept->size(); ++r) EXPECT_EQ((*kept)[r].first, truth[r]) << "user " << u;
    EXPECT_EQ(m->UserCandidates(u).get(), kept.get());  // computed once
  }
}

TEST(ServingModelTest, KeptListWalkedWithAFilterEqualsAFilteredSearch) {
  auto m = RandomModel();
  ann::ItemIndex::Filter every_fifth = [](int64_t i) { return i % 5 == 0; };
  for (int64_t u = 0; u < kUsers; ++u) {
    std::vector<std::pair<int64_t, float>> walked;
    for (const auto& c : *m->UserCandidates(u)) {
      if (walked.size() == 10) break;
      if (every_fifth(c.first)) walked.push_back(c);
    }
    ASSERT_EQ(walked.size(), 10u);  // 100 candidates, a fifth pass: about 20
    auto searched = m->index->Search(m->model->user_embeddings().data() + u * kDim, 10, &every_fifth);
    ASSERT_EQ(searched.size(), 10u);
    for (size_t r = 0; r < 10; ++r) EXPECT_EQ(walked[r].first, searched[r].first) << "user " << u;
  }
}

TEST(ServingModelTest, SimilarCandidatesNeverHoldTheItem) {
  auto m = RandomModel();
  for (int64_t i = 0; i < 50; ++i) {
    auto kept = m->SimilarCandidates(i);
    ASSERT_EQ(kept->size(), static_cast<size_t>(ServingModel::kSimilarCandidates));
    auto truth = BruteForce(*m, m->model->item_embeddings().data() + i * kDim);
    truth.erase(std::find(truth.begin(), truth.end(), i));
    for (size_t r = 0; r < kept->size(); ++r) EXPECT_EQ((*kept)[r].first, truth[r]) << "item " << i;
  }
}

TEST(ServingModelTest, KeptListsServeShorterAsksAndKeepTheOnesInUse) {
  auto m = RandomModel();
  auto truth = BruteForce(*m, m->model->item_embeddings().data() + 3 * kDim);
  truth.erase(std::find(truth.begin(), truth.end(), 3));
  auto short_list = m->SimilarCandidates(3, 50);
  ASSERT_EQ(short_list->size(), 50u);
  for (size_t r = 0; r < 50; ++r) EXPECT_EQ((*short_list)[r].first, truth[r]);
  auto full = m->SimilarCandidates(3);  // a longer ask searches again, and is kept
  ASSERT_EQ(full->size(), static_cast<size_t>(ServingModel::kSimilarCandidates));
  EXPECT_EQ(m->SimilarCandidates(3, 50).get(), full.get());  // which serves shorter asks
  // Lists for many more items than the bound holds (700 items: 16,384 pairs,
  // 81 lists of 200): the one asked for all along stays, the others go.
  ASSERT_EQ(ServingModel::KeptPairsBound(kItems), 16384u);
  auto hot = m->SimilarCandidates(0);
  auto cold = m->SimilarCandidates(1);
  for (int64_t i = 10; i < 400; ++i) {
    m->SimilarCandidates(i);
    EXPECT_EQ(m->SimilarCandidates(0).get(), hot.get()) << "after item " << i;
  }
  EXPECT_NE(m->SimilarCandidates(1).get(), cold.get());  // dropped, searched again
}

// A blend (ml/blend.h) as serving loads it: an item-to-item part makes it
// fold in as one (and keeps that part's fold-in factor), else not.
TEST(ServingModelTest, AnItemToItemModelsSimilarItemsAreItsRowOfTheItemMatrix) {
  // EASE learns B (item × item) and keeps it factored, B ≈ L·Vᵀ: V's rows
  // score an item, L's fold a visitor in. Item i's similar items are B's row
  // i (what a visitor who saw only i is shown), ranked by L_i·V_j; its own
  // row V_i is B's column i, the items that predict it. ALS: the item's row.
  ml::Dataset d = ml::MakeDataset(ml::testing::PlantedHalves(60, 30, 8, 3), {});
  for (std::string type : {std::string("ease"), std::string("als")}) {
    std::shared_ptr<ml::Model> trained = ml::testing::NewNamed(type);
    ASSERT_TRUE(trained->Fit(d, ml::testing::QuickOptions(type, 8), nullptr).ok());
    auto a = trained->Export();
    ASSERT_TRUE(a.ok());
    for (int u = 0; u < d.n_users; ++u) a->user_ids.push_back("u" + std::to_string(u));
    for (int i = 0; i < d.n_items; ++i) a->item_ids.push_back("i" + std::to_string(i));
    ann::IndexOptions options;
    const int dim = static_cast<int>(a->dim);
    auto index = ann::BuildItemIndex(a->item_emb.data(), d.n_items, dim, options);
    ASSERT_TRUE(index.ok());
    auto m = LoadServingModel("v1.0_20261206", 0, ml::EncodeModel(*a), *(*index)->Serialize(), options);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    const auto& items = (*m)->model->item_embeddings();
    for (int64_t i : {0, 7, 19}) {
      const std::vector<float> q = (*m)->SimilarQuery(i);
      std::vector<float> want(items.begin() + i * dim, items.begin() + (i + 1) * dim);
      if (type == "ease") {
        auto folded = trained->FoldIn({{static_cast<int32_t>(i), 1.0f}});
        ASSERT_TRUE(folded.ok());
        want = *folded;
      }
      ASSERT_EQ(q.size(), want.size()) << type;
      for (size_t j = 0; j < q.size(); ++j) EXPECT_NEAR(q[j], want[j], 1e-5 * (1 + std::abs(want[j]))) << type;
      // The kept list is the exact top by that query.
      std::vector<std::pair<double, int64_t>> truth;
      for (int64_t j = 0; j < d.n_items; ++j) {
        if (j == i) continue;
        double ip = 0;
        for (int k = 0; k < dim; ++k) ip += static_cast<double>(q[k]) * items[j * dim + k];
        truth.emplace_back(-ip, j);
      }
      std::sort(truth.begin(), truth.end());
      const auto kept = (*m)->SimilarCandidates(i, 10);
      ASSERT_GE(kept->size(), 10u);
      for (size_t r = 0; r < 10; ++r) EXPECT_EQ((*kept)[r].first, truth[r].second) << type << " item " << i;
    }
  }
}

TEST(ServingModelTest, ABlendFoldsInAfterLoadingAndSaysWhetherAPartIsItemToItem) {
  ml::Dataset d = ml::MakeDataset(ml::testing::PlantedHalves(60, 30, 8, 3), {});
  for (const auto& [second, item_to_item] : {std::pair{"ease", true}, std::pair{"lightgcn", false}}) {
    std::vector<std::shared_ptr<const ml::Model>> parts;
    std::vector<ml::BlendPart> spec;
    for (std::string type : {std::string("als"), std::string(second)}) {
      std::shared_ptr<ml::Model> m = ml::testing::NewNamed(type);
      ml::TrainOptions o = ml::testing::QuickOptions(type, 8);
      ASSERT_TRUE(m->Fit(d, o, nullptr).ok());
      parts.push_back(m);
      spec.push_back({*ml::ParseModelType(type), o, 0.5});
    }
    auto blend = ml::BlendOf(parts, spec, d);
    ASSERT_TRUE(blend.ok());
    auto a = (*blend)->Export();
    ASSERT_TRUE(a.ok());
    for (int u = 0; u < d.n_users; ++u) a->user_ids.push_back("u" + std::to_string(u));
    for (int i = 0; i < d.n_items; ++i) a->item_ids.push_back("i" + std::to_string(i));
    ann::IndexOptions options;
    auto index = ann::BuildItemIndex(a->item_emb.data(), d.n_items, static_cast<int>(a->dim), options);
    ASSERT_TRUE(index.ok());
    auto m = LoadServingModel("v1.0_20261205", 0, ml::EncodeModel(*a), *(*index)->Serialize(), options);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_EQ((*m)->model_type, ml::ModelType::kBlend);
    EXPECT_EQ((*m)->item_to_item, item_to_item) << second;
    auto want = (*blend)->FoldIn({{2, 1.0f}, {5, 2.0f}});
    auto got = (*m)->model->FoldIn({{2, 1.0f}, {5, 2.0f}});
    ASSERT_TRUE(want.ok() && got.ok()) << second;
    for (size_t j = 0; j < want->size(); ++j) EXPECT_NEAR((*got)[j], (*want)[j], 1e-4 * (1 + std::abs((*want)[j])));
  }
}

TEST(DeployedModelsTest, OneLiveVersionAnswersEveryone) {
  DeployedModels d;
  EXPECT_EQ(d.For("t", "u1"), nullptr);
  auto v1 = RandomModel("v1.0_20261201");
  d.Set("t", v1);
  EXPECT_EQ(d.Get("t"), v1);
  EXPECT_EQ(d.For("t", "anyone"), v1);
  EXPECT_EQ(d.Find("t", "v1.0_20261201"), v1);
  EXPECT_EQ(d.Find("t", "v2.0_20261201"), nullptr);
  EXPECT_EQ(d.For("other-tenant", "anyone"), nullptr);
  d.Set("t", nullptr);
  EXPECT_EQ(d.Get("t"), nullptr);
  EXPECT_TRUE(d.Live("t").empty());
}

TEST(DeployedModelsTest, LiveVersionsSplitUsersByWeightAndKeepEachUserOnOne) {
  DeployedModels d;
  auto v1 = RandomModel("v1.0_20261201"), v2 = RandomModel("v2.0_20261201");
  ASSERT_OK(d.SetLive("t", {{v1, 3}, {v2, 1}}));
  EXPECT_EQ(d.Get("t"), v1);  // the first is the deployed one
  ASSERT_EQ(d.Live("t").size(), 2u);
  EXPECT_EQ(d.Find("t", "v2.0_20261201"), v2);
  int on_v1 = 0;
  const int n = 8000;
  for (int u = 0; u < n; ++u) {
    const std::string user = "user-" + std::to_string(u);
    auto m = d.For("t", user);
    ASSERT_TRUE(m == v1 || m == v2);
    on_v1 += m == v1;
    EXPECT_EQ(d.For("t", user), m);  // stable
  }
  EXPECT_NEAR(on_v1 / double(n), 0.75, 0.02);
  // Another tenant's split of the same users is independent of this one's.
  ASSERT_OK(d.SetLive("t2", {{v1, 1}, {v2, 1}}));
  int same = 0;
  for (int u = 0; u < n; ++u) {
    const std::string user = "user-" + std::to_string(u);
    same += (d.For("t", user) == v2) == (d.For("t2", user) == v2);
  }
  EXPECT_GT(same, n * 0.4);
  EXPECT_LT(same, n * 0.6);
}

TEST(DeployedModelsTest, ABadSplitIsRefusedAndChangesNothing) {
  DeployedModels d;
  auto v1 = RandomModel("v1.0_20261201"), v2 = RandomModel("v2.0_20261201");
  d.Set("t", v1);
  EXPECT_EQ(d.SetLive("t", {}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(d.SetLive("t", {{v1, 1}, {v2, 0}}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(d.SetLive("t", {{v1, 1}, {v1, 1}}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(d.SetLive("t", {{nullptr, 1}}).code(), StatusCode::kInvalidArgument);
  ASSERT_EQ(d.Live("t").size(), 1u);
  EXPECT_EQ(d.For("t", "u"), v1);
}

// Lazy residency: a tenant's models are read on first use, once however
// many ask at the same time, and the least recently used go beyond the
// budget; a deploy during a read wins over what was read.
TEST(DeployedModelsTest, LoadsOnFirstUseAndEvictsTheLeastRecentlyUsed) {
  DeployedModels d;
  const int64_t one = RandomModel()->bytes;
  ASSERT_GT(one, int64_t{kItems} * kDim * 4);  // at least the item embeddings
  std::map<std::string, int> reads;
  std::mutex mu;
  d.SetLoader(
      [&](const std::string& t) -> StatusOr<DeployedModels::Loaded> {
        {
          std::lock_guard lock(mu);
          ++reads[t];
        }
        if (t == "none") return DeployedModels::Loaded{};
        if (t == "broken") return Status::Internal("disk on fire");
        DeployedModels::Loaded l;
        l.live.push_back({RandomModel("v1.0_" + t), 1});
        return l;
      },
      /*budget_bytes=*/one * 2 + one / 2);  // room for two
  EXPECT_FALSE(d.Resident("a"));
  // Eight threads ask for the same cold tenant: one read.
  std::vector<std::thread> threads;
  for (int k = 0; k < 8; ++k) threads.emplace_back([&] { EXPECT_NE(d.For("a", "u1"), nullptr); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(reads["a"], 1);
  EXPECT_TRUE(d.Resident("a"));
  EXPECT_EQ(d.Get("a")->version, "v1.0_a");
  // A tenant without models is read once, then known.
  EXPECT_EQ(d.Get("none"), nullptr);
  EXPECT_EQ(d.Get("none"), nullptr);
  EXPECT_EQ(reads["none"], 1);
  EXPECT_TRUE(d.Resident("none"));
  // b, then a again (most recent), then c: b is the one dropped.
  EXPECT_NE(d.Get("b"), nullptr);
  EXPECT_NE(d.Get("a"), nullptr);
  auto held_b = d.Get("b");  // a request still holding b's model...
  EXPECT_NE(d.Get("a"), nullptr);
  EXPECT_NE(d.Get("c"), nullptr);
  auto r = d.residency();
  EXPECT_EQ(r.tenants, 2);
  EXPECT_EQ(r.evictions, 1);
  EXPECT_LE(r.bytes, r.budget);
  EXPECT_TRUE(d.Resident("a"));
  EXPECT_TRUE(d.Resident("c"));
  EXPECT_FALSE(d.Resident("b"));
  EXPECT_EQ(held_b->version, "v1.0_b");  // ...keeps it until it lets go
  EXPECT_NE(d.Get("b"), nullptr);         // read again when asked for
  EXPECT_EQ(reads["b"], 2);
  // A read that fails is reported and tried again next time.
  EXPECT_EQ(d.Get("broken"), nullptr);
  EXPECT_NE(d.Problems()["broken"].find("disk on fire"), std::string::npos);
  EXPECT_EQ(d.Get("broken"), nullptr);
  EXPECT_EQ(reads["broken"], 2);
  // Evicted by hand (an idle tenant): read again on next use.
  d.Evict("a");
  EXPECT_FALSE(d.Resident("a"));
  EXPECT_EQ(d.residency().evictions, 2);
  EXPECT_NE(d.Get("a"), nullptr);
  EXPECT_EQ(reads["a"], 2);
  // A deploy installs without reading; deleting (null) makes it known absent.
  d.Set("d", RandomModel("v2.0_d"));
  EXPECT_EQ(d.Get("d")->version, "v2.0_d");
  EXPECT_EQ(reads.count("d"), 0u);
  d.Set("d", nullptr);
  EXPECT_EQ(d.Get("d"), nullptr);
  EXPECT_EQ(reads.count("d"), 0u);
}

TEST(DeployedModelsTest, SaysWhetherItServesOneVersionAloneWithoutReading) {
  DeployedModels d;
  int reads = 0;
  d.SetLoader(
      [&](const std::string&) -> StatusOr<DeployedModels::Loaded> {
        ++reads;
        DeployedModels::Loaded l;
        l.live.push_back({RandomModel("v1.0_a"), 1});
        return l;
      },
      0);
  EXPECT_FALSE(d.ServesOnly("a", "v1.0_a"));  // not in memory: not read for the question
  EXPECT_EQ(reads, 0);
  d.Set("a", RandomModel("v2.0_a"));
  EXPECT_TRUE(d.ServesOnly("a", "v2.0_a"));
  EXPECT_FALSE(d.ServesOnly("a", "v1.0_a"));
  // Beside another live version (an experiment) it is not alone.
  ASSERT_OK(d.SetLive("a", {{RandomModel("v2.0_a"), 1}, {RandomModel("v3.0_a"), 1}}));
  EXPECT_FALSE(d.ServesOnly("a", "v2.0_a"));
  d.Evict("a");
  EXPECT_FALSE(d.ServesOnly("a", "v2.0_a"));
  EXPECT_EQ(reads, 0);
}

TEST(DeployedModelsTest, ADeployDuringALazyReadWins) {
  DeployedModels d;
  std::promise<void> reading, release;
  auto released = release.get_future().share();
  d.SetLoader(
      [&](const std::string&) -> StatusOr<DeployedModels::Loaded> {
        reading.set_value();
        released.wait();
        DeployedModels::Loaded l;
        l.live.push_back({RandomModel("v1.0_old"), 1});
        return l;
      },
      0);
  std::thread request([&] { EXPECT_EQ(d.Get("t")->version, "v2.0_new"); });
  reading.get_future().wait();
  d.Set("t", RandomModel("v2.0_new"));  // the deploy lands while the read is under way
  release.set_value();
  request.join();
  EXPECT_EQ(d.Get("t")->version, "v2.0_new");
}

}  // namespace
}  // namespace embedrec::serving
