// The SQLite layer every SQLite store uses: migrations, rollback.
#include <sqlite3.h>

#include "store/sqlite/sqlite_db.h"
#include "test_util.h"

namespace embedrec::store {
namespace {

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
