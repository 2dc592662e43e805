#include "ingest/interaction_sorter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <random>

namespace embedrec::ingest {
namespace {

std::vector<PackedInteraction> RandomRows(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<PackedInteraction> rows(n);
  for (size_t i = 0; i < n; ++i) {
    rows[i].user_key = rng() % 50;
    rows[i].item_idx = static_cast<int64_t>(rng() % 30) - 1;
    rows[i].type = static_cast<uint16_t>(rng() % 3);
    rows[i].ts_ms = rng() % 5;
    rows[i].present = 1;
    rows[i].vals[0] = static_cast<double>(i);  // identifies the row
  }
  return rows;
}

std::vector<PackedInteraction> Drain(InteractionSorter& s) {
  std::vector<PackedInteraction> out;
  PackedInteraction r;
  while (true) {
    auto more = s.Next(&r);
    EXPECT_TRUE(more.ok());
    if (!more.ok() || !*more) return out;
    out.push_back(r);
  }
}

void ExpectSameMultisetSorted(std::vector<PackedInteraction> in,
                              const std::vector<PackedInteraction>& out) {
  ASSERT_EQ(in.size(), out.size());
  EXPECT_TRUE(std::is_sorted(out.begin(), out.end(), KeyLess));
  auto by_id = [](const auto& a, const auto& b) { return a.vals[0] < b.vals[0]; };
  std::vector<PackedInteraction> sorted_out = out;
  std::sort(in.begin(), in.end(), by_id);
  std::sort(sorted_out.begin(), sorted_out.end(), by_id);
  for (size_t i = 0; i < in.size(); ++i) {
    ASSERT_TRUE(SameKey(in[i], sorted_out[i])) << i;
    ASSERT_EQ(in[i].vals[0], sorted_out[i].vals[0]);
  }
}

std::string SpillDir() {
  return (std::filesystem::temp_directory_path() / "embedrec-sorter-test").string();
}

TEST(InteractionSorterTest, SortsInMemoryWithoutSpilling) {
  auto rows = RandomRows(1000, 1);
  InteractionSorter s(SpillDir(), 4096);
  for (const auto& r : rows) ASSERT_TRUE(s.Add(r).ok());
  ASSERT_TRUE(s.Finish().ok());
  EXPECT_EQ(s.runs_spilled(), 0u);
  ExpectSameMultisetSorted(rows, Drain(s));
}

TEST(InteractionSorterTest, MergesSpilledRunsOfUnevenSizes) {
  // 10,007 rows in runs of 97 (the last one short) and merge buffers that
  // refill many times per run.
  auto rows = RandomRows(10007, 2);
  InteractionSorter s(SpillDir(), 97);
  for (const auto& r : rows) ASSERT_TRUE(s.Add(r).ok());
  ASSERT_TRUE(s.Finish().ok());
  EXPECT_EQ(s.runs_spilled(), 104u);
  ExpectSameMultisetSorted(rows, Drain(s));
}

TEST(InteractionSorterTest, EmptyInputYieldsNothing) {
  InteractionSorter s(SpillDir(), 8);
  ASSERT_TRUE(s.Finish().ok());
  EXPECT_TRUE(Drain(s).empty());
}

TEST(InteractionSorterTest, LeavesNoFileBehind) {
  std::string dir = SpillDir() + "-clean";
  std::filesystem::remove_all(dir);
  {
    InteractionSorter s(dir, 4);
    for (const auto& r : RandomRows(100, 3)) ASSERT_TRUE(s.Add(r).ok());
    ASSERT_TRUE(s.Finish().ok());
    EXPECT_GT(s.runs_spilled(), 1u);
    EXPECT_TRUE(std::filesystem::is_empty(dir));  // unlinked while still open
  }
}

TEST(InteractionSorterTest, ReportsAnUnusableSpillDirectory) {
  InteractionSorter s("/proc/no-such-dir/embedrec", 2);
  Status st;
  for (const auto& r : RandomRows(10, 4)) {
    st = s.Add(r);
    if (!st.ok()) break;
  }
  EXPECT_EQ(st.code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace embedrec::ingest
