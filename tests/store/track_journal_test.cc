// The tracking journal's file (store/track_journal.h): rounds read back as
// written, a torn or damaged tail ignored and cut, emptied on Clear.
#include "store/track_journal.h"

#include <sys/stat.h>

#include <filesystem>

#include "common/file_util.h"
#include "store/track_committer.h"
#include "test_util.h"

namespace embedrec::store {
namespace {

TrackBatch BatchOf(const std::vector<std::string>& users) {
  TrackBatch b;
  for (const auto& u : users) {
    TrackEvent ev;
    ev.user_id = u;
    ev.item_id = "item-" + u;
    ev.type = "purchase";
    ev.ts_ms = 42;
    b.events.push_back(ev);
    TrackResult r;
    r.interaction_id = "int_" + u;
    r.processed_at_ms = 77;
    b.results.push_back(r);
  }
  return b;
}

TEST(TrackJournalTest, RoundsAreReadBackWithEveryFieldAndTheirIds) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/j";
  std::vector<JournalRound> rounds;
  auto j = TrackJournal::Open(path, &rounds);
  ASSERT_OK(j);
  EXPECT_TRUE(rounds.empty());
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  TrackBatch a = BatchOf({"u1"});
  TrackEvent& full = a.events[0];
  full.rating = 4.5;
  full.quantity = 2;
  full.context_json = R"({"page":"home"})";
  full.metadata_json = R"({"k":"\u00e9"})";
  full.recommendation_id = "rec_1";
  full.idempotency_key = "key-1";
  full.create_missing_item = true;
  TrackBatch b = BatchOf({"u2", "u3"});
  b.results[1].interaction_id.clear();  // an event that stored nothing (unknown item)
  ASSERT_OK((*j)->Append(7, {&a, &b}));
  ASSERT_OK((*j)->Append(8, {&b}));
  j->reset();
  ASSERT_OK(TrackJournal::Open(path, &rounds));
  ASSERT_EQ(rounds.size(), 2u);
  EXPECT_EQ(rounds[0].seq, 7u);
  EXPECT_EQ(rounds[1].seq, 8u);
  ASSERT_EQ(rounds[0].events.size(), 3u);
  const TrackEvent& e = rounds[0].events[0];
  EXPECT_EQ(e.user_id, "u1");
  EXPECT_EQ(e.item_id, "item-u1");
  EXPECT_EQ(e.type, "purchase");
  EXPECT_EQ(e.ts_ms, 42);
  EXPECT_EQ(e.rating, 4.5);
  EXPECT_FALSE(e.value.has_value());
  EXPECT_EQ(e.quantity, 2);
  EXPECT_EQ(e.context_json, full.context_json);
  EXPECT_EQ(e.metadata_json, full.metadata_json);
  EXPECT_EQ(e.recommendation_id, "rec_1");
  EXPECT_EQ(e.idempotency_key, "key-1");
  EXPECT_TRUE(e.create_missing_item);
  EXPECT_EQ(e.replay_interaction_id, "int_u1");
  EXPECT_EQ(e.replay_processed_at_ms, 77);
  EXPECT_EQ(rounds[0].events[2].replay_interaction_id, "");
  EXPECT_EQ(rounds[1].events[1].user_id, "u3");
}

TEST(TrackJournalTest, ATornOrDamagedTailEndsTheRoundsAndIsCut) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/j";
  TrackBatch a = BatchOf({"a"}), b = BatchOf({"b"});
  const std::string one = EncodeJournalRound(1, {&a}), two = EncodeJournalRound(2, {&b});
  std::vector<JournalRound> rounds;
  for (size_t cut = 1; cut < two.size(); cut += 7) {
    ASSERT_OK(WriteFileAtomically(path, one + two.substr(0, cut), 0600));
    ASSERT_OK(TrackJournal::Open(path, &rounds));
    ASSERT_EQ(rounds.size(), 1u) << cut;
    EXPECT_EQ(std::filesystem::file_size(path), one.size()) << cut;
  }
  std::string damaged = two;
  damaged[damaged.size() / 2] ^= 0x20;
  ASSERT_OK(WriteFileAtomically(path, one + damaged, 0600));
  auto j = TrackJournal::Open(path, &rounds);
  ASSERT_OK(j);
  EXPECT_EQ(rounds.size(), 1u);
  // Appends follow the last whole round.
  ASSERT_OK((*j)->Append(3, {&b}));
  auto back = (*j)->ReadBack();
  ASSERT_OK(back);
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[1].seq, 3u);
  ASSERT_OK((*j)->Clear());
  EXPECT_EQ(std::filesystem::file_size(path), 0u);
  ASSERT_OK((*j)->Append(4, {&a}));
  j->reset();
  ASSERT_OK(TrackJournal::Open(path, &rounds));
  ASSERT_EQ(rounds.size(), 1u);
  EXPECT_EQ(rounds[0].seq, 4u);
}

}  // namespace
}  // namespace embedrec::store
