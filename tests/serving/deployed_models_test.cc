// The per-model candidate lists serving keeps (per user, per item): exact
// against a brute-force ranking, kept across calls, and, walked with a
// filter, the same answer as a filtered search.
#include "serving/deployed_models.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "ml/model_file.h"

namespace embedrec::serving {
namespace {

constexpr int kDim = 16, kUsers = 30, kItems = 700;

std::shared_ptr<const ServingModel> RandomModel() {
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
  auto m = LoadServingModel("v1.0_20261125", 0, ml::EncodeModel(a), *bytes, options);
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

}  // namespace
}  // namespace embedrec::serving
