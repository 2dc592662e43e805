// The control store's contract (store/control_store.h), one suite every
// backend must pass: add a backend to kBackends.
#include <atomic>
#include <thread>

#include "store/control_store.h"
#include "local_services.h"
#include "test_util.h"

namespace embedrec::store {
namespace {

struct Backend {
  const char* name;
  // The store kept in `dir`: opened again on the same `dir`, the same data.
  std::function<StatusOr<std::unique_ptr<ControlStore>>(const std::string& dir)> open;
  // False when the backend's server is not running (a suite run by hand).
  std::function<bool()> available = [] { return true; };
};

// PostgreSQL: a schema per test directory in the test database.
std::string SchemaOf(const std::string& dir) { return "test_" + HexEncode(Sha256(dir)).substr(0, 16); }

void PrintTo(const Backend& b, std::ostream* os) { *os << b.name; }

const Backend kBackends[] = {
    {"sqlite", [](const std::string& dir) { return OpenSqliteControlStore(dir + "/control.db"); }},
    {"postgres",
     [](const std::string& dir) {
       return OpenPostgresControlStore(*testing::LocalService("EMBEDREC_TEST_DATABASE_URL"), SchemaOf(dir));
     },
     [] { return testing::LocalService("EMBEDREC_TEST_DATABASE_URL").has_value(); }},
};

class ControlStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (!GetParam().available()) GTEST_SKIP() << GetParam().name << " is not running (see tests/local_services.h)";
    auto s = GetParam().open(dir_.path());
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

TEST_P(ControlStoreTest, CreatesAndReadsTenant) {
  auto t = Tenant("shop-a");
  ASSERT_OK(store_->CreateTenant(t));
  auto got = store_->GetTenant(t.id);
  ASSERT_OK(got);
  EXPECT_EQ(got->slug, "shop-a");
  EXPECT_EQ(got->status, "active");
}

TEST_P(ControlStoreTest, RejectsDuplicateSlug) {
  ASSERT_OK(store_->CreateTenant(Tenant("dup")));
  Status s = store_->CreateTenant(Tenant("dup"));
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(s.reason(), "duplicate_slug");
}

TEST_P(ControlStoreTest, ReturnsNotFoundForUnknownTenant) {
  EXPECT_EQ(store_->GetTenant("nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->DeleteTenant("nope").code(), StatusCode::kNotFound);
}

TEST_P(ControlStoreTest, PaginatesTenantsInCreationOrder) {
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

TEST_P(ControlStoreTest, RejectsDuplicateEmailAndUnknownTenant) {
  auto t = Tenant("a");
  ASSERT_OK(store_->CreateTenant(t));
  ASSERT_OK(store_->CreateUser(User(t.id, "x@y.com")));
  Status dup = store_->CreateUser(User(t.id, "x@y.com"));
  EXPECT_EQ(dup.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(dup.reason(), "duplicate_email");
  EXPECT_EQ(store_->CreateUser(User("missing", "z@y.com")).code(), StatusCode::kNotFound);
}

TEST_P(ControlStoreTest, DeletingTenantCascadesToUsersKeysAndTokens) {
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

TEST_P(ControlStoreTest, RevokesKeysOnlyWithinTheirTenant) {
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
  EXPECT_EQ(store_->GetApiKeyByHash("ha")->expires_at_ms, std::nullopt);
  ASSERT_OK(store_->CreateApiKey({"key_e", a.id, "e", "sk_live_def", "he", {"models:read"}, "admin", 1,
                                  std::nullopt, std::nullopt, 86'400'000}));
  EXPECT_EQ(store_->GetApiKeyByHash("he")->expires_at_ms, 86'400'000);
  ASSERT_OK(store_->RevokeApiKey(a.id, "key_e", 5));
  ASSERT_OK(store_->RevokeApiKey(a.id, "key_a", 5));
  EXPECT_EQ(store_->GetApiKeyByHash("ha")->revoked_at_ms, 5);
  EXPECT_TRUE(store_->ListApiKeys(a.id)->empty());
  EXPECT_EQ(store_->RevokeApiKey(a.id, "key_a", 6).code(), StatusCode::kNotFound);
}

TEST_P(ControlStoreTest, ConsumeMarksRefreshTokenUsedOnce) {
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
  EXPECT_FALSE(*store_->IsTokenFamilyRevoked("fam"));  // rotation is not revocation
  ASSERT_OK(store_->RevokeTokenFamily("fam"));
  EXPECT_TRUE(store_->ConsumeRefreshToken("rt")->revoked);
  EXPECT_TRUE(*store_->IsTokenFamilyRevoked("fam"));
  EXPECT_FALSE(*store_->IsTokenFamilyRevoked("other"));
}

TEST_P(ControlStoreTest, ConcurrentConsumersOfOneTokenSeeItUnusedOnce) {
  auto t = Tenant("a");
  ASSERT_OK(store_->CreateTenant(t));
  auto u = User(t.id, "x@y.com");
  ASSERT_OK(store_->CreateUser(u));
  for (int round = 0; round < 5; ++round) {
    const std::string token = "rt" + std::to_string(round);
    ASSERT_OK(store_->CreateRefreshToken({token, "fam", u.id, 1, 2, false, false}));
    std::atomic<int> unused{0}, failed{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
      threads.emplace_back([&] {
        auto r = store_->ConsumeRefreshToken(token);
        if (!r.ok()) ++failed;
        else if (!r->used) ++unused;
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(failed.load(), 0);
    EXPECT_EQ(unused.load(), 1) << "round " << round;
  }
}

TEST_P(ControlStoreTest, StoresOpenedAtOnceShareOneSchema) {
  // Nodes starting together: every one opens (migrating once), all see the same rows.
  store_.reset();
  testing::TempDir other;
  std::vector<std::unique_ptr<ControlStore>> stores(3);
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};
  for (auto& s : stores) {
    threads.emplace_back([&] {
      auto opened = GetParam().open(other.path());
      if (opened.ok()) s = std::move(*opened);
      else ADD_FAILURE() << opened.status().ToString(), ++failed;
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(failed.load(), 0);
  ASSERT_OK(stores[0]->CreateTenant(Tenant("shared")));
  EXPECT_EQ(stores[2]->ListTenants("", 10)->total, 1);
}

TEST_P(ControlStoreTest, TheFirstOfSettingsPutIfAbsentAtOnceWins) {
  std::vector<std::string> seen(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < seen.size(); ++i) {
    threads.emplace_back([&, i] {
      auto v = store_->PutSettingIfAbsent("secret", "value" + std::to_string(i));
      if (v.ok()) seen[i] = *v;
    });
  }
  for (auto& th : threads) th.join();
  const std::string winner = **store_->GetSetting("secret");
  for (const auto& v : seen) EXPECT_EQ(v, winner);
  EXPECT_EQ(*store_->PutSettingIfAbsent("secret", "later"), winner);
}

TEST_P(ControlStoreTest, ALeaseIsOneHoldersUntilItRunsOut) {
  const int64_t t = 1'750'000'000'000;
  EXPECT_TRUE(*store_->TakeLease("retention", "node-a", t, 60'000));
  EXPECT_FALSE(*store_->TakeLease("retention", "node-b", t + 1'000, 60'000));  // a's
  EXPECT_TRUE(*store_->TakeLease("other-task", "node-b", t + 1'000, 60'000));  // another lease
  EXPECT_TRUE(*store_->TakeLease("retention", "node-a", t + 30'000, 60'000));  // renewed: until t + 90 s
  EXPECT_FALSE(*store_->TakeLease("retention", "node-b", t + 70'000, 60'000));
  EXPECT_TRUE(*store_->TakeLease("retention", "node-b", t + 90'001, 60'000));  // ran out: b's now
  EXPECT_FALSE(*store_->TakeLease("retention", "node-a", t + 91'000, 60'000));
  // Several at once after it ran out: exactly one wins.
  std::atomic<int> won{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      auto got = store_->TakeLease("retention", "node-" + std::to_string(i), t + 500'000, 60'000);
      if (got.ok() && *got) ++won;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(won.load(), 1);
}

TEST_P(ControlStoreTest, SettingsPersistAcrossReopen) {
  ASSERT_OK(store_->PutSetting("k", "v1"));
  ASSERT_OK(store_->PutSetting("k", "v2"));
  store_.reset();
  auto reopened = GetParam().open(dir_.path());
  ASSERT_OK(reopened);
  auto v = (*reopened)->GetSetting("k");
  ASSERT_OK(v);
  EXPECT_EQ(v->value(), "v2");
  EXPECT_FALSE((*reopened)->GetSetting("other")->has_value());
}

INSTANTIATE_TEST_SUITE_P(Backends, ControlStoreTest, ::testing::ValuesIn(kBackends),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace embedrec::store
