#include "store/sqlite/recent_answers.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace embedrec::store {
namespace {

std::vector<int64_t> Rowids(const std::vector<RecentAnswers::Entry>& entries) {
  std::vector<int64_t> out;
  for (const auto& e : entries) out.push_back(e.rowid);
  return out;
}

TEST(RecentAnswersTest, FindsAUsersAnswersInTheRangeNewestFirst) {
  RecentAnswers index(/*covered_since_ms=*/1000);
  index.Add("ann", 2000, 1);
  index.Add("bob", 2100, 2);
  index.Add("ann", 3000, 3);
  index.Add("ann", 3000, 4);  // the same time: the later row first
  index.Add("ann", 5000, 5);
  int64_t missing_to = -1;
  auto found = index.Find("ann", 2000, 5000, 10, &missing_to);  // to is exclusive
  EXPECT_EQ(Rowids(found), (std::vector<int64_t>{4, 3, 1}));
  EXPECT_EQ(missing_to, 2000);  // nothing missing
  found = index.Find("ann", 0, 10000, 2, &missing_to);
  EXPECT_EQ(Rowids(found), (std::vector<int64_t>{5, 4}));
  EXPECT_EQ(missing_to, 0);  // two answers after the covered time: what is older cannot come first
  found = index.Find("nobody", 2000, 9000, 10, &missing_to);
  EXPECT_TRUE(found.empty());
  EXPECT_EQ(missing_to, 2000);
  EXPECT_EQ(index.entries(), 5u);
  EXPECT_EQ(index.users(), 2u);
  EXPECT_GE(index.bytes(), 5 * 16 + 2 * 32);
}

TEST(RecentAnswersTest, SaysWhatPartOfARangeBeforeItsCoveredTimeItMayLack) {
  RecentAnswers index(/*covered_since_ms=*/1000);
  index.Add("ann", 1500, 1);
  int64_t missing_to = -1;
  auto found = index.Find("ann", 0, 2000, 10, &missing_to);
  EXPECT_EQ(Rowids(found), (std::vector<int64_t>{1}));
  EXPECT_EQ(missing_to, 1000);  // [0, 1000) is not known here
  found = index.Find("ann", 0, 800, 10, &missing_to);
  EXPECT_EQ(missing_to, 800);  // no further than the range
  found = index.Find("bob", 0, 2000, 10, &missing_to);
  EXPECT_EQ(missing_to, 1000);
}

TEST(RecentAnswersTest, KeepsAUsersNewestAnswersAndSaysWhenOlderOnesWereDropped) {
  RecentAnswers::Options o;
  o.per_user = 3;
  RecentAnswers index(0, o);
  const int64_t empty = index.bytes();
  for (int i = 1; i <= 5; ++i) index.Add("ann", i * 100, i);
  EXPECT_EQ(index.entries(), 3u);
  EXPECT_GT(index.bytes(), empty);
  int64_t missing_to = -1;
  // Three kept (300, 400, 500): asked for three, whole.
  auto found = index.Find("ann", 0, 1000, 3, &missing_to);
  EXPECT_EQ(Rowids(found), (std::vector<int64_t>{5, 4, 3}));
  EXPECT_EQ(missing_to, 0);
  // Asked for more: the dropped ones' time (up to 200) may hold them.
  found = index.Find("ann", 0, 1000, 10, &missing_to);
  EXPECT_EQ(found.size(), 3u);
  EXPECT_EQ(missing_to, 201);
  // Asked up to 450: only two kept ones qualify, the dropped may come next.
  found = index.Find("ann", 0, 450, 3, &missing_to);
  EXPECT_EQ(Rowids(found), (std::vector<int64_t>{4, 3}));
  EXPECT_EQ(missing_to, 201);
  // A range after the dropped ones needs nothing else.
  found = index.Find("ann", 250, 1000, 10, &missing_to);
  EXPECT_EQ(missing_to, 250);
}

TEST(RecentAnswersTest, ExpiresPastItsHorizonAndHalvesTheTimeKeptWhenOverItsBound) {
  RecentAnswers::Options o;
  o.horizon_ms = 1000;
  o.max_entries = 4;
  RecentAnswers index(0, o);
  index.Add("ann", 100, 1);
  index.Add("bob", 1500, 2);
  index.Add("ann", 1600, 3);
  index.Expire(2000);  // horizon 1000
  EXPECT_EQ(index.covered_since(), 1000);
  EXPECT_EQ(index.entries(), 2u);
  int64_t missing_to = -1;
  auto found = index.Find("ann", 0, 3000, 10, &missing_to);
  EXPECT_EQ(Rowids(found), (std::vector<int64_t>{3}));
  EXPECT_EQ(missing_to, 1000);
  for (int i = 0; i < 4; ++i) index.Add("u" + std::to_string(i), 1900 + i, 10 + i);
  index.Expire(2000);  // 6 entries over 4: keeps [1500, 2000), then [1750, 2000)
  EXPECT_LE(index.entries(), 4u);
  EXPECT_EQ(index.covered_since(), 1750);
  EXPECT_EQ(index.users(), 4u);
  std::vector<std::string> users;
  EXPECT_FALSE(index.UsersSince(1000, 10, &users));  // before the covered time: not known here
  EXPECT_TRUE(users.empty());
  EXPECT_TRUE(index.UsersSince(1902, 10, &users));
  std::sort(users.begin(), users.end());
  EXPECT_EQ(users, (std::vector<std::string>{"u2", "u3"}));
  users.clear();
  EXPECT_TRUE(index.UsersSince(1750, 1, &users));
  EXPECT_EQ(users.size(), 1u);
}

}  // namespace
}  // namespace embedrec::store
