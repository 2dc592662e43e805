// The SQLite layer every SQLite store uses: migrations, rollback, checkpoints.
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "store/sqlite/sqlite_db.h"
#include "test_util.h"

namespace embedrec::store {
namespace {

// The database file's size once `rows` rows of 2 KB were committed one by
// one, after a checkpoint had time to copy them (polled up to 10 s).
uintmax_t FileSizeAfterCommits(const SqliteDb::Options& options, int rows, uintmax_t enough) {
  auto db = SqliteDb::Open(options, {{1, "CREATE TABLE a (x BLOB);"}});
  EXPECT_TRUE(db.ok());
  for (int i = 0; i < rows; ++i) {
    EXPECT_TRUE((*db)->Write([](SqliteConn& c) {
                   return c.Exec("INSERT INTO a VALUES (randomblob(2000))");
                 }).ok());
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  uintmax_t size = std::filesystem::file_size(options.path);
  while (size < enough && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    size = std::filesystem::file_size(options.path);
  }
  return size;
}

TEST(SqliteDbTest, CheckpointsInTheBackgroundOnceTheWalReachesItsMark) {
  testing::TempDir dir;
  // 100 rows of 2 KB: ~50 pages in the WAL, below SQLite's own mark (1000).
  constexpr uintmax_t kCopied = 100 * 2000;
  EXPECT_GE(FileSizeAfterCommits({.path = dir.Sub("bg.db"), .background_checkpoint = true, .checkpoint_pages = 10},
                                 100, kCopied),
            kCopied);
  // Without it, nothing is copied yet (the WAL holds the rows).
  EXPECT_LT(FileSizeAfterCommits({.path = dir.Sub("auto.db")}, 100, 0), kCopied);
}

TEST(SqliteDbTest, AppliesMigrationsInOrderAndOnlyOnce) {
  testing::TempDir dir;
  std::vector<Migration> v1 = {{1, "CREATE TABLE a (x INTEGER);"}};
  std::vector<Migration> v2 = {{1, "CREATE TABLE a (x INTEGER);"},
                               {2, "ALTER TABLE a ADD COLUMN y TEXT;"}};
  {
    auto db = SqliteDb::Open({.path = dir.Sub("m.db")}, v1);
    ASSERT_OK(db);
    EXPECT_EQ((*db)->SchemaVersion(), 1);
  }
  auto db = SqliteDb::Open({.path = dir.Sub("m.db")}, v2);
  ASSERT_OK(db);
  EXPECT_EQ((*db)->SchemaVersion(), 2);
  ASSERT_OK((*db)->Write([](SqliteConn& c) { return c.Exec("INSERT INTO a VALUES (1, 'y')"); }));
}

TEST(SqliteDbTest, RefusesADatabaseNewerThanTheBuild) {
  testing::TempDir dir;
  {
    auto db = SqliteDb::Open({.path = dir.Sub("m.db")},
                             {{1, "CREATE TABLE a (x);"}, {2, "CREATE TABLE b (x);"}});
    ASSERT_OK(db);
  }
  auto old = SqliteDb::Open({.path = dir.Sub("m.db")}, {{1, "CREATE TABLE a (x);"}});
  EXPECT_EQ(old.status().code(), StatusCode::kFailedPrecondition);
}

TEST(SqliteDbTest, FailedMigrationLeavesPreviousVersion) {
  testing::TempDir dir;
  auto bad = SqliteDb::Open({.path = dir.Sub("m.db")},
                            {{1, "CREATE TABLE a (x);"}, {2, "CREATE TABLE b (x); SYNTAX ERROR;"}});
  EXPECT_EQ(bad.status().code(), StatusCode::kInternal);
  auto good = SqliteDb::Open({.path = dir.Sub("m.db")}, {{1, "CREATE TABLE a (x);"}});
  ASSERT_OK(good);
  EXPECT_EQ((*good)->SchemaVersion(), 1);
}

// An upload holds the database's write lock (BEGIN IMMEDIATE on a leased
// connection) while it stores its rows; another write waits for it.
TEST(SqliteDbTest, AWriteWaitsForAnotherTransactionWithinTheBusyTimeout) {
  testing::TempDir dir;
  auto db = SqliteDb::Open({.path = dir.Sub("w.db"), .busy_timeout_ms = 5000}, {{1, "CREATE TABLE a (x INTEGER);"}});
  ASSERT_OK(db);
  auto lease = (*db)->Checkout();
  ASSERT_OK(lease.conn().Exec("BEGIN IMMEDIATE"));
  ASSERT_OK(lease.conn().Exec("INSERT INTO a VALUES (1)"));
  std::atomic<bool> committing{false};
  std::thread commit([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the holder's work, not a synchronisation
    committing = true;
    EXPECT_OK(lease.conn().Exec("COMMIT"));
  });
  EXPECT_OK((*db)->Write([](SqliteConn& c) { return c.Exec("INSERT INTO a VALUES (2)"); }));
  EXPECT_TRUE(committing.load());  // it could only write once the holder let go
  commit.join();
  // By default a write waits for a large upload's rows (seconds to tens).
  EXPECT_GE(SqliteDb::Options{}.busy_timeout_ms, 30000);
}

TEST(SqliteDbTest, AWriteThatWaitedTooLongIsBusyWithARetryHint) {
  testing::TempDir dir;
  auto db = SqliteDb::Open({.path = dir.Sub("b.db"), .busy_timeout_ms = 50}, {{1, "CREATE TABLE a (x INTEGER);"}});
  ASSERT_OK(db);
  auto lease = (*db)->Checkout();
  ASSERT_OK(lease.conn().Exec("BEGIN IMMEDIATE"));
  Status s = (*db)->Write([](SqliteConn& c) { return c.Exec("INSERT INTO a VALUES (2)"); });
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.reason(), "busy");
  EXPECT_TRUE(s.detail("retry_after_seconds").has_value());
  ASSERT_OK(lease.conn().Exec("ROLLBACK"));
}

TEST(SqliteDbTest, WriteRollsBackWhenTheCallbackFails) {
  testing::TempDir dir;
  auto db = SqliteDb::Open({.path = dir.Sub("m.db")}, {{1, "CREATE TABLE a (x);"}});
  ASSERT_OK(db);
  Status s = (*db)->Write([](SqliteConn& c) {
    RETURN_IF_ERROR(c.Exec("INSERT INTO a VALUES (1)"));
    return Status::Internal("boom");
  });
  EXPECT_FALSE(s.ok());
  int64_t n = -1;
  ASSERT_OK((*db)->Read([&](SqliteConn& c) {
    ASSIGN_OR_RETURN(auto st, c.Prepare("SELECT COUNT(*) FROM a"));
    ASSIGN_OR_RETURN(bool row, st->Step());
    if (row) n = st->Int(0);
    return Status::Ok();
  }));
  EXPECT_EQ(n, 0);
}

}  // namespace
}  // namespace embedrec::store
