// The recommendation log's contract (store/recommendation_log.h), one suite
// every backend must pass: add a backend to kBackends.
#include <algorithm>
#include <filesystem>
#include <mutex>
#include <thread>
#include <tuple>

#include <sqlite3.h>

#include "common/clock.h"
#include "common/random.h"
#include "store/recommendation_log.h"
#include "store/tenant_spaces.h"
#include "test_util.h"

namespace embedrec::store {
namespace {

// A backend under test: makes a log and the space of a tenant.
struct Backend {
  const char* name;
  std::function<std::unique_ptr<RecommendationLog>(const std::string& root, const Clock*,
                                                   RecommendationLogOptions)>
      open;
  std::function<void(const std::string& root, const std::string& tenant)> create_tenant;
  std::function<void(const std::string& tenant)> drop_tenant = [](const std::string&) {};
  // False when the backend's server is not running (a suite run by hand).
  std::function<bool()> available = [] { return true; };
};

void PrintTo(const Backend& b, std::ostream* os) { *os << b.name; }

const Backend kBackends[] = {
    {"sqlite",
     [](const std::string& root, const Clock* clock, RecommendationLogOptions o) {
       return NewSqliteRecommendationLog(root, clock, o);
     },
     testing::MakeDirectorySpace},
    {"postgres",
     [](const std::string&, const Clock* clock, RecommendationLogOptions o) {
       auto log = NewPostgresRecommendationLog(*testing::TestDatabaseUrl(), clock, o);
       EXPECT_TRUE(log.ok()) << log.status().ToString();
       return log.ok() ? std::move(log).value() : nullptr;
     },
     testing::MakeSchemaSpace, testing::DropSchemaSpace, [] { return testing::PgSpaces() != nullptr; }},
};

class RecommendationLogTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (!GetParam().available()) GTEST_SKIP() << GetParam().name << " is not running (see tests/local_services.h)";
    GetParam().create_tenant(dir_.path(), t1_);
    GetParam().create_tenant(dir_.path(), t2_);
  }
  std::unique_ptr<RecommendationLog> Open(RecommendationLogOptions o = {}) {
    return GetParam().open(dir_.path(), &clock_, o);
  }
  // At `ts_ms` after a day ago.
  RecommendationRecord Record(const std::string& tenant, const std::string& id, int64_t ts_ms) {
    RecommendationRecord r;
    r.id = id;
    r.tenant_id = tenant;
    r.user_id = "u-" + id;
    r.endpoint = "recommendations";
    r.model_version = "v1.0_20261201";
    r.algorithm = "als";
    r.items = {{"P" + id + "a", 0.9}, {"P" + id + "b", 0.5}};
    r.context_json = R"({"page":"home"})";
    r.ts_ms = base_ + ts_ms;
    return r;
  }
  void TearDown() override {
    GetParam().drop_tenant(t1_);
    GetParam().drop_tenant(t2_);
  }
  testing::TempDir dir_;
  const std::string t1_ = NewUuid(), t2_ = NewUuid();
  FakeClock clock_;
  const int64_t base_ = clock_.NowMillis() - 86'400'000;
};

TEST_P(RecommendationLogTest, FindsWhatWasAppendedWithItsItemsInOrder) {
  auto log = Open();
  auto r = Record(t1_, "rec_1", 5);
  r.cached = true;
  log->Append(r);
  ASSERT_OK(log->Flush());
  auto found = log->Find(t1_, "rec_1");
  ASSERT_OK(found);
  ASSERT_TRUE(found->has_value());
  const auto& f = **found;
  EXPECT_EQ(f.tenant_id, t1_);
  EXPECT_EQ(f.user_id, "u-rec_1");
  EXPECT_EQ(f.endpoint, "recommendations");
  EXPECT_EQ(f.model_version, "v1.0_20261201");
  EXPECT_EQ(f.algorithm, "als");
  EXPECT_EQ(f.context_json, R"({"page":"home"})");
  EXPECT_EQ(f.ts_ms, r.ts_ms);
  EXPECT_TRUE(f.cached);
  ASSERT_EQ(f.items.size(), 2u);
  EXPECT_EQ(f.items[0].item_id, "Prec_1a");
  EXPECT_DOUBLE_EQ(f.items[0].score, 0.9);
  EXPECT_EQ(f.items[1].item_id, "Prec_1b");
  auto none = log->Find(t1_, "rec_unknown");
  ASSERT_OK(none);
  EXPECT_FALSE(none->has_value());
}

TEST_P(RecommendationLogTest, FieldsWithTabsNewlinesAndBackslashesComeBackAsGiven) {
  auto log = Open();
  auto r = Record(t1_, "rec_esc", 5);
  r.user_id = "u\tone\\two\nthree\r";
  r.context_json = R"({"page":"a\tb\\n","note":"line\nnext"})";
  r.items = {{"P\t1", 0.5}, {"P\\2\n", 0.25}};
  log->Append(r);
  ASSERT_OK(log->Flush());
  auto found = log->Find(t1_, "rec_esc");
  ASSERT_OK(found);
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->user_id, r.user_id);
  EXPECT_EQ((*found)->context_json, r.context_json);
  ASSERT_EQ((*found)->items.size(), 2u);
  EXPECT_EQ((*found)->items[0].item_id, "P\t1");
  EXPECT_EQ((*found)->items[1].item_id, "P\\2\n");
}

TEST_P(RecommendationLogTest, ARecordStoredAlreadyIsSkippedAndTheRestOfItsBatchKept) {
  auto log = Open();
  log->Append(Record(t1_, "rec_once", 5));
  ASSERT_OK(log->Flush());
  auto again = Record(t1_, "rec_once", 7);  // written again (its first commit's answer lost)
  again.algorithm = "ease";
  log->Append(again);
  log->Append(Record(t1_, "rec_next", 8));
  ASSERT_OK(log->Flush());
  auto first = log->Find(t1_, "rec_once");
  ASSERT_OK(first);
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ((*first)->algorithm, "als");  // the stored record, not the repeat
  auto next = log->Find(t1_, "rec_next");
  ASSERT_OK(next);
  EXPECT_TRUE(next->has_value());
  auto all = log->Read(t1_, {});
  ASSERT_OK(all);
  EXPECT_EQ(all->size(), 2u);
}

TEST_P(RecommendationLogTest, ATenantNeverSeesAnotherTenantsRecords) {
  auto log = Open();
  log->Append(Record(t1_, "rec_a", 1000));
  log->Append(Record(t2_, "rec_b", 1000));
  auto cross = log->Find(t2_, "rec_a");
  ASSERT_OK(cross);
  EXPECT_FALSE(cross->has_value());
  auto t2 = log->Read(t2_, {});
  ASSERT_OK(t2);
  ASSERT_EQ(t2->size(), 1u);
  EXPECT_EQ((*t2)[0].id, "rec_b");
}

TEST_P(RecommendationLogTest, ReadsATimeRangeInPagesOldestFirst) {
  auto log = Open();
  // Out of order, with a tie in time.
  for (auto [id, ts] : std::vector<std::pair<std::string, int64_t>>{
           {"r5", 5000}, {"r1", 1000}, {"r3b", 3000}, {"r3a", 3000}, {"r2", 2000}, {"r9", 9000}}) {
    log->Append(Record(t1_, id, ts));
  }
  RecommendationLog::Range range;
  range.from_ms = base_ + 1500;
  range.to_ms = base_ + 9000;  // exclusive
  range.limit = 2;
  std::vector<std::string> seen;
  while (true) {
    auto page = log->Read(t1_, range);
    ASSERT_OK(page);
    if (page->empty()) break;
    ASSERT_LE(page->size(), 2u);
    for (const auto& r : *page) seen.push_back(r.id);
    range.after_ts_ms = page->back().ts_ms;
    range.after_id = page->back().id;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"r2", "r3a", "r3b", "r5"}));
}

TEST_P(RecommendationLogTest, ReadsAUsersRecentAnswersNewestFirst) {
  auto log = Open();
  for (auto [id, user, ts] : std::vector<std::tuple<std::string, std::string, int64_t>>{
           {"a1", "ann", 1000}, {"a2", "ann", 2000}, {"a3", "ann", 3000}, {"b1", "bob", 2500},
           {"s1", "", 2600}}) {
    auto r = Record(t1_, id, ts);
    r.user_id = user;
    if (id == "a2") {
      r.endpoint = "similar";
      r.experiment_id = "exp-1";
      r.arm = "b";
    }
    log->Append(r);
  }
  auto other = Record(t2_, "x1", 2000);
  other.user_id = "ann";
  log->Append(other);
  ASSERT_OK(log->Flush());  // ReadUser reads what is written
  auto ann = log->ReadUser(t1_, "ann", base_ + 1500, base_ + 3000, 10);  // to is exclusive
  ASSERT_OK(ann);
  ASSERT_EQ(ann->size(), 1u);
  // What attribution reads of each.
  const RecommendationRecord& a2 = (*ann)[0];
  EXPECT_EQ(a2.id, "a2");
  EXPECT_EQ(a2.tenant_id, t1_);
  EXPECT_EQ(a2.user_id, "ann");
  EXPECT_EQ(a2.ts_ms, base_ + 2000);
  EXPECT_EQ(a2.endpoint, "similar");
  EXPECT_EQ(a2.model_version, "v1.0_20261201");
  EXPECT_EQ(a2.experiment_id, "exp-1");
  EXPECT_EQ(a2.arm, "b");
  ASSERT_EQ(a2.items.size(), 2u);
  EXPECT_EQ(a2.items[0].item_id, "Pa2a");
  EXPECT_EQ(a2.items[1].item_id, "Pa2b");
  ann = log->ReadUser(t1_, "ann", 0, base_ + 10000, 2);
  ASSERT_OK(ann);
  ASSERT_EQ(ann->size(), 2u);
  EXPECT_EQ((*ann)[0].id, "a3");
  EXPECT_EQ((*ann)[1].id, "a2");
  // Answers that are not about a user are not anybody's.
  auto none = log->ReadUser(t1_, "", 0, base_ + 10000, 10);
  ASSERT_OK(none);
  EXPECT_TRUE(none->empty());
  auto users = log->UsersSince(t1_, base_ + 2000, 10);
  ASSERT_OK(users);
  std::sort(users->begin(), users->end());
  EXPECT_EQ(*users, (std::vector<std::string>{"ann", "bob"}));
  users = log->UsersSince(t1_, 0, 1);
  ASSERT_OK(users);
  EXPECT_EQ(users->size(), 1u);
}

TEST_P(RecommendationLogTest, AppendsFromManyThreadsAreAllKept) {
  auto log = Open();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2500; ++i) {
        log->Append(Record(t1_, "r" + std::to_string(t) + "_" + std::to_string(i), 1000 + i));
      }
    });
  }
  for (auto& t : threads) t.join();
  RecommendationLog::Range all;
  all.limit = 20000;
  auto read = log->Read(t1_, all);
  ASSERT_OK(read);
  EXPECT_EQ(read->size(), 10000u);
  EXPECT_EQ(log->dropped(), 0u);
}

TEST_P(RecommendationLogTest, AFullQueueDropsAndCountsRecordsInsteadOfBlocking) {
  RecommendationLogOptions o;
  o.max_queued = 10;
  o.flush_interval_ms = 60'000;  // the writer waits: the queue fills
  auto log = Open(o);
  for (int i = 0; i < 25; ++i) log->Append(Record(t1_, "r" + std::to_string(i), 1000));
  EXPECT_EQ(log->dropped(), 15u);
  auto read = log->Read(t1_, {});
  ASSERT_OK(read);
  EXPECT_EQ(read->size(), 10u);
}

TEST_P(RecommendationLogTest, ADroppedTenantsRecordsAreForgottenAndNewOnesRefused) {
  RecommendationLogOptions o;
  o.flush_interval_ms = 60'000;
  auto log = Open(o);
  log->Append(Record(t1_, "queued", 1000));
  log->Append(Record(t2_, "kept", 1000));
  ASSERT_OK(log->DropTenant(t1_));
  log->Append(Record(t1_, "later", 1000));
  ASSERT_OK(log->Flush());
  auto t1 = log->Read(t1_, {});
  ASSERT_OK(t1);
  EXPECT_TRUE(t1->empty());
  auto t2 = log->Find(t2_, "kept");
  ASSERT_OK(t2);
  EXPECT_TRUE(t2->has_value());
}

// Nodes sharing the backend (scale-out) find the answers the others logged.
TEST_P(RecommendationLogTest, TwoLogsOverOneStoreReadEachOthersRecords) {
  auto a = Open(), b = Open();
  a->Append(Record(t1_, "from_a", 1000));
  b->Append(Record(t1_, "from_b", 2000));
  ASSERT_OK(a->Flush());
  ASSERT_OK(b->Flush());
  auto found = b->Find(t1_, "from_a");
  ASSERT_OK(found);
  EXPECT_TRUE(found->has_value());
  auto all = a->Read(t1_, {});
  ASSERT_OK(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, "from_a");
  EXPECT_EQ((*all)[1].id, "from_b");
  auto users = a->UsersSince(t1_, base_, 10);
  ASSERT_OK(users);
  EXPECT_EQ(users->size(), 2u);
}

TEST_P(RecommendationLogTest, AClosedTenantKeepsItsRecordsAndOpensAgainOnUse) {
  auto log = Open();
  log->Append(Record(t1_, "before", 1000));
  ASSERT_OK(log->Flush());
  log->CloseTenant(t1_);
  log->CloseTenant("never-seen");  // nothing to close
  auto before = log->Find(t1_, "before");
  ASSERT_OK(before);
  EXPECT_TRUE(before->has_value());
  log->CloseTenant(t1_);
  log->Append(Record(t1_, "after", 2000));
  ASSERT_OK(log->Flush());
  auto all = log->Read(t1_, {});
  ASSERT_OK(all);
  EXPECT_EQ(all->size(), 2u);
}

TEST_P(RecommendationLogTest, ATenantWithoutASpaceLosesItsRecordsOnly) {
  auto log = Open();
  log->Append(Record("no-such-tenant", "lost", 1000));
  log->Append(Record(t1_, "kept", 1000));
  ASSERT_OK(log->Flush());
  auto lost = log->Find("no-such-tenant", "lost");
  ASSERT_OK(lost);
  EXPECT_FALSE(lost->has_value());
  EXPECT_EQ(log->dropped(), 1u);
  auto kept = log->Find(t1_, "kept");
  ASSERT_OK(kept);
  EXPECT_TRUE(kept->has_value());
}

TEST_P(RecommendationLogTest, RecordsOlderThanTheRetentionAreDeleted) {
  RecommendationLogOptions o;
  o.retention_days = 30;
  auto log = Open(o);
  const int64_t day = 86'400'000;
  log->Append(Record(t1_, "old", -30 * day));  // 31 days ago
  log->Append(Record(t1_, "recent", -28 * day));
  ASSERT_OK(log->Flush());
  auto read = log->Read(t1_, {});
  ASSERT_OK(read);
  ASSERT_EQ(read->size(), 1u);
  EXPECT_EQ((*read)[0].id, "recent");
}

INSTANTIATE_TEST_SUITE_P(Backends, RecommendationLogTest, ::testing::ValuesIn(kBackends),
                         [](const auto& info) { return std::string(info.param.name); });

// SQLite: a user's answers are found through an index in memory
// (store/sqlite/recent_answers.h), not one on disk that every answer would
// write a random page of.
class SqliteRecommendationLogTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::MakeDirectorySpace(dir_.path(), tenant_); }
  std::unique_ptr<RecommendationLog> Open() { return NewSqliteRecommendationLog(dir_.path(), &clock_, {}); }
  RecommendationRecord Answer(const std::string& id, const std::string& user, int64_t ts_ms) {
    RecommendationRecord r;
    r.id = id;
    r.tenant_id = tenant_;
    r.user_id = user;
    r.endpoint = "recommendations";
    r.ts_ms = ts_ms;
    r.items = {{"P" + id, 0.5}};
    return r;
  }
  std::vector<std::string> Ids(const std::vector<RecommendationRecord>& records) {
    std::vector<std::string> out;
    for (const auto& r : records) out.push_back(r.id);
    return out;
  }
  testing::TempDir dir_;
  FakeClock clock_;
  const std::string tenant_ = NewUuid();
};

TEST_F(SqliteRecommendationLogTest, KeepsNoByUserIndexOnDiskAndFindsAUsersAnswersAgainAfterARestart) {
  const int64_t now = clock_.NowMillis();
  {
    auto log = Open();
    log->Append(Answer("a1", "ann", now - 3000));
    log->Append(Answer("b1", "bob", now - 2500));
    log->Append(Answer("a2", "ann", now - 2000));
    ASSERT_OK(log->Flush());
    auto ann = log->ReadUser(tenant_, "ann", now - 60'000, now + 1, 10);  // filled from the table
    ASSERT_OK(ann);
    EXPECT_EQ(Ids(*ann), (std::vector<std::string>{"a2", "a1"}));
    log->Append(Answer("a3", "ann", now - 1000));  // into memory as it is written
    ASSERT_OK(log->Flush());
    ann = log->ReadUser(tenant_, "ann", now - 60'000, now + 1, 10);
    ASSERT_OK(ann);
    EXPECT_EQ(Ids(*ann), (std::vector<std::string>{"a3", "a2", "a1"}));
    ASSERT_EQ(ann->front().items.size(), 1u);
    EXPECT_EQ(ann->front().items[0].item_id, "Pa3");
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2((dir_.path() + "/" + tenant_ + "/recommendations.db").c_str(), &db,
                            SQLITE_OPEN_READONLY, nullptr),
            SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL", -1, &s,
                               nullptr),
            SQLITE_OK);
  std::vector<std::string> indexes;
  while (sqlite3_step(s) == SQLITE_ROW) indexes.push_back(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)));
  sqlite3_finalize(s);
  std::sort(indexes.begin(), indexes.end());
  EXPECT_EQ(indexes, (std::vector<std::string>{"recommendations_ts", "recommendations_ts_user"}));
  // What memory lacks, and its fill, read from the (time, user) index: the
  // fill without a row, the rest only the user's rows.
  auto plan = [&](const std::string& sql) {
    sqlite3_stmt* p = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, ("EXPLAIN QUERY PLAN " + sql).c_str(), -1, &p, nullptr), SQLITE_OK) << sql;
    std::string steps;
    while (p && sqlite3_step(p) == SQLITE_ROW) steps += std::string(reinterpret_cast<const char*>(sqlite3_column_text(p, 3))) + "; ";
    sqlite3_finalize(p);
    return steps;
  };
  EXPECT_NE(plan("SELECT rowid, ts_ms, user_id FROM recommendations WHERE ts_ms >= ? AND user_id <> '' ORDER BY ts_ms "
                 "DESC LIMIT ?").find("COVERING INDEX recommendations_ts_user"),
            std::string::npos);
  EXPECT_NE(plan("SELECT id, ts_ms, user_id, endpoint, model_version, algorithm, items, context, cached, experiment_id, "
                 "arm FROM recommendations WHERE ts_ms >= ? AND ts_ms < ? AND user_id = ? AND user_id <> '' ORDER BY "
                 "ts_ms DESC LIMIT ?").find("INDEX recommendations_ts_user"),
            std::string::npos);
  sqlite3_close(db);
  auto log = Open();  // a new process: memory filled from the table's last day
  auto ann = log->ReadUser(tenant_, "ann", now - 60'000, now + 1, 10);
  ASSERT_OK(ann);
  EXPECT_EQ(Ids(*ann), (std::vector<std::string>{"a3", "a2", "a1"}));
  auto users = log->UsersSince(tenant_, now - 2600, 10);
  ASSERT_OK(users);
  std::sort(users->begin(), users->end());
  EXPECT_EQ(*users, (std::vector<std::string>{"ann", "bob"}));
}

// The index is filled again after each close while answers keep being
// written: those written during a fill wait and join it, none twice.
TEST_F(SqliteRecommendationLogTest, AnswersWrittenWhileTheIndexFillsAreAllFound) {
  const int64_t now = clock_.NowMillis();
  auto log = Open();
  constexpr int kUsers = 100, kEach = 30;  // within what memory keeps of a user
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < kUsers * kEach; ++i) {
      log->Append(Answer("w" + std::to_string(i), "u" + std::to_string(i % kUsers), now - 100'000 + i));
      if (i % 50 == 0) (void)log->Flush();
    }
    done = true;
  });
  int fills = 0;
  while (!done) {
    log->CloseTenant(tenant_);
    ASSERT_OK(log->ReadUser(tenant_, "u0", now - 200'000, now + 1, 5));
    ++fills;
  }
  writer.join();
  ASSERT_OK(log->Flush());
  EXPECT_GT(fills, 1);
  for (int u = 0; u < kUsers; ++u) {
    auto got = log->ReadUser(tenant_, "u" + std::to_string(u), now - 200'000, now + 1, 100);
    ASSERT_OK(got);
    std::vector<std::string> expected;
    for (int k = kEach - 1; k >= 0; --k) expected.push_back("w" + std::to_string(k * kUsers + u));
    ASSERT_EQ(Ids(*got), expected) << "u" << u;
  }
}

TEST_F(SqliteRecommendationLogTest, AnswersMemoryDoesNotHoldAreReadFromTheTable) {
  const int64_t now = clock_.NowMillis(), day = 86'400'000;
  auto log = Open();
  log->Append(Answer("old", "ann", now - 2 * day));  // before the day memory covers
  std::vector<std::string> expected;
  for (int i = 0; i < 40; ++i) {  // more than memory keeps of one user (32)
    const std::string id = "r" + std::to_string(100 + i);
    log->Append(Answer(id, "ann", now - 60'000 + i * 1000));
    expected.insert(expected.begin(), id);
  }
  ASSERT_OK(log->Flush());
  auto ann = log->ReadUser(tenant_, "ann", now - day, now + 1, 40);
  ASSERT_OK(ann);
  EXPECT_EQ(Ids(*ann), expected);
  ann = log->ReadUser(tenant_, "ann", 0, now + 1, 100);
  ASSERT_OK(ann);
  expected.push_back("old");
  EXPECT_EQ(Ids(*ann), expected);
  // A minute later memory forgets what is past its day; the table still answers.
  clock_.AdvanceMillis(2 * 60'000);
  log->Append(Answer("new", "ann", clock_.NowMillis()));
  ASSERT_OK(log->Flush());
  ann = log->ReadUser(tenant_, "ann", 0, clock_.NowMillis() + 1, 100);
  ASSERT_OK(ann);
  expected.insert(expected.begin(), "new");
  EXPECT_EQ(Ids(*ann), expected);
  ann = log->ReadUser(tenant_, "ann", now - 2 * day - 1, now - 2 * day + 1, 10);
  ASSERT_OK(ann);
  EXPECT_EQ(Ids(*ann), (std::vector<std::string>{"old"}));
}

// The index's memory is told per tenant (to be counted under serving's
// budget) as a fill or the writer changes it, from threads holding none of
// the log's locks: the callee may close tenants.
TEST_F(SqliteRecommendationLogTest, TellsEachTenantsIndexMemoryAsItFillsAndGrows) {
  const int64_t now = clock_.NowMillis();
  const std::string other = NewUuid();
  testing::MakeDirectorySpace(dir_.path(), other);
  auto log = Open();
  std::mutex mu;
  std::vector<std::pair<std::string, int64_t>> told;
  log->SetResidentReport([&](const std::string& tenant_id, int64_t bytes) {
    log->CloseTenant(other);  // as the budget's eviction does
    std::lock_guard lock(mu);
    told.push_back({tenant_id, bytes});
  });
  auto told_now = [&] {
    std::lock_guard lock(mu);
    return told;
  };
  auto answers = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      log->Append(Answer("a" + std::to_string(i), "u" + std::to_string(i), now - 10'000 + i));
    }
    RecommendationRecord small = Answer("o" + std::to_string(from), "x", now - 5000);
    small.tenant_id = other;
    log->Append(small);
    ASSERT_OK(log->Flush());
  };
  answers(0, 3000);
  EXPECT_TRUE(told_now().empty());  // nothing in memory before a reader needs it
  ASSERT_OK(log->ReadUser(tenant_, "u7", now - 60'000, now + 1, 5));  // filled
  ASSERT_EQ(told_now().size(), 1u);
  EXPECT_EQ(told_now()[0].first, tenant_);
  const int64_t filled = log->resident_bytes();
  EXPECT_GT(filled, 64 << 10);
  EXPECT_EQ(told_now()[0].second, filled);
  answers(3000, 9000);  // the writer adds to it: told as it grows, in steps
  const auto grown = told_now();
  ASSERT_GT(grown.size(), 1u);
  EXPECT_GT(log->resident_bytes(), 2 * filled);
  EXPECT_LE(std::abs(log->resident_bytes() - grown.back().second),
            std::min<int64_t>(64 << 10, grown.back().second / 16));
  log->CloseTenant(tenant_);  // its memory entry goes with it (the wiring's)
  EXPECT_EQ(log->resident_bytes(), 0);
  EXPECT_EQ(told_now().size(), grown.size());
  ASSERT_OK(log->ReadUser(tenant_, "u7", now - 60'000, now + 1, 5));  // filled again: told again
  ASSERT_EQ(told_now().size(), grown.size() + 1);
  EXPECT_EQ(told_now().back().second, log->resident_bytes());
}

}  // namespace
}  // namespace embedrec::store
