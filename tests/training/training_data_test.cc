#include "training/training_data.h"

#include <gtest/gtest.h>

#include <cmath>

#include "serving/tenant_fixture.h"

namespace embedrec::training {
namespace {

TEST(TrainingDataTest, AllDataIsEveryLoadedEventWithTheSameNumbering) {
  std::vector<ml::Interaction> all = {{0, 0, 1.0f, 1}, {0, 0, 5.0f, 2}, {0, 1, 1.0f, 3}, {0, 2, 1.0f, 4},
                                      {1, 1, 1.0f, 1}, {1, 2, 1.0f, 2}, {1, 3, 3.0f, 3}};
  std::vector<ml::Interaction> train, test;
  ml::SplitPerUser(all, {.fraction = 0.34, .seed = 1, .min_items = 2, .temporal = true}, &train, &test);
  ASSERT_EQ(test.size(), 2u);  // each user's latest pair
  TrainingData td;
  td.data = ml::MakeDataset(train, test, 2, 5);  // item 4: in the catalog, never chosen
  td.data.user_ids = {"a", "b"};
  td.data.item_ids = {"i0", "i1", "i2", "i3", "i4"};
  td.all_events = all;
  ml::Dataset d = AllData(std::move(td));
  EXPECT_EQ(d.n_users, 2);
  EXPECT_EQ(d.n_items, 5);
  EXPECT_EQ(d.train_events.size(), all.size());  // repeats kept, held-out pairs back
  EXPECT_EQ(d.train.size(), 6);                  // distinct pairs
  EXPECT_EQ(d.test.size(), 0);
  EXPECT_EQ(d.user_ids, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(d.item_ids.size(), 5u);
  // Without a split the training events are all of them.
  TrainingData plain;
  plain.data = ml::MakeDataset(all, {}, 2, 5);
  EXPECT_EQ(AllData(std::move(plain)).train_events.size(), all.size());
}

// What validation masks follows what serving will not show again: the
// tenant's exclusion, "auto" resolved as serving resolves it.
class ServedMaskTest : public serving::TenantStoreTest {
 protected:
  // Eight users, each with four of six items; with `purchases`, the first
  // two of them bought (validation holds the latest out), the rest viewed.
  void Fill(bool purchases) {
    AddItems({"a", "b", "c", "d", "e", "f"});
    auto batch = store_->BeginImport();
    ASSERT_TRUE(batch.ok());
    const char* items[] = {"a", "b", "c", "d", "e", "f"};
    for (int u = 0; u < 8; ++u) {
      auto user = (*batch)->EnsureUser("u" + std::to_string(u), 1);
      ASSERT_TRUE(user.ok());
      store::InteractionRecord r;
      r.user_idx = *user;
      for (int k = 0; k < 4; ++k) {
        r.item_idx = Idx(items[(u + k) % 6]);
        r.type = purchases && k < 2 ? "purchase" : "view";
        r.ts_ms = 1'700'000'000'000 + 1000 * k;
        ASSERT_OK((*batch)->InsertInteraction(r));
      }
    }
    ASSERT_OK((*batch)->Commit());
  }
  float Threshold(serving::Exclusion e, std::map<std::string, float, std::less<>> weights = {}) {
    auto td = LoadTrainingData(*store_, interactions::TypeWeights(weights), e, 0.2, 1);
    EXPECT_TRUE(td.ok()) << td.status().ToString();
    return td.ok() ? td->shown_below_weight : -1;
  }
};

TEST_F(ServedMaskTest, APurchasingShopMasksPurchasesUnlessItSaysOtherwise) {
  Fill(true);
  const float purchase = interactions::TypeWeights().Weight("purchase");
  EXPECT_EQ(Threshold(serving::Exclusion::kAuto), purchase);
  EXPECT_EQ(Threshold(serving::Exclusion::kPurchased), purchase);
  EXPECT_EQ(Threshold(serving::Exclusion::kAllInteracted), 0.0f);  // every pair
  EXPECT_TRUE(std::isinf(Threshold(serving::Exclusion::kNone)));    // none
  // A purchase the tenant does not count as a positive is not in the data: nothing to mask.
  EXPECT_TRUE(std::isinf(Threshold(serving::Exclusion::kPurchased, {{"purchase", 0.0f}})));
  auto td = LoadTrainingData(*store_, interactions::TypeWeights(), serving::Exclusion::kAuto, 0.2, 1);
  ASSERT_TRUE(td.ok());
  EXPECT_EQ(td->exclusion, serving::Exclusion::kPurchased);
  // The mask it makes: the purchased pairs left in training, no view.
  const ml::UserItems mask = ml::ServedExclusion(td->data, td->shown_below_weight);
  EXPECT_GT(mask.size(), 0);
  EXPECT_LT(mask.size(), td->data.train.size());
  for (int32_t u = 0; u < td->data.train.num_users(); ++u) {
    for (const int32_t* i = td->data.train.begin(u); i != td->data.train.end(u); ++i) {
      EXPECT_EQ(mask.Contains(u, *i), td->data.train.WeightOf(u, *i) >= purchase) << u << " " << *i;
    }
  }
}

TEST_F(ServedMaskTest, AShopWithoutPurchasesMasksEverythingByDefault) {
  Fill(false);
  EXPECT_EQ(Threshold(serving::Exclusion::kAuto), 0.0f);
  auto td = LoadTrainingData(*store_, interactions::TypeWeights(), serving::Exclusion::kNone, 0.2, 1);
  ASSERT_TRUE(td.ok());
  // Every weight the same (none stored): "none" still masks nothing.
  EXPECT_EQ(ml::ServedExclusion(td->data, td->shown_below_weight).items.size(), 0u);
  EXPECT_EQ(ml::ServedExclusion(td->data, 0).size(), td->data.train.size());
}

}  // namespace
}  // namespace embedrec::training
