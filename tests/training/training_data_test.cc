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
  // Eight users, each with four of six items, of types `first`, `second`,
  // then two views (validation holds the latest strongest pair out).
  void Fill(const std::string& first, const std::string& second) {
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
        r.type = k == 0 ? first : k == 1 ? second : "view";
        r.ts_ms = 1'700'000'000'000 + 1000 * k;
        ASSERT_OK((*batch)->InsertInteraction(r));
      }
    }
    ASSERT_OK((*batch)->Commit());
  }
  TrainingData Load(serving::Exclusion e, interactions::TypeWeights::Overrides weights = {}) {
    auto td = LoadTrainingData(*store_, interactions::TypeWeights(std::move(weights)), e, 0.2, 1);
    EXPECT_TRUE(td.ok()) << td.status().ToString();
    return td.ok() ? std::move(*td) : TrainingData{};
  }
  // How many training pairs the mask holds, and whether it holds only pairs of training.
  static int64_t Masked(const TrainingData& td) {
    const ml::UserItems mask = td.served.For(td.data);
    for (int32_t u = 0; u < mask.num_users(); ++u) {
      for (const int32_t* i = mask.begin(u); i != mask.end(u); ++i) EXPECT_TRUE(td.data.train.Contains(u, *i));
    }
    return mask.size();
  }
};

TEST_F(ServedMaskTest, APurchasingShopMasksPurchasesUnlessItSaysOtherwise) {
  Fill("purchase", "purchase");
  const TrainingData td = Load(serving::Exclusion::kAuto);
  EXPECT_EQ(td.served.exclusion, serving::Exclusion::kPurchased);
  // The mask it makes: the purchased pairs left in training, no view.
  const ml::UserItems mask = td.served.For(td.data);
  const float purchase = interactions::TypeWeights().Weight("purchase");
  EXPECT_GT(mask.size(), 0);
  EXPECT_LT(mask.size(), td.data.train.size());
  for (int32_t u = 0; u < td.data.train.num_users(); ++u) {
    for (const int32_t* i = td.data.train.begin(u); i != td.data.train.end(u); ++i) {
      EXPECT_EQ(mask.Contains(u, *i), td.data.train.WeightOf(u, *i) >= purchase) << u << " " << *i;
    }
  }
  EXPECT_EQ(Masked(Load(serving::Exclusion::kPurchased)), mask.size());
  EXPECT_EQ(Masked(Load(serving::Exclusion::kAllInteracted)), td.data.train.size());  // every pair
  EXPECT_EQ(Masked(Load(serving::Exclusion::kNone)), 0);
  // A purchase the tenant does not count as a positive is not in the data: nothing to mask.
  EXPECT_EQ(Masked(Load(serving::Exclusion::kPurchased, {{"purchase", 0.0f}})), 0);
}

TEST_F(ServedMaskTest, ACustomTypeWeighingMoreThanAPurchaseIsShownAgainAsServingShowsIt) {
  // Serving's "purchased" names the purchase type: a heavier custom type
  // ("subscribe") is shown again, so validation must rank it too (a mask by
  // weight would have hidden it as a purchase).
  Fill("subscribe", "purchase");
  const TrainingData td = Load(serving::Exclusion::kAuto, {{"subscribe", 9.0f}});
  ASSERT_EQ(td.served.exclusion, serving::Exclusion::kPurchased);
  const ml::UserItems mask = td.served.For(td.data);
  int purchased = 0, subscribed = 0;
  for (int32_t u = 0; u < td.data.train.num_users(); ++u) {
    for (const int32_t* i = td.data.train.begin(u); i != td.data.train.end(u); ++i) {
      const float w = td.data.train.WeightOf(u, *i);
      if (w == 9.0f) {
        ++subscribed;
        EXPECT_FALSE(mask.Contains(u, *i)) << u << " " << *i;
      } else if (w == interactions::TypeWeights().Weight("purchase")) {
        ++purchased;
        EXPECT_TRUE(mask.Contains(u, *i)) << u << " " << *i;
      } else {
        EXPECT_FALSE(mask.Contains(u, *i));
      }
    }
  }
  EXPECT_GT(purchased, 0);
  EXPECT_GT(subscribed, 0);
  EXPECT_EQ(mask.size(), purchased);
  // The refit's data set (every pair back) is masked the same way.
  TrainingData copy = Load(serving::Exclusion::kAuto, {{"subscribe", 9.0f}});
  const ServedMask served = copy.served;
  const ml::Dataset all = AllData(std::move(copy));
  EXPECT_EQ(served.For(all).size(), 8);  // each user's one purchase
}

TEST_F(ServedMaskTest, AShopWithoutPurchasesMasksEverythingByDefault) {
  Fill("view", "view");
  const TrainingData td = Load(serving::Exclusion::kAuto);
  EXPECT_EQ(td.served.exclusion, serving::Exclusion::kAllInteracted);
  EXPECT_EQ(Masked(td), td.data.train.size());
  EXPECT_EQ(Masked(Load(serving::Exclusion::kNone)), 0);
}

}  // namespace
}  // namespace embedrec::training
