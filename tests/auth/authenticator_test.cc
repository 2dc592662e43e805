#include "auth/authenticator.h"

#include "auth/api_key.h"
#include "auth/jwt.h"
#include "test_util.h"

namespace embedrec::auth {
namespace {

constexpr const char* kSecret = "jwt-secret-jwt-secret-jwt-secret!";

class AuthenticatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::OpenSqliteControlStore(dir_.Sub("c.db"));
    ASSERT_OK(s);
    store_ = std::move(s).value();
    tenant_ = {NewUuid(), "Shop", "shop", "active", "{}", 1, 1};
    ASSERT_OK(store_->CreateTenant(tenant_));
    user_ = {NewId("usr"), "a@b.co", "a@b.co", tenant_.id, "member", "active", "h", 1, std::nullopt};
    ASSERT_OK(store_->CreateUser(user_));
    key_ = GenerateApiKey();
    ASSERT_OK(store_->CreateApiKey({"key_1", tenant_.id, "web", key_.prefix, key_.hash,
                                    {"recommendations:read"}, user_.id, 1, std::nullopt,
                                    std::nullopt}));
    authn_ = std::make_unique<Authenticator>(
        store_.get(), &clock_, Authenticator::Options{kSecret, HashSecret("admin-token-123456")});
  }
  std::string Jwt() {
    int64_t now = clock_.NowSeconds();
    return SignJwt({user_.id, tenant_.id, user_.role, "j", now, now + 900}, kSecret);
  }
  void Suspend() {
    tenant_.status = "suspended";
    ASSERT_OK(store_->UpdateTenant(tenant_));
    authn_->Invalidate();
  }

  testing::TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<store::ControlStore> store_;
  store::TenantRecord tenant_;
  store::UserRecord user_;
  GeneratedApiKey key_;
  std::unique_ptr<Authenticator> authn_;
};

TEST_F(AuthenticatorTest, ApiKeyActsForItsTenantWithItsScopes) {
  auto p = authn_->Authenticate("Bearer " + key_.key);
  ASSERT_OK(p);
  EXPECT_EQ(p->kind, Principal::Kind::kApiKey);
  EXPECT_EQ(p->tenant_id, tenant_.id);
  EXPECT_EQ(p->permissions, kRecommendationsRead);
  EXPECT_TRUE(store_->GetApiKeyByHash(key_.hash)->last_used_at_ms.has_value());
}

TEST_F(AuthenticatorTest, RevokedKeyIsRefusedAtOnce) {
  ASSERT_OK(authn_->Authenticate("Bearer " + key_.key));  // now cached
  ASSERT_OK(store_->RevokeApiKey(tenant_.id, "key_1", 2));
  authn_->Invalidate();
  EXPECT_EQ(authn_->Authenticate("Bearer " + key_.key).status().code(),
            StatusCode::kUnauthenticated);
}

TEST_F(AuthenticatorTest, AnExpiredKeyIsRefusedEvenWhenCached) {
  GeneratedApiKey k = GenerateApiKey();
  const int64_t end = clock_.NowMillis() + 60'000;
  ASSERT_OK(store_->CreateApiKey({"key_2", tenant_.id, "week", k.prefix, k.hash, {"recommendations:read"},
                                  user_.id, 1, std::nullopt, std::nullopt, end}));
  ASSERT_OK(authn_->Authenticate("Bearer " + k.key));  // now cached
  clock_.AdvanceMillis(59'999);
  ASSERT_OK(authn_->Authenticate("Bearer " + k.key));
  clock_.AdvanceMillis(1);
  auto refused = authn_->Authenticate("Bearer " + k.key);
  EXPECT_EQ(refused.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(refused.status().message().find("expired"), std::string::npos) << refused.status().message();
  authn_->Invalidate();  // and from the store
  EXPECT_EQ(authn_->Authenticate("Bearer " + k.key).status().code(), StatusCode::kUnauthenticated);
  ASSERT_OK(authn_->Authenticate("Bearer " + key_.key));  // a key without an end is unaffected
}

TEST_F(AuthenticatorTest, SuspendedTenantCredentialsAreForbidden) {
  Suspend();
  EXPECT_EQ(authn_->Authenticate("Bearer " + key_.key).status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(authn_->Authenticate("Bearer " + Jwt()).status().code(),
            StatusCode::kPermissionDenied);
}

TEST_F(AuthenticatorTest, JwtUsesTheCurrentRoleAndRefusesDeactivatedUsers) {
  auto p = authn_->Authenticate("Bearer " + Jwt());
  ASSERT_OK(p);
  EXPECT_EQ(p->permissions, RolePermissions("member"));
  user_.status = "inactive";
  ASSERT_OK(store_->UpdateUser(user_));
  authn_->Invalidate();
  EXPECT_EQ(authn_->Authenticate("Bearer " + Jwt()).status().code(),
            StatusCode::kUnauthenticated);
}

TEST_F(AuthenticatorTest, CacheEntriesExpireWithoutInvalidation) {
  ASSERT_OK(authn_->Authenticate("Bearer " + key_.key));
  ASSERT_OK(store_->RevokeApiKey(tenant_.id, "key_1", 2));  // e.g. by another node
  clock_.AdvanceSeconds(31);
  EXPECT_FALSE(authn_->Authenticate("Bearer " + key_.key).ok());
}

TEST_F(AuthenticatorTest, AdminTokenAndGarbage) {
  auto admin = authn_->Authenticate("Bearer admin-token-123456");
  ASSERT_OK(admin);
  EXPECT_EQ(admin->kind, Principal::Kind::kPlatformAdmin);
  for (std::string bad : {"", "Bearer", "Bearer ", "Basic abc", "Bearer admin-token-1234567",
                          "Bearer sk_live_unknownkey", "Bearer a.b.c"}) {
    auto r = authn_->Authenticate(bad);
    EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated) << bad;
  }
}

TEST_F(AuthenticatorTest, ATokenOfAKeyRotatedElsewhereIsVerifiedAfterReadingTheKeysAgain) {
  auto keys = std::make_shared<JwtKeys>(JwtKeyRing::Single("k0", kSecret, clock_.NowSeconds()));
  JwtKeyRing elsewhere = keys->Get()->Rotated("k1", "another-secret-another-secret-12", clock_.NowSeconds(), 900);
  int reloads = 0;
  Authenticator::Options o{kSecret, HashSecret("admin-token-123456")};
  o.jwt_keys = keys;
  o.reload_jwt_keys = [&] {
    ++reloads;
    keys->Set(elsewhere);
  };
  Authenticator authn(store_.get(), &clock_, o);
  const int64_t now = clock_.NowSeconds();
  const std::string token =
      SignJwt({user_.id, tenant_.id, user_.role, "j", now, now + 900}, "another-secret-another-secret-12", "k1");
  EXPECT_EQ(authn.CachedTenant("Bearer " + token), "");  // the network thread never reads the store
  ASSERT_OK(authn.Authenticate("Bearer " + token));
  EXPECT_EQ(reloads, 1);
  EXPECT_OK(authn.Authenticate("Bearer " + Jwt()));  // the replaced key still verifies
  // A key nobody has: one read at most per second, then refused.
  const std::string forged = SignJwt({user_.id, tenant_.id, user_.role, "j", now, now + 900}, kSecret, "k9");
  EXPECT_EQ(authn.Authenticate("Bearer " + forged).status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(authn.Authenticate("Bearer " + forged).status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(reloads, 1);  // within the second of the last read
}

TEST_F(AuthenticatorTest, AnAdminTokenRotatedElsewhereIsReadAgainAndTheOldOneRefused) {
  std::string stored = HashSecret("admin-token-123456");
  Authenticator::Options o{kSecret, stored};
  o.reload_admin_token_hash = [&]() -> std::optional<std::string> { return stored; };
  Authenticator authn(store_.get(), &clock_, o);
  ASSERT_OK(authn.Authenticate("Bearer admin-token-123456"));
  stored = HashSecret("rotated-admin-token-0000");  // another node rotated it
  clock_.AdvanceSeconds(2);
  auto p = authn.Authenticate("Bearer rotated-admin-token-0000");
  ASSERT_OK(p);
  EXPECT_EQ(p->kind, Principal::Kind::kPlatformAdmin);
  EXPECT_FALSE(authn.Authenticate("Bearer admin-token-123456").ok());
  EXPECT_FALSE(authn.IsPlatformAdmin("Bearer admin-token-123456"));
}

}  // namespace
}  // namespace embedrec::auth
