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
  if (!first.ok()) {
    EXPECT_EQ(first.status().code(), StatusCode::kUnavailable) << first.status().ToString();
  }
  auto again = db_->Exec(sql, {"a"});
  ASSERT_OK(again);
  EXPECT_EQ(again->Text(0, 2), "x");
}

TEST_F(PgDbTest, APipelineAnswersEachStatementInOrderRunAfterRun) {
  for (int run = 0; run < 3; ++run) {  // the second and third prepared in the pipeline
    const std::string k = "p" + std::to_string(run);
    auto rows = db_->Exec("SELECT 1");  // a pooled connection, then a pipeline on it
    ASSERT_OK(rows);
    Status s = db_->With([&](PgConn& c) -> Status {
      ASSIGN_OR_RETURN(auto out, c.Pipeline({{"INSERT INTO t (k, v) VALUES ($1, $2)", {k, "5"}},
                                             {"SELECT v * 2 FROM t WHERE k = $1", {k}},
                                             {"SELECT COUNT(*) FROM t WHERE k LIKE $1", {"p%"}}}));
      EXPECT_EQ(out.size(), 3u);
      EXPECT_EQ(out[0].changed(), 1);
      EXPECT_EQ(out[1].Int(0, 0), 10);
      EXPECT_EQ(out[2].Int(0, 0), run + 1);
      return Status::Ok();
    });
    ASSERT_OK(s);
  }
}

TEST_F(PgDbTest, APipelineStopsAtItsFirstErrorAndItsTransactionLeavesNothing) {
  ASSERT_OK(db_->Exec("INSERT INTO t (k, v) VALUES ($1, 1)", {"taken"}));
  Status s = db_->Transaction([&](PgConn& c) -> Status {
    return c.Pipeline({{"INSERT INTO t (k, v) VALUES ($1, 1)", {"first"}},
                       {"INSERT INTO t (k, v) VALUES ($1, 1)", {"taken"}},
                       {"INSERT INTO t (k, v) VALUES ($1, 1)", {"after"}}},
                      /*commit=*/true)
        .status();
  });
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists) << s.ToString();
  auto n = db_->Exec("SELECT COUNT(*) FROM t");
  ASSERT_OK(n);
  EXPECT_EQ(n->Int(0, 0), 1);  // "first" rolled back, "after" never run
  // The connection is fine afterwards, and a committing pipeline commits.
  ASSERT_OK(db_->Transaction([&](PgConn& c) -> Status {
    RETURN_IF_ERROR(c.Exec("INSERT INTO t (k, v) VALUES ($1, 2)", {"x"}).status());
    return c.Pipeline({{"INSERT INTO t (k, v) VALUES ($1, 3)", {"y"}}}, /*commit=*/true).status();
  }));
  n = db_->Exec("SELECT COUNT(*) FROM t");
  ASSERT_OK(n);
  EXPECT_EQ(n->Int(0, 0), 3);
}

TEST_F(PgDbTest, ATransactionThatRanNothingAndOneThatFailedLeaveTheConnectionIdle) {
  ASSERT_OK(db_->Transaction([](PgConn&) { return Status::Ok(); }));
  EXPECT_EQ(db_->Transaction([](PgConn& c) -> Status {
              RETURN_IF_ERROR(c.Exec("INSERT INTO t (k, v) VALUES ($1, 1)", {"gone"}).status());
              return Status::Internal("the caller changed its mind");
            }).code(),
            StatusCode::kInternal);
  auto n = db_->Exec("SELECT COUNT(*) FROM t");
  ASSERT_OK(n);
  EXPECT_EQ(n->Int(0, 0), 0);
}

}  // namespace
}  // namespace embedrec::store
