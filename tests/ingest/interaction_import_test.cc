#include "ingest/interaction_import.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "ingest/fake_import_batch.h"

namespace embedrec::ingest {
namespace {

TEST(InteractionImportTest, ParsesRfc3339AndEpochSeconds) {
  EXPECT_EQ(ParseTimestampMillis("2024-01-10T14:23:00Z"), 1704896580000);
  EXPECT_EQ(ParseTimestampMillis(" 1704896580 "), 1704896580000);
  EXPECT_EQ(ParseTimestampMillis("1704896580.25"), 1704896580250);
  EXPECT_FALSE(ParseTimestampMillis("1704896580000"));  // milliseconds are not seconds
  EXPECT_FALSE(ParseTimestampMillis("2024-01-10"));
  EXPECT_FALSE(ParseTimestampMillis(""));
  EXPECT_FALSE(ParseTimestampMillis("1.2.3"));
}

TEST(InteractionImportTest, CreatesUsersOnceAndDropsDuplicates) {
  testing::FakeImportBatch b;
  b.item_index = {{"P1", 1}, {"P2", 2}};
  b.user_index = {{"OLD", 7}};
  auto src = NewStringSource(
      "user_id,item_id,interaction_type,timestamp,extra\n"
      "NEW,P1,view,1704896580,x\n"
      "NEW,P2,purchase,1704896590,x\n"
      "NEW,P1,view,1704896580,x\n"
      "OLD,P1,view,1704896580,x\n");
  InteractionImportOptions opt;
  opt.now_ms = 1800000000000;
  InteractionStats st;
  auto r = ImportInteractionsCsv(src.get(), &b, opt, &st);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->rows_accepted, 3);
  EXPECT_EQ(r->duplicates_removed, 1);
  EXPECT_EQ(b.users, (std::vector<std::string>{"NEW"}));
  EXPECT_TRUE(std::any_of(b.interactions.begin(), b.interactions.end(),
                          [](const auto& i) { return i.user_idx == 7; }));
  EXPECT_EQ(st.unique_users, 2);
  EXPECT_EQ(st.unique_items, 2);
  EXPECT_EQ(st.types.at("view"), 2);
  EXPECT_EQ(r->extra_columns, (std::vector<std::string>{"extra"}));
  EXPECT_EQ(r->rows_accepted + r->rows_rejected + r->duplicates_removed, r->data_rows);
}

}  // namespace
}  // namespace embedrec::ingest
