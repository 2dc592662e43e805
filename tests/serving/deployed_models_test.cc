// The per-model candidate lists serving keeps (per user, per item): exact
// against a brute-force ranking, kept across calls, and, walked with a
// filter, the same answer as a filtered search.
#include "serving/deployed_models.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

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

}  // namespace
}  // namespace embedrec::serving
