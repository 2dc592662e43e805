// The libpq layer (store/postgres/pg_db.h) against the test database:
// statements run again are prepared and stay right through the bound on
// prepared statements and a table changed under them.
#include "store/postgres/pg_db.h"

#include "common/random.h"
#include "local_services.h"
#include "test_util.h"

namespace embedrec::store {
namespace {

class PgDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto url = testing::LocalService("EMBEDREC_TEST_DATABASE_URL");
    if (!url) GTEST_SKIP() << "PostgreSQL is not running (see tests/local_services.h)";
    auto db = PgDb::Open({.url = *url, .schema = schema_, .pool_size = 1}, {{1, "CREATE TABLE t (k TEXT PRIMARY KEY, v BIGINT)"}});
    ASSERT_OK(db);
    db_ = std::move(db).value();
  }
  void TearDown() override {
    if (db_) (void)db_->Exec("DROP SCHEMA " + PgIdentifier(schema_) + " CASCADE");
  }
  const std::string schema_ = "pgdb_test_" + RandomBase62(8);
  std::unique_ptr<PgDb> db_;
};

TEST_F(PgDbTest, AStatementRunAgainGivesTheRightRowsEachTime) {
  for (int i = 0; i < 20; ++i) {
    ASSERT_OK(db_->Exec("INSERT INTO t (k, v) VALUES ($1, $2)", {"k" + std::to_string(i), std::to_string(i)}));
  }
  for (int i = 0; i < 20; ++i) {
    auto r = db_->Exec("SELECT v FROM t WHERE k = $1", {"k" + std::to_string(i)});
    ASSERT_OK(r);
    ASSERT_EQ(r->size(), 1);
    EXPECT_EQ(r->Int(0, 0), i);
  }
  // An error from a prepared statement is the statement's error.
  EXPECT_EQ(db_->Exec("INSERT INTO t (k, v) VALUES ($1, $2)", {"k1", "1"}).status().code(),
            StatusCode::kAlreadyExists);
}

TEST_F(PgDbTest, ManyDistinctStatementsStayWithinTheBoundAndRight) {
  ASSERT_OK(db_->Exec("INSERT INTO t (k, v) VALUES ($1, 7)", {"a"}));
  // Each twice (prepared on the second run), more of them than are kept prepared.
  for (int i = 0; i < 600; ++i) {
    const std::string sql = "SELECT v + " + std::to_string(i) + " FROM t WHERE k = $1";
    for (int twice = 0; twice < 2; ++twice) {
      auto r = db_->Exec(sql, {"a"});
      ASSERT_OK(r);
      ASSERT_EQ(r->Int(0, 0), 7 + i);
    }
  }
  auto n = db_->Exec("SELECT COUNT(*) FROM pg_prepared_statements");
  ASSERT_OK(n);
  EXPECT_LE(n->Int(0, 0), 256);
  EXPECT_GT(n->Int(0, 0), 0);
}

TEST_F(PgDbTest, ATableChangedUnderAPreparedStatementIsReadAgain) {
  ASSERT_OK(db_->Exec("INSERT INTO t (k, v) VALUES ($1, 1)", {"a"}));
  const std::string sql = "SELECT * FROM t WHERE k = $1";
  for (int i = 0; i < 3; ++i) ASSERT_OK(db_->Exec(sql, {"a"}));
  ASSERT_OK(db_->Exec("ALTER TABLE t ADD COLUMN w TEXT NOT NULL DEFAULT 'x'"));
  auto first = db_->Exec(sql, {"a"});  // may fail once, as retryable
  if (!first.ok()) EXPECT_EQ(first.status().code(), StatusCode::kUnavailable) << first.status().ToString();
  auto again = db_->Exec(sql, {"a"});
  ASSERT_OK(again);
  EXPECT_EQ(again->Text(0, 2), "x");
}

}  // namespace
}  // namespace embedrec::store
