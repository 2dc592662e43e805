// A blend of trained models (ml/model.h): its score is the parts' mixed,
// each spread to a common scale; it learns, folds in and round-trips
// through a model file like any model.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <numeric>

#include "ml/ml_test_util.h"
#include "ml/model.h"
#include "ml/model_file.h"

namespace embedrec::ml {
namespace {

double Score(const Model& m, int64_t u, int64_t i) {
  const int d = m.dim();
  double s = 0;
  for (int j = 0; j < d; ++j) s += static_cast<double>(m.user_embeddings()[u * d + j]) * m.item_embeddings()[i * d + j];
  return s;
}

// The top `k` items of user u under `m`, best first.
std::vector<int64_t> Top(const Model& m, int64_t u, int64_t n_items, int k) {
  std::vector<int64_t> order(n_items);
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + k, order.end(),
                    [&](int64_t a, int64_t b) { return Score(m, u, a) > Score(m, u, b); });
  order.resize(k);
  return order;
}

struct Fitted {
  Dataset data = testing::PlantedSplit(11);
  std::shared_ptr<Model> als, ease;
  Fitted() {
    std::shared_ptr<Model> a = NewAls(), e = NewEase();
    EXPECT_TRUE(a->Fit(data, testing::QuickOptions("als"), nullptr).ok());
    EXPECT_TRUE(e->Fit(data, testing::QuickOptions("ease"), nullptr).ok());
    als = a;
    ease = e;
  }
  std::vector<BlendPart> Parts(double mix_als) const {
    return {{ModelType::kAls, testing::QuickOptions("als"), mix_als},
            {ModelType::kEase, testing::QuickOptions("ease"), 1 - mix_als}};
  }
};

TEST(BlendTest, ScoresAreThePartsScoresMixedOnACommonScale) {
  Fitted f;
  auto b = BlendOf(f.Parts(0.5), {f.als, f.ease});
  ASSERT_TRUE(b.ok()) << b.status().message();
  const Model& blend = **b;
  EXPECT_EQ(blend.name(), "blend");
  EXPECT_EQ(blend.dim(), f.als->dim() + f.ease->dim());
  // Σ_k w_k · score_k with one weight per part for every user and item:
  // solved from two pairs, checked on the others.
  const double a1 = Score(*f.als, 0, 1), e1 = Score(*f.ease, 0, 1), b1 = Score(blend, 0, 1);
  const double a2 = Score(*f.als, 3, 7), e2 = Score(*f.ease, 3, 7), b2 = Score(blend, 3, 7);
  const double det = a1 * e2 - a2 * e1;
  ASSERT_GT(std::abs(det), 1e-9);
  const double wa = (b1 * e2 - b2 * e1) / det, we = (a1 * b2 - a2 * b1) / det;
  EXPECT_GT(wa, 0);
  EXPECT_GT(we, 0);
  for (int64_t u : {1, 5, 42, 150}) {
    for (int64_t i : {0, 9, 33, 99}) {
      EXPECT_NEAR(Score(blend, u, i), wa * Score(*f.als, u, i) + we * Score(*f.ease, u, i), 1e-3 * (1 + std::abs(Score(blend, u, i))));
    }
  }
}

TEST(BlendTest, APartMixedAloneRanksAsThatPart) {
  Fitted f;
  auto mostly_als = BlendOf(f.Parts(1 - 1e-7), {f.als, f.ease});
  auto mostly_ease = BlendOf(f.Parts(1e-7), {f.als, f.ease});
  ASSERT_TRUE(mostly_als.ok() && mostly_ease.ok());
  for (int64_t u : {0, 17, 99}) {
    EXPECT_EQ(Top(**mostly_als, u, f.data.n_items, 5), Top(*f.als, u, f.data.n_items, 5)) << u;
    EXPECT_EQ(Top(**mostly_ease, u, f.data.n_items, 5), Top(*f.ease, u, f.data.n_items, 5)) << u;
  }
}

TEST(BlendTest, FitLearnsPlantedTastesWithEveryPart) {
  Fitted f;
  auto blend = NewBlend(f.Parts(0.5));
  int reports = 0;
  ASSERT_TRUE(blend->Fit(f.data, TrainOptions(), [&](const EpochReport&) { ++reports; }).ok());
  EXPECT_EQ(blend->dim(), 16 + 16);
  EXPECT_EQ(blend->best_epoch(), testing::QuickOptions("als").epochs + 1);  // ALS's alternations, EASE's one pass
  EXPECT_GT(reports, 1);
  const double recall = Evaluate(f.data, blend->user_embeddings().data(), blend->item_embeddings().data(),
                                 blend->dim(), {10}).Get("recall@10");
  EXPECT_GT(recall, 0.18);  // chance ~0.11; knowing the user's half, ~0.22 (models_test)
  EXPECT_EQ(NewBlend({})->Fit(f.data, TrainOptions(), nullptr).code(), StatusCode::kInvalidArgument);
}

TEST(BlendTest, SavedAndLoadedItServesAndFoldsInAsTrained) {
  Fitted f;
  auto b = BlendOf(f.Parts(0.7), {f.als, f.ease});
  ASSERT_TRUE(b.ok());
  auto exported = (*b)->Export();
  ASSERT_TRUE(exported.ok()) << exported.status().message();
  auto decoded = DecodeModel(EncodeModel(*exported));
  ASSERT_TRUE(decoded.ok());
  decoded->user_ego.clear();  // as serving keeps it: the item ego rows only (ml::FoldInNeedsItemEgo)
  EXPECT_TRUE(FoldInNeedsItemEgo(ModelType::kBlend));
  auto loaded = LoadModel(*decoded);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ((*loaded)->name(), "blend");
  EXPECT_EQ((*loaded)->user_embeddings(), (*b)->user_embeddings());
  EXPECT_EQ((*loaded)->item_embeddings(), (*b)->item_embeddings());
  const Model::ItemWeights items{{3, 1.0f}, {17, 2.0f}, {30, 1.0f}};
  auto trained = (*b)->FoldIn(items), restored = (*loaded)->FoldIn(items);
  ASSERT_TRUE(trained.ok() && restored.ok());
  ASSERT_EQ(trained->size(), static_cast<size_t>((*b)->dim()));
  for (size_t j = 0; j < trained->size(); ++j) EXPECT_NEAR((*trained)[j], (*restored)[j], 1e-4) << j;
  // The fold-in ranks the planted half of its items first, as its parts do.
  double first = 0, second = 0;
  for (int i = 0; i < 100; ++i) {
    double s = 0;
    for (int j = 0; j < (*b)->dim(); ++j) s += (*trained)[j] * (*b)->item_embeddings()[i * (*b)->dim() + j];
    (i < 50 ? first : second) += s;
  }
  EXPECT_GT(first, second);
  EXPECT_EQ((*b)->FoldIn({}).status().code(), StatusCode::kInvalidArgument);
  // Split back into its parts' files: each part's own rows, unscaled, and
  // its ego rows (an item-to-item part's input factor; the others' rows).
  auto parts = BlendPartArtifacts(*exported);
  ASSERT_TRUE(parts.ok()) << parts.status().message();
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].model_type, "als");
  EXPECT_EQ((*parts)[1].model_type, "ease");
  auto als_file = f.als->Export(), ease_file = f.ease->Export();
  ASSERT_TRUE(als_file.ok() && ease_file.ok());
  for (size_t j = 0; j < als_file->item_emb.size(); j += 7) {
    EXPECT_NEAR((*parts)[0].item_emb[j], als_file->item_emb[j], 1e-4 * (1 + std::abs(als_file->item_emb[j])));
  }
  EXPECT_EQ((*parts)[1].item_ego, ease_file->item_ego);
  EXPECT_EQ((*parts)[0].user_ego, als_file->user_emb);
  // A file without its parts, or whose parts do not add up, is refused.
  for (const char* params : {R"({})", R"({"parts":[{"type":"als","dim":16,"weight":1,"params":{}}]})",
                             R"({"parts":[{"type":"blend","dim":32,"weight":1,"params":{}}]})"}) {
    ModelArtifact bad = *decoded;
    bad.params_json = params;
    EXPECT_FALSE(LoadModel(bad).ok()) << params;
  }
}

}  // namespace
}  // namespace embedrec::ml
