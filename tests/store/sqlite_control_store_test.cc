#include <sqlite3.h>

#include "store/control_store.h"
#include "store/sqlite/sqlite_db.h"
#include "test_util.h"

namespace embedrec::store {
namespace {

class SqliteControlStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = OpenSqliteControlStore(dir_.Sub("control.db"));
    ASSERT_OK(s);
    store_ = std::move(s).value();
  }
  TenantRecord Tenant(const std::string& slug) {
    return {NewUuid(), "Shop " + slug, slug, "active", "{}", 1000, 1000};
  }
  UserRecord User(const std::string& tenant, const std::string& email) {
    return {NewId("usr"), email, email, tenant, "admin", "active", "hash", 1000, std::nullopt};
  }
  testing::TempDir dir_;
  std::unique_ptr<ControlStore> store_;
};

TEST_F(SqliteControlStoreTest, CreatesAndReadsTenant) {
  auto t = Tenant("shop-a");
  ASSERT_OK(store_->CreateTenant(t));
  auto got = store_->GetTenant(t.id);
  ASSERT_OK(got);
  EXPECT_EQ(got->slug, "shop-a");
  EXPECT_EQ(got->status, "active");
}

TEST_F(SqliteControlStoreTest, RejectsDuplicateSlug) {
  ASSERT_OK(store_->CreateTenant(Tenant("dup")));
  Status s = store_->CreateTenant(Tenant("dup"));
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(s.reason(), "duplicate_slug");
}

TEST_F(SqliteControlStoreTest, ReturnsNotFoundForUnknownTenant) {
  EXPECT_EQ(store_->GetTenant("nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->DeleteTenant("nope").code(), StatusCode::kNotFound);
}

TEST_F(SqliteControlStoreTest, PaginatesTenantsInCreationOrder) {
  for (int i = 0; i < 5; ++i) ASSERT_OK(store_->CreateTenant(Tenant("t" + std::to_string(i))));
  auto p1 = store_->ListTenants("", 2);
  ASSERT_OK(p1);
  ASSERT_EQ(p1->tenants.size(), 2u);
  EXPECT_EQ(p1->total, 5);
  EXPECT_EQ(p1->tenants[0].slug, "t0");
  ASSERT_TRUE(p1->next_cursor);
  auto p2 = store_->ListTenants(*p1->next_cursor, 2);
  ASSERT_OK(p2);
  EXPECT_EQ(p2->tenants[0].slug, "t2");
  auto p3 = store_->ListTenants(*p2->next_cursor, 2);
  ASSERT_OK(p3);
  EXPECT_EQ(p3->tenants.size(), 1u);
  EXPECT_FALSE(p3->next_cursor);
  EXPECT_EQ(store_->ListTenants("garbage", 2).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(SqliteControlStoreTest, RejectsDuplicateEmailAndUnknownTenant) {
  auto t = Tenant("a");
  ASSERT_OK(store_->CreateTenant(t));
  ASSERT_OK(store_->CreateUser(User(t.id, "x@y.com")));
  Status dup = store_->CreateUser(User(t.id, "x@y.com"));
  EXPECT_EQ(dup.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(dup.reason(), "duplicate_email");
  EXPECT_EQ(store_->CreateUser(User("missing", "z@y.com")).code(), StatusCode::kNotFound);
}

TEST_F(SqliteControlStoreTest, DeletingTenantCascadesToUsersKeysAndTokens) {
  auto t = Tenant("a");
  ASSERT_OK(store_->CreateTenant(t));
  auto u = User(t.id, "x@y.com");
  ASSERT_OK(store_->CreateUser(u));
  ASSERT_OK(store_->CreateApiKey({"key_1", t.id, "k", "sk_live_abc", "hash1", {"models:read"},
                                  u.id, 1, std::nullopt, std::nullopt}));
  ASSERT_OK(store_->CreateRefreshToken({"rt1", "fam", u.id, 1, 2, false, false}));
  ASSERT_OK(store_->DeleteTenant(t.id));
  EXPECT_EQ(store_->GetUser(u.id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->GetApiKeyByHash("hash1").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->ConsumeRefreshToken("rt1").status().code(), StatusCode::kNotFound);
}

TEST_F(SqliteControlStoreTest, RevokesKeysOnlyWithinTheirTenant) {
  auto a = Tenant("a"), b = Tenant("b");
  ASSERT_OK(store_->CreateTenant(a));
  ASSERT_OK(store_->CreateTenant(b));
  ASSERT_OK(store_->CreateApiKey({"key_a", a.id, "k", "sk_live_abc", "ha",
                                  {"models:read", "data:write"}, "admin", 1, std::nullopt,
                                  std::nullopt}));
  EXPECT_EQ(store_->RevokeApiKey(b.id, "key_a", 5).code(), StatusCode::kNotFound);
  auto listed = store_->ListApiKeys(a.id);
  ASSERT_OK(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].scopes, (std::vector<std::string>{"models:read", "data:write"}));
  ASSERT_OK(store_->RevokeApiKey(a.id, "key_a", 5));
  EXPECT_EQ(store_->GetApiKeyByHash("ha")->revoked_at_ms, 5);
  EXPECT_TRUE(store_->ListApiKeys(a.id)->empty());
  EXPECT_EQ(store_->RevokeApiKey(a.id, "key_a", 6).code(), StatusCode::kNotFound);
}

TEST_F(SqliteControlStoreTest, ConsumeMarksRefreshTokenUsedOnce) {
  auto t = Tenant("a");
  ASSERT_OK(store_->CreateTenant(t));
  auto u = User(t.id, "x@y.com");
  ASSERT_OK(store_->CreateUser(u));
  ASSERT_OK(store_->CreateRefreshToken({"rt", "fam", u.id, 1, 2, false, false}));
  auto first = store_->ConsumeRefreshToken("rt");
  ASSERT_OK(first);
  EXPECT_FALSE(first->used);
  auto second = store_->ConsumeRefreshToken("rt");
  ASSERT_OK(second);
  EXPECT_TRUE(second->used);
  ASSERT_OK(store_->RevokeTokenFamily("fam"));
  EXPECT_TRUE(store_->ConsumeRefreshToken("rt")->revoked);
}

TEST_F(SqliteControlStoreTest, SettingsPersistAcrossReopen) {
  ASSERT_OK(store_->PutSetting("k", "v1"));
  ASSERT_OK(store_->PutSetting("k", "v2"));
  store_.reset();
  auto reopened = OpenSqliteControlStore(dir_.Sub("control.db"));
  ASSERT_OK(reopened);
  auto v = (*reopened)->GetSetting("k");
  ASSERT_OK(v);
  EXPECT_EQ(v->value(), "v2");
  EXPECT_FALSE((*reopened)->GetSetting("other")->has_value());
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
