// The blend of two models' scores (ml/blend.h): its ranking, fold-in, save
// and load, and its refit from the spec.
#include "ml/blend.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "ml/ml_test_util.h"
#include "ml/model_file.h"

namespace embedrec::ml {
namespace {

std::vector<double> Scores(const Model& m, const float* user) {
  const int d = m.dim();
  const auto& items = m.item_embeddings();
  std::vector<double> s(items.size() / d);
  for (size_t i = 0; i < s.size(); ++i) {
    for (int j = 0; j < d; ++j) s[i] += static_cast<double>(user[j]) * items[i * d + j];
  }
  return s;
}

std::vector<size_t> Ranking(const std::vector<double>& s) {
  std::vector<size_t> order(s.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return s[a] > s[b]; });
  return order;
}

class BlendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = MakeDataset(testing::PlantedHalves(120, 40, 10, 9), {});
    for (std::string type : {"ease", "als"}) {
      std::shared_ptr<Model> m = testing::NewNamed(type);
      TrainOptions o = testing::QuickOptions(type, 8);
      ASSERT_TRUE(m->Fit(data_, o, nullptr).ok()) << type;
      parts_.push_back(m);
      spec_.push_back({*ParseModelType(type), o, 0.5});
    }
  }
  Dataset data_;
  std::vector<std::shared_ptr<const Model>> parts_;
  std::vector<BlendPart> spec_;
};

TEST_F(BlendTest, ScoresAreTheWeightedSumOfThePartsScores) {
  auto b = BlendOf(parts_, spec_, data_);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  const Model& blend = **b;
  EXPECT_EQ(blend.dim(), parts_[0]->dim() + parts_[1]->dim());
  EXPECT_EQ(blend.user_embeddings().size(), static_cast<size_t>(data_.n_users) * blend.dim());
  // Each user's blended scores are a positive combination of the parts':
  // s = a·s_ease + b·s_als with the same a, b > 0 for every user (the scales
  // are the model's, not the user's). Solved from two items, checked on all.
  double a = 0, c = 0;
  for (int32_t u = 0; u < data_.n_users; u += 17) {
    auto s = Scores(blend, blend.user_embeddings().data() + u * blend.dim());
    auto s0 = Scores(*parts_[0], parts_[0]->user_embeddings().data() + u * parts_[0]->dim());
    auto s1 = Scores(*parts_[1], parts_[1]->user_embeddings().data() + u * parts_[1]->dim());
    // Least squares over every item for (a, c).
    double p00 = 0, p01 = 0, p11 = 0, q0 = 0, q1 = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      p00 += s0[i] * s0[i], p01 += s0[i] * s1[i], p11 += s1[i] * s1[i];
      q0 += s0[i] * s[i], q1 += s1[i] * s[i];
    }
    const double det = p00 * p11 - p01 * p01;
    const double ua = (q0 * p11 - q1 * p01) / det, uc = (p00 * q1 - p01 * q0) / det;
    for (size_t i = 0; i < s.size(); ++i) EXPECT_NEAR(s[i], ua * s0[i] + uc * s1[i], 1e-4 * (1 + std::abs(s[i])));
    EXPECT_GT(ua, 0);
    EXPECT_GT(uc, 0);
    if (u > 0) {
      EXPECT_NEAR(ua, a, 1e-3 * a);
      EXPECT_NEAR(uc, c, 1e-3 * c);
    }
    a = ua, c = uc;
  }
  // All the weight on one part: that part's ranking, exactly.
  std::vector<BlendPart> only_als = spec_;
  only_als[0].weight = 0;
  only_als[1].weight = 1;
  auto als = BlendOf(parts_, only_als, data_);
  ASSERT_TRUE(als.ok());
  for (int32_t u = 0; u < data_.n_users; u += 13) {
    EXPECT_EQ(Ranking(Scores(**als, (*als)->user_embeddings().data() + u * (*als)->dim())),
              Ranking(Scores(*parts_[1], parts_[1]->user_embeddings().data() + u * parts_[1]->dim())));
  }
}

TEST_F(BlendTest, FoldInIsEachPartsFoldInScaledAsItsUserRows) {
  auto b = BlendOf(parts_, spec_, data_);
  ASSERT_TRUE(b.ok());
  const Model::ItemWeights items = {{1, 1.0f}, {7, 3.0f}, {12, 2.0f}};
  auto q = (*b)->FoldIn(items);
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(q->size(), static_cast<size_t>((*b)->dim()));
  // Ranks as a + c of the parts' fold-ins, with the users' a and c: the
  // blend's ranking of a new user's items is that of its parts' mix.
  const auto s = Scores(**b, q->data());
  const auto r = Ranking(s);
  EXPECT_LT(*std::max_element(r.begin(), r.begin() + 5), 40u);  // the user's half (items 0-39)
  EXPECT_EQ((*b)->FoldIn({}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*b)->FoldIn({{100000, 1.0f}}).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(BlendTest, ARestoredBlendServesAndFoldsInLikeTheMadeOne) {
  auto b = BlendOf(parts_, spec_, data_);
  ASSERT_TRUE(b.ok());
  auto a = (*b)->Export();
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_TRUE(BlendHasItemToItem(a->params_json));
  auto loaded = LoadModel(*DecodeModel(EncodeModel(*a)));
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->name(), "blend");
  EXPECT_EQ((*loaded)->user_embeddings(), (*b)->user_embeddings());
  EXPECT_EQ((*loaded)->item_embeddings(), (*b)->item_embeddings());
  const Model::ItemWeights items = {{3, 1.0f}, {9, 2.0f}};
  auto want = (*b)->FoldIn(items), got = (*loaded)->FoldIn(items);
  ASSERT_TRUE(want.ok() && got.ok());
  for (size_t j = 0; j < want->size(); ++j) EXPECT_NEAR((*got)[j], (*want)[j], 1e-4 * (1 + std::abs((*want)[j])));
  // A file that lost a part, or an item-to-item part's fold-in factor, is refused.
  ModelArtifact broken = *a;
  broken.params_json = R"({"parts":[]})";
  EXPECT_EQ(LoadModel(broken).status().code(), StatusCode::kInvalidArgument);
  broken = *a;
  broken.item_ego.clear();
  broken.user_ego.clear();
  EXPECT_EQ(LoadModel(broken).status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(BlendHasItemToItem(R"({"parts":[{"model_type":"als"},{"model_type":"lightgcn"}]})"));
}

TEST_F(BlendTest, FitFitsThePartsAnewFromTheSpec) {
  auto spec = std::make_shared<BlendSpec>();
  spec->parts = spec_;
  TrainOptions o;
  o.blend = spec;
  auto m = NewBlend();
  int steps = 0;
  ASSERT_TRUE(m->Fit(data_, o, [&](const EpochReport& r) { steps = r.epoch; }).ok());
  EXPECT_EQ(steps, 2);  // one per part
  auto made = BlendOf(parts_, spec_, data_);
  ASSERT_TRUE(made.ok());
  // The same parts, the same data: the same blend (EASE and ALS are deterministic).
  ASSERT_EQ(m->item_embeddings().size(), (*made)->item_embeddings().size());
  for (size_t j = 0; j < m->item_embeddings().size(); j += 7) {
    EXPECT_NEAR(m->item_embeddings()[j], (*made)->item_embeddings()[j], 1e-3);
  }
  EXPECT_EQ(NewBlend()->Fit(data_, TrainOptions{}, nullptr).code(), StatusCode::kInvalidArgument);
}

TEST_F(BlendTest, APartFitContinuesTheModelItIsGiven) {
  // A LightGCN part continuing a trained one, at a learning rate too small
  // to move it: the blend's LightGCN rows are the given model's.
  std::shared_ptr<Model> lgcn = testing::NewNamed("lightgcn");
  TrainOptions lo = testing::QuickOptions("lightgcn", 8);
  ASSERT_TRUE(lgcn->Fit(data_, lo, nullptr).ok());
  auto spec = std::make_shared<BlendSpec>();
  TrainOptions still = lo;
  still.epochs = 1;
  still.learning_rate = 1e-12;
  spec->parts = {spec_[1], {ModelType::kLightGcn, still, 0.5, lgcn}};
  TrainOptions o;
  o.blend = spec;
  auto continued = NewBlend();
  ASSERT_TRUE(continued->Fit(data_, o, nullptr).ok());
  auto made = BlendOf({parts_[1], lgcn}, {spec_[1], {ModelType::kLightGcn, lo, 0.5}}, data_);
  ASSERT_TRUE(made.ok());
  ASSERT_EQ(continued->item_embeddings().size(), (*made)->item_embeddings().size());
  double diff = 0, norm = 0;
  for (size_t j = 0; j < continued->item_embeddings().size(); ++j) {
    diff += std::abs(continued->item_embeddings()[j] - (*made)->item_embeddings()[j]);
    norm += std::abs((*made)->item_embeddings()[j]);
  }
  EXPECT_LT(diff, 1e-3 * norm);
  // Anew, the same settings give other rows.
  spec->parts[1].continue_from = nullptr;
  auto anew = NewBlend();
  ASSERT_TRUE(anew->Fit(data_, o, nullptr).ok());
  diff = 0;
  for (size_t j = 0; j < anew->item_embeddings().size(); ++j) {
    diff += std::abs(anew->item_embeddings()[j] - (*made)->item_embeddings()[j]);
  }
  EXPECT_GT(diff, 0.1 * norm);
}

}  // namespace
}  // namespace embedrec::ml
