#include "ingest/interaction_import.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "ingest/fake_import_batch.h"

namespace embedrec::ingest {
namespace {

struct Fixture {
  testing::FakeImportBatch batch;
  IdSnapshot ids;
  int begins = 0;
  BeginBatch begin = [this]() -> StatusOr<store::ImportBatch*> {
    ++begins;
    return &batch;
  };
  // Imports `csv` with the default options, at a fixed now.
  StatusOr<ImportResult> Import(std::string csv, InteractionStats* st) {
    auto src = NewStringSource(std::move(csv));
    InteractionImportOptions opt;
    opt.now_ms = 1800000000000;
    return ImportInteractionsCsv(src.get(), ids, begin, opt, st);
  }
};

TEST(InteractionImportTest, CreatesUsersOnceAndDropsDuplicates) {
  Fixture f;
  f.ids.items = {{"P1", 1}, {"P2", 2}};
  f.ids.users = {{"OLD", 7}};
  f.batch.user_index = f.ids.users;
  InteractionStats st;
  auto r = f.Import(
      "user_id,item_id,interaction_type,timestamp,extra\n"
      "NEW,P1,view,1704896580,x\n"
      "NEW,P2,purchase,1704896590,x\n"
      "NEW,P1,view,1704896580,x\n"
      "OLD,P1,view,1704896580,x\n",
      &st);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(f.begins, 1);
  EXPECT_EQ(r->rows_accepted, 3);
  EXPECT_EQ(r->duplicates_removed, 1);
  EXPECT_EQ(f.batch.users, (std::vector<std::string>{"NEW"}));
  EXPECT_TRUE(std::any_of(f.batch.interactions.begin(), f.batch.interactions.end(),
                          [](const auto& i) { return i.user_idx == 7; }));
  EXPECT_TRUE(std::any_of(f.batch.interactions.begin(), f.batch.interactions.end(),
                          [](const auto& i) { return i.user_idx == 1000; }));
  EXPECT_EQ(st.unique_users, 2);
  EXPECT_EQ(st.unique_items, 2);
  EXPECT_EQ(st.types.at("view"), 2);
  EXPECT_EQ(r->extra_columns, (std::vector<std::string>{"extra"}));
  EXPECT_EQ(r->rows_accepted + r->rows_rejected + r->duplicates_removed, r->data_rows);
}

TEST(InteractionImportTest, ATabSeparatedExportIsReadWithItsDecimalCommas) {
  Fixture f;
  f.ids.items = {{"P1", 1}, {"P2", 2}};
  InteractionStats st;
  auto r = f.Import(
      "user_id\titem_id\tinteraction_type\ttimestamp\trating\tprice\n"
      "U1\tP1\trating\t1704896580\t4,5\t\n"
      "U1\tP2\tpurchase\t1704896590\t\t19,90\n",
      &st);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->rows_accepted, 2) << (r->errors.empty() ? "" : r->errors[0].error);
  ASSERT_EQ(f.batch.interactions.size(), 2u);
  std::map<int64_t, store::InteractionRecord> by_item;
  for (const auto& i : f.batch.interactions) by_item[*i.item_idx] = i;
  EXPECT_DOUBLE_EQ(*by_item[1].rating, 4.5);
  EXPECT_DOUBLE_EQ(*by_item[2].value, 19.9);
}

TEST(InteractionImportTest, AValueWithItsCurrencyAndThousandsOneCurrencyAFile) {
  Fixture f;
  f.ids.items = {{"P1", 1}, {"P2", 2}, {"P3", 3}, {"P4", 4}};
  InteractionStats st;
  auto r = f.Import(
      "user_id,item_id,interaction_type,timestamp,rating,value\n"
      "U1,P1,purchase,1704896580,,\"$1,299.00\"\n"
      "U1,P2,purchase,1704896590,,USD 5\n"    // another way to write the dollar: refused, not converted
      "U1,P3,rating,1704896600,$4,\n"         // a rating is no amount
      "U1,P4,purchase,1704896610,,\"1,234\"\n",  // a quoted comma-file grouping
      &st);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->rows_accepted, 2);
  EXPECT_EQ(r->currency, "$");
  ASSERT_EQ(r->errors.size(), 2u);
  EXPECT_EQ(r->errors[0].row, 3u);
  EXPECT_NE(r->errors[0].error.find("amounts are not converted"), std::string::npos) << r->errors[0].error;
  EXPECT_EQ(r->errors[1].row, 4u);
  EXPECT_NE(r->errors[1].error.find("rating must be"), std::string::npos) << r->errors[1].error;
  std::map<int64_t, store::InteractionRecord> by_item;
  for (const auto& i : f.batch.interactions) by_item[*i.item_idx] = i;
  EXPECT_DOUBLE_EQ(*by_item[1].value, 1299);
  EXPECT_DOUBLE_EQ(*by_item[4].value, 1234);
}

TEST(InteractionImportTest, WritesRowsInKeyOrderAcrossSpilledRuns) {
  Fixture f;
  for (int i = 0; i < 50; ++i) f.ids.items.emplace("P" + std::to_string(i), i);
  std::string csv = "user_id,item_id,interaction_type,timestamp,rating\n";
  // 40 users, out of order, with repeats; every 7th row repeats the previous one.
  std::string prev;
  int data_rows = 0;
  for (int i = 0; i < 1000; ++i) {
    std::string row = "U" + std::to_string((i * 17) % 40) + ",P" + std::to_string((i * 31) % 50) +
                      ",rating," + std::to_string(1700000000 + (i % 13)) + "," +
                      std::to_string(1 + i % 5) + "\n";
    if (i % 7 == 6) row = prev;
    csv += row;
    prev = row;
    ++data_rows;
  }
  auto src = NewStringSource(csv);
  InteractionImportOptions opt;
  opt.now_ms = 1800000000000;
  opt.sort_chunk_rows = 64;  // many runs
  opt.spill_dir = (std::filesystem::temp_directory_path() / "embedrec-spill-test").string();
  InteractionStats st;
  auto r = ImportInteractionsCsv(src.get(), f.ids, f.begin, opt, &st);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->rows_accepted + r->duplicates_removed, data_rows);
  EXPECT_EQ(r->rows_rejected, 0);
  EXPECT_GE(r->duplicates_removed, 1000 / 7);
  EXPECT_EQ(static_cast<int64_t>(f.batch.interactions.size()), r->rows_accepted);
  EXPECT_EQ(f.batch.users.size(), 40u);
  EXPECT_EQ(st.unique_users, 40);
  auto key = [](const store::InteractionRecord& x) {
    return std::make_tuple(x.user_idx, x.item_idx.value_or(-1), x.type, x.ts_ms);
  };
  EXPECT_TRUE(std::is_sorted(f.batch.interactions.begin(), f.batch.interactions.end(),
                             [&](const auto& a, const auto& b) { return key(a) < key(b); }));
  for (const auto& x : f.batch.interactions) {
    ASSERT_TRUE(x.rating.has_value());
    EXPECT_GE(*x.rating, 1);
    EXPECT_FALSE(x.quantity.has_value());
  }
}

TEST(InteractionImportTest, ManyNewUsersSpillAndEachIsCreatedOnceBeforeItsRows) {
  Fixture f;
  f.ids.items = {{"P1", 1}, {"P2", 2}};
  f.ids.users = {{"OLD", 7}};
  f.batch.user_index = f.ids.users;
  std::string csv = "user_id,item_id,interaction_type,timestamp\n";
  for (int i = 0; i < 300; ++i) {
    csv += "N" + std::to_string(i % 100) + ",P" + std::to_string(1 + i % 2) + ",view," +
           std::to_string(1700000000 + i) + "\n";
  }
  csv += "OLD,P1,view,1700000000\n";
  auto src = NewStringSource(csv);
  InteractionImportOptions opt;
  opt.now_ms = 1800000000000;
  opt.new_user_chunk = 8;  // many spilled chunks of ids
  opt.sort_chunk_rows = 50;
  opt.spill_dir = (std::filesystem::temp_directory_path() / "embedrec-spill-test").string();
  InteractionStats st;
  auto r = ImportInteractionsCsv(src.get(), f.ids, f.begin, opt, &st);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->rows_accepted, 301);
  EXPECT_EQ(f.batch.users.size(), 100u);  // each new user once
  EXPECT_EQ(std::set<std::string>(f.batch.users.begin(), f.batch.users.end()).size(), 100u);
  EXPECT_EQ(st.unique_users, 101);
  EXPECT_GT(st.runs_spilled, 10u);
  // Every row went to its own user; user_idx grows along the rows.
  std::map<int64_t, std::string> by_idx;
  for (const auto& [id, idx] : f.batch.user_index) by_idx[idx] = id;
  int per_user[100] = {};
  for (const auto& x : f.batch.interactions) {
    if (x.user_idx == 7) continue;
    const std::string& id = by_idx.at(x.user_idx);
    ++per_user[std::stoi(id.substr(1))];
  }
  for (int n : per_user) EXPECT_EQ(n, 3);
  EXPECT_TRUE(std::is_sorted(f.batch.interactions.begin(), f.batch.interactions.end(),
                             [](const auto& a, const auto& b) { return a.user_idx < b.user_idx; }));
}

// New users are made a chunk (1024) at a time ahead of their rows.
TEST(InteractionImportTest, NewUsersBeyondOneChunkAreEachMadeOnceWithTheirRows) {
  Fixture f;
  f.ids.items = {{"P1", 1}};
  std::string csv = "user_id,item_id,interaction_type,timestamp\n";
  constexpr int kUsers = 2500;
  for (int i = 0; i < kUsers; ++i) csv += "U" + std::to_string(i) + ",P1,view," + std::to_string(1700000000 + i) + "\n";
  auto src = NewStringSource(csv);
  InteractionImportOptions opt;
  opt.now_ms = 1800000000000;
  InteractionStats st;
  auto r = ImportInteractionsCsv(src.get(), f.ids, f.begin, opt, &st);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->rows_accepted, kUsers);
  EXPECT_EQ(f.batch.users.size(), static_cast<size_t>(kUsers));
  std::map<int64_t, std::string> by_idx;
  for (const auto& [id, idx] : f.batch.user_index) by_idx[idx] = id;
  std::set<std::string> with_rows;
  for (const auto& x : f.batch.interactions) {
    const std::string& id = by_idx.at(x.user_idx);
    EXPECT_EQ(x.ts_ms, (1700000000LL + std::stoi(id.substr(1))) * 1000) << id;
    with_rows.insert(id);
  }
  EXPECT_EQ(with_rows.size(), static_cast<size_t>(kUsers));
}

TEST(InteractionImportTest, TwoNewUsersWithOneHashKeyFailTheUploadAsRetryable) {
  Fixture f;
  f.ids.items = {{"P1", 1}};
  auto src = NewStringSource(
      "user_id,item_id,interaction_type,timestamp\n"
      "AA,P1,view,1704896580\n"
      "BB,P1,view,1704896580\n");
  InteractionImportOptions opt;
  opt.now_ms = 1800000000000;
  opt.user_hash = [](std::string_view) { return uint64_t{42}; };
  InteractionStats st;
  auto r = ImportInteractionsCsv(src.get(), f.ids, f.begin, opt, &st);
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);  // the caller commits nothing
}

TEST(InteractionImportTest, RejectsWithoutOpeningTheBatchWhenTheFileIsUnusable) {
  Fixture f;
  auto src = NewStringSource("user_id,item_id,timestamp\nU,P,1\n");
  InteractionImportOptions opt;
  InteractionStats st;
  auto r = ImportInteractionsCsv(src.get(), f.ids, f.begin, opt, &st);
  EXPECT_EQ(r.status().code(), StatusCode::kUnprocessable);
  EXPECT_EQ(f.begins, 0);
}

}  // namespace
}  // namespace embedrec::ingest
