#include "auth/principal.h"

#include "test_util.h"

namespace embedrec::auth {
namespace {

TEST(PrincipalTest, ScopesParseToDistinctBits) {
  uint32_t all = 0;
  for (auto name : ScopeNames()) {
    auto bit = ParseScope(name);
    ASSERT_TRUE(bit);
    EXPECT_EQ(all & *bit, 0u);
    all |= *bit;
    EXPECT_EQ(PermissionName(*bit), name);
  }
  EXPECT_EQ(all, kAllScopes);
  EXPECT_FALSE(ParseScope("admin"));
}

TEST(PrincipalTest, RolesGrantWhatTheContractSays) {
  EXPECT_TRUE((RolePermissions("admin") & kManageKeys) && (RolePermissions("admin") & kManageUsers));
  EXPECT_EQ(RolePermissions("member"), kAllScopes);
  uint32_t viewer = RolePermissions("viewer");
  EXPECT_TRUE(viewer & kModelsRead);
  EXPECT_FALSE(viewer & kDataWrite);
  EXPECT_FALSE(viewer & kModelsTrain);
  EXPECT_FALSE(viewer & kInteractionsWrite);
  EXPECT_EQ(RolePermissions("root"), 0u);
  EXPECT_FALSE(IsValidRole("root"));
}

TEST(PrincipalTest, RequireNamesTheMissingScope) {
  Principal p;
  p.kind = Principal::Kind::kApiKey;
  p.permissions = kRecommendationsRead;
  EXPECT_OK(p.Require(kRecommendationsRead));
  Status s = p.Require(kModelsTrain);
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(s.detail("required").value(), "models:train");
}

TEST(PrincipalTest, TenantPrincipalsActOnlyOnTheirOwnTenant) {
  Principal p;
  p.tenant_id = "t1";
  EXPECT_EQ(*p.ResolveTenant(""), "t1");
  EXPECT_EQ(*p.ResolveTenant("t1"), "t1");
  EXPECT_EQ(p.ResolveTenant("t2").status().code(), StatusCode::kPermissionDenied);
  Principal admin;
  admin.kind = Principal::Kind::kPlatformAdmin;
  EXPECT_EQ(*admin.ResolveTenant("t2"), "t2");
  EXPECT_EQ(admin.ResolveTenant("").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace embedrec::auth
