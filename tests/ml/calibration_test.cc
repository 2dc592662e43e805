// Score calibration recovers a known link between inner product and choice.
#include "ml/calibration.h"

#include "common/json_text.h"

#include <gtest/gtest.h>

#include <boost/json/object.hpp>

#include <cmath>
#include <random>

namespace embedrec::ml {
namespace {

TEST(ScoreCalibrationTest, RecoversAKnownLogisticLink) {
  // One dimension: every user is [1], item i is x_i in [-3, 3]; a user holds
  // item i out with probability sigmoid(2 x_i - 3).
  constexpr int kUsers = 3000, kItems = 200;
  Dataset data;
  data.n_users = kUsers;
  data.n_items = kItems;
  std::vector<float> users(kUsers, 1.0f), items(kItems);
  for (int i = 0; i < kItems; ++i) items[i] = static_cast<float>(-3 + 6.0 * i / (kItems - 1));
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> uni(0, 1);
  data.train.offsets.assign(kUsers + 1, 0);
  for (int u = 0; u < kUsers; ++u) {
    for (int i = 0; i < kItems; ++i) {
      if (uni(rng) < 1 / (1 + std::exp(-(2 * items[i] - 3)))) data.test.items.push_back(i);
    }
    data.test.offsets.push_back(static_cast<int64_t>(data.test.items.size()));
  }
  auto c = FitScoreCalibration(data, users.data(), items.data(), 1, 5);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_NEAR(c->a, 2.0, 0.15);
  EXPECT_NEAR(c->b, -3.0, 0.15);
  EXPECT_EQ(c->users, kUsers);
  EXPECT_EQ(c->positives, data.test.size());
  EXPECT_NEAR(c->Probability(1.5), 0.5, 0.05);
}

TEST(ScoreCalibrationTest, NothingHeldOutIsAnError) {
  Dataset data;
  data.n_users = 2;
  data.n_items = 3;
  data.train.offsets = {0, 0, 0};
  data.test.offsets = {0, 0, 0};
  std::vector<float> users(2, 1.0f), items(3, 1.0f);
  EXPECT_FALSE(FitScoreCalibration(data, users.data(), items.data(), 1, 1).ok());
  EXPECT_DOUBLE_EQ(ScoreCalibration{}.Probability(0), 0.5);  // the identity link
}

TEST(ScoreCalibrationTest, AModelThatRanksHeldOutItemsLastIsNotCalibrated) {
  // Held-out items have the lowest inner products: an increasing link cannot fit.
  Dataset data;
  data.n_users = 200;
  data.n_items = 50;
  data.train.offsets.assign(201, 0);
  std::vector<float> users(200, 1.0f), items(50);
  for (int i = 0; i < 50; ++i) items[i] = static_cast<float>(i);
  for (int u = 0; u < 200; ++u) {
    data.test.items.push_back(u % 3);
    data.test.offsets.push_back(static_cast<int64_t>(data.test.items.size()));
  }
  EXPECT_FALSE(FitScoreCalibration(data, users.data(), items.data(), 1, 1).ok());
}

TEST(ScoreCalibrationTest, ReadBackFromModelMetadata) {
  ScoreCalibration c;
  c.a = 1.75;
  c.b = -4.5;
  const std::string meta = "{\"version\":\"v1\",\"score_calibration\":" + JsonText(c.ToJson()) + "}";
  const auto back = ScoreCalibration::FromMetadata(meta);
  EXPECT_DOUBLE_EQ(back.a, 1.75);
  EXPECT_DOUBLE_EQ(back.b, -4.5);
  for (const char* bad : {"", "not json", "{}", R"({"score_calibration":null})",
                          R"({"score_calibration":{"a":"x","b":1}})"}) {
    const auto id = ScoreCalibration::FromMetadata(bad);
    EXPECT_EQ(id.a, 1) << bad;
    EXPECT_EQ(id.b, 0) << bad;
  }
}

}  // namespace
}  // namespace embedrec::ml
