#include "ml/similar_items.h"

#include <random>

#include <gtest/gtest.h>

#include "ml/model_file.h"
#include "ml_test_util.h"

namespace embedrec::ml {
namespace {

TEST(SimilarItemsTest, MixSimilarTakesTheCategorysShareOfTheSlotsWithoutRepeats) {
  const std::vector<int> model{1, 2, 3, 4, 5, 6}, category{9, 2, 8, 7};
  EXPECT_EQ(MixSimilar(model, category, 0, 4), (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(MixSimilar(model, category, 1, 6), (std::vector<int>{9, 2, 8, 7, 1, 3}));  // then the model's
  EXPECT_EQ(MixSimilar(model, category, 0.5, 6), (std::vector<int>{9, 1, 2, 3, 8, 4}));  // 2 once
  EXPECT_EQ(MixSimilar(model, {}, 0.75, 3), (std::vector<int>{1, 2, 3}));
}

// Items 0-59 in category 0, 60-119 in category 1; every user trains on a
// few items of one category, the newest their anchor. Item rows put items
// 2k and 2k + 1 together (a pair), far from the rest.
struct Shop {
  Dataset data;
  std::vector<int32_t> categories;
  std::unique_ptr<Model> model;
};

// `later_visit`: a second held-out item two hours after the first, the
// pair when the next is the bestseller and the other way round.
Shop MakeShop(bool next_is_the_pair, bool later_visit = false) {
  constexpr int kItems = 120, kDim = 60;
  std::mt19937_64 rng(3);
  std::vector<Interaction> train, test;
  for (int u = 0; u < 400; ++u) {
    const int base = (u % 2) * 60;
    int64_t ts = 1'700'000'000;
    // Bestsellers: items 10 and 11 of the category, each bought by half its users.
    const int bought = base + 10 + (u / 2) % 2, other = base + 11 - (u / 2) % 2;
    train.push_back({u, bought, 1.0f, ts += 60});
    for (int k = 0; k < 3; ++k) train.push_back({u, static_cast<int32_t>(base + 20 + rng() % 40), 1.0f, ts += 60});
    const int anchor = base + 20 + 2 * static_cast<int>(rng() % 20);  // an even item past the bestsellers
    train.push_back({u, anchor, 1.0f, ts += 60});
    // Next: the anchor's pair (what the model knows), or a bestseller the user lacks.
    test.push_back({u, next_is_the_pair ? anchor + 1 : other, 1.0f, ts += 60});
    if (later_visit) test.push_back({u, next_is_the_pair ? other : anchor + 1, 1.0f, ts += 7200});
  }
  Shop s;
  s.data = MakeDataset(train, test);
  s.categories.resize(kItems);
  for (int i = 0; i < kItems; ++i) s.categories[i] = i < 60 ? 0 : 1;
  ModelArtifact a;
  a.model_type = "bpr_mf";
  a.dim = kDim;
  a.n_users = static_cast<uint64_t>(s.data.n_users);
  a.n_items = kItems;
  a.user_emb.assign(a.n_users * kDim, 0.1f);
  a.item_emb.assign(kItems * kDim, 0.0f);
  for (int i = 0; i < kItems; ++i) a.item_emb[i * kDim + (i / 2) % kDim] = 1.0f;  // a pair shares its axis
  auto m = LoadModel(a);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  s.model = std::move(*m);
  return s;
}

TEST(SimilarItemsTest, TheCategorysBestsellersTakeSlotsOnlyWhereTheyHoldTheNextItem) {
  Shop pair = MakeShop(true);
  SimilarShareFit fit = FitSimilarCategoryShare(pair.data, *pair.model, false, pair.categories);
  EXPECT_EQ(fit.users, 400);
  EXPECT_EQ(fit.share, 0);  // the model's first item is the next one
  EXPECT_DOUBLE_EQ(fit.hit_at[0], 1.0);
  EXPECT_LT(fit.hit_at.back(), 0.2);  // the category alone misses it

  Shop bestseller = MakeShop(false);
  fit = FitSimilarCategoryShare(bestseller.data, *bestseller.model, false, bestseller.categories);
  EXPECT_GT(fit.share, 0);
  EXPECT_LT(fit.hit_at[0], 0.6);  // ties past the pair: the lowest rows, category 0's bestsellers among them
  EXPECT_DOUBLE_EQ(fit.hit_at.back(), 1.0);
  // Without categories nothing is judged: the model's list alone.
  fit = FitSimilarCategoryShare(bestseller.data, *bestseller.model, false, std::vector<int32_t>(120, -1));
  EXPECT_EQ(fit.share, 0);
  EXPECT_EQ(fit.users, 0);
}

TEST(SimilarItemsTest, TheShareAsksAJobsStepAsideEvery32UsersAndComesOutTheSame) {
  Shop shop = MakeShop(false);
  int asked = 0;
  StepAside aside([&] {
    ++asked;
    return false;
  });
  const SimilarShareFit plain = FitSimilarCategoryShare(shop.data, *shop.model, false, shop.categories);
  const SimilarShareFit stepping =
      FitSimilarCategoryShare(shop.data, *shop.model, false, shop.categories, kSimilarShareUsers, &aside);
  EXPECT_EQ(asked, 12);  // 400 users: after the 32nd, 64th, … 384th
  EXPECT_EQ(stepping.users, plain.users);
  EXPECT_EQ(stepping.share, plain.share);
  EXPECT_EQ(stepping.hit_at, plain.hit_at);
}

TEST(SimilarItemsTest, TheTargetIsTheNextVisitsItemNotAnyHeldOutOne) {
  // Both lists hold a held-out item; only the category's holds the next one.
  Shop shop = MakeShop(false, true);
  SimilarShareFit fit = FitSimilarCategoryShare(shop.data, *shop.model, false, shop.categories);
  EXPECT_EQ(fit.users, 400);
  EXPECT_GT(fit.share, 0);
  EXPECT_DOUBLE_EQ(fit.hit_at.back(), 1.0);
  EXPECT_LT(fit.hit_at[0], 0.6);
  // And the other way round: the pair comes next, the bestseller later.
  shop = MakeShop(true, true);
  fit = FitSimilarCategoryShare(shop.data, *shop.model, false, shop.categories);
  EXPECT_EQ(fit.share, 0);
  EXPECT_DOUBLE_EQ(fit.hit_at[0], 1.0);
}

TEST(SimilarItemsTest, TheShareIsReadFromTheModelFilesMetadata) {
  EXPECT_DOUBLE_EQ(SimilarCategoryShare(R"({"similar_category_share":0.75})"), 0.75);
  EXPECT_DOUBLE_EQ(SimilarCategoryShare(R"({"similar_category_share":7})"), 1.0);
  EXPECT_DOUBLE_EQ(SimilarCategoryShare("{}"), 0);
  EXPECT_DOUBLE_EQ(SimilarCategoryShare("not json"), 0);
}

}  // namespace
}  // namespace embedrec::ml
