#include "training/training_data.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace embedrec::training
