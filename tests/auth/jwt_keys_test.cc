// The key ring of access tokens: rotation keeps the replaced key verifying
// for a token's lifetime; tokens name their key.
#include "auth/jwt_keys.h"

#include "auth/jwt.h"
#include "test_util.h"

namespace embedrec::auth {
namespace {

const std::string kOld = "old-secret-old-secret-old-secret-0";
const std::string kNew = "new-secret-new-secret-new-secret-1";
const std::string kNewer = "newer-secret-newer-secret-newer-2";
constexpr int64_t kGrace = kAccessTokenTtlSeconds;

StatusOr<JwtClaims> Verify(const JwtKeyRing& ring, const std::string& token, int64_t now) {
  return VerifyJwt(token, [&](std::string_view kid) { return ring.SecretFor(kid, now, kGrace); }, now);
}

JwtClaims Claims(int64_t now) { return {"usr_1", "t1", "admin", "j1", now, now + kAccessTokenTtlSeconds}; }

TEST(JwtKeyRingTest, ARotatedKeyVerifiesItsTokensUntilTheyExpireThenGoes) {
  JwtKeyRing ring = JwtKeyRing::Single("k0", kOld, 1000);
  const std::string before = SignJwt(Claims(1000), kOld, "k0");
  const std::string legacy = SignJwt(Claims(1000), kOld);  // from before key ids
  JwtKeyRing rotated = ring.Rotated("k1", kNew, 1100, kGrace);
  EXPECT_EQ(rotated.current().kid, "k1");
  EXPECT_OK(Verify(rotated, before, 1200));
  EXPECT_OK(Verify(rotated, legacy, 1200));
  EXPECT_OK(Verify(rotated, SignJwt(Claims(1200), kNew, "k1"), 1300));
  // A token naming k0 but signed with another secret is refused.
  EXPECT_EQ(Verify(rotated, SignJwt(Claims(1000), kNew, "k0"), 1200).status().reason(), "invalid_token");
  // Past the grace, k0 verifies nothing, even before a token's own expiry would.
  auto late = Verify(rotated, SignJwt(Claims(1100 + kGrace - 10), kOld, "k0"), 1100 + kGrace + 1);
  EXPECT_EQ(late.status().reason(), "unknown_key_id");
  // The next rotation drops it; the label key stays the first secret.
  JwtKeyRing again = rotated.Rotated("k2", kNewer, 1100 + kGrace + 5, kGrace);
  ASSERT_EQ(again.keys().size(), 2u);
  EXPECT_EQ(again.keys()[0].kid, "k1");
  EXPECT_EQ(again.label_key(), kOld);
  EXPECT_EQ(Verify(again, SignJwt(Claims(1200), kNew, "unknown"), 1300).status().reason(), "unknown_key_id");
}

TEST(JwtKeyRingTest, RoundTripsThroughItsStoredFormAndRefusesDamage) {
  JwtKeyRing ring = JwtKeyRing::Single("k0", kOld, 1000).Rotated("k1", kNew, 1100, kGrace);
  auto back = JwtKeyRing::FromJson(ring.ToJson());
  ASSERT_OK(back);
  EXPECT_EQ(back->ToJson(), ring.ToJson());
  EXPECT_EQ(back->current().secret, kNew);
  EXPECT_FALSE(JwtKeyRing::FromJson("{}").ok());
  EXPECT_FALSE(JwtKeyRing::FromJson(R"({"keys":[{"kid":"k","secret":"short","created_at":1,"retired_at":0}],"label_key":"x"})").ok());
}

TEST(JwtKeyRingTest, ARetiredConfiguredSecretOnlyVerifies) {
  JwtKeyRing ring = JwtKeyRing::Single("cnew", kNew, 1000).WithRetired("cold", kOld, 1000);
  EXPECT_EQ(ring.current().kid, "cnew");
  EXPECT_OK(Verify(ring, SignJwt(Claims(1000), kOld, "cold"), 1100));
  EXPECT_OK(Verify(ring, SignJwt(Claims(1000), kNew, "cnew"), 1100));
}

}  // namespace
}  // namespace embedrec::auth
