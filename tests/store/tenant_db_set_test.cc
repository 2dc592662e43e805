// Per-tenant side databases (analytics, recommendation log): opened on use,
// closed on request and beyond a bound, least recently used first.
#include "store/sqlite/tenant_db_set.h"

#include <filesystem>

#include "test_util.h"

namespace embedrec::store {
namespace {

const std::vector<Migration> kSchema = {{1, "CREATE TABLE a (x INTEGER);"}};

class TenantDbSetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* t : {"t1", "t2", "t3"}) std::filesystem::create_directories(dir_.Sub(t));
  }
  std::shared_ptr<SqliteDb> Get(TenantDbSet& set, const std::string& tenant) {
    auto db = set.Get(tenant, /*create=*/true);
    EXPECT_OK(db);
    return db.ok() ? *db : nullptr;
  }
  static int64_t Rows(SqliteDb& db) {
    int64_t n = -1;
    EXPECT_OK(db.Read([&](SqliteConn& c) -> Status {
      ASSIGN_OR_RETURN(auto s, c.Prepare("SELECT COUNT(*) FROM a"));
      ASSIGN_OR_RETURN(bool row, s->Step());
      n = row ? s->Int(0) : -1;
      return Status::Ok();
    }));
    return n;
  }
  static void Insert(SqliteDb& db) {
    EXPECT_OK(db.Write([](SqliteConn& c) { return c.Exec("INSERT INTO a VALUES (1)"); }));
  }
  testing::TempDir dir_;
};

TEST_F(TenantDbSetTest, BeyondItsBoundTheLeastRecentlyUsedIsClosedAndOpenedAgainWhenNeeded) {
  TenantDbSet set(dir_.path(), "side.db", &kSchema, TenantDbSet::SmallDbOptions(), /*max_open=*/2);
  Insert(*Get(set, "t1"));
  Get(set, "t2");
  Get(set, "t1");  // t1 used last: t2 is the least recent
  Get(set, "t3");
  EXPECT_EQ(set.OpenCount(), 2u);
  EXPECT_EQ(set.Opened(), 3u);
  Get(set, "t1");  // still open
  EXPECT_EQ(set.Opened(), 3u);
  Get(set, "t2");  // closed: opened again (and t3, now the least recent, closed)
  EXPECT_EQ(set.Opened(), 4u);
  EXPECT_EQ(set.OpenCount(), 2u);
  Get(set, "t1");
  EXPECT_EQ(set.Opened(), 4u);
  Get(set, "t3");
  EXPECT_EQ(set.Opened(), 5u);
}

TEST_F(TenantDbSetTest, AHandleClosedWhileInUseServesItsUserAndTheDataStays) {
  TenantDbSet set(dir_.path(), "side.db", &kSchema, TenantDbSet::SmallDbOptions(), /*max_open=*/1);
  std::shared_ptr<SqliteDb> held = Get(set, "t1");
  Get(set, "t2");  // t1 closed by the bound while `held` still uses it
  EXPECT_EQ(set.OpenCount(), 1u);
  Insert(*held);
  EXPECT_EQ(Rows(*held), 1);
  held.reset();
  EXPECT_EQ(Rows(*Get(set, "t1")), 1);  // opened again: the row is there
  set.Close("t1");
  EXPECT_EQ(set.OpenCount(), 0u);
  EXPECT_EQ(Rows(*Get(set, "t1")), 1);
  EXPECT_EQ(set.Opened(), 4u);
}

TEST_F(TenantDbSetTest, ATenantWithoutADirectoryOrFileGetsNoHandle) {
  TenantDbSet set(dir_.path(), "side.db", &kSchema);
  auto none = set.Get("t9", /*create=*/true);
  ASSERT_OK(none);
  EXPECT_EQ(*none, nullptr);
  auto missing = set.Get("t1", /*create=*/false);
  ASSERT_OK(missing);
  EXPECT_EQ(*missing, nullptr);
  auto escape = set.Get("../t1", /*create=*/true);
  ASSERT_OK(escape);
  EXPECT_EQ(*escape, nullptr);
  EXPECT_EQ(set.Opened(), 0u);
}

}  // namespace
}  // namespace embedrec::store
