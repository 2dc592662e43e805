#include "auth/jwt.h"

#include "common/random.h"
#include "test_util.h"

namespace embedrec::auth {
namespace {

constexpr const char* kSecret = "0123456789abcdef0123456789abcdef";

JwtClaims Claims(int64_t now) {
  return {"usr_1", "tenant-1", "admin", "jti_1", now, now + kAccessTokenTtlSeconds};
}

TEST(JwtTest, SignedTokenVerifiesAndCarriesClaims) {
  std::string t = SignJwt(Claims(1000), kSecret);
  auto c = VerifyJwt(t, kSecret, 1500);
  ASSERT_OK(c);
  EXPECT_EQ(c->sub, "usr_1");
  EXPECT_EQ(c->tid, "tenant-1");
  EXPECT_EQ(c->role, "admin");
  EXPECT_EQ(c->exp, 1900);
}

TEST(JwtTest, TheLoginItBelongsToIsCarriedWhenThereIsOne) {
  JwtClaims with = Claims(1000);
  with.sid = "fam_1";
  auto c = VerifyJwt(SignJwt(with, kSecret), kSecret, 1500);
  ASSERT_OK(c);
  EXPECT_EQ(c->sid, "fam_1");
  auto old = VerifyJwt(SignJwt(Claims(1000), kSecret), kSecret, 1500);  // tokens from before sid
  ASSERT_OK(old);
  EXPECT_EQ(old->sid, "");
}

TEST(JwtTest, ExpiresAfterItsLifetime) {
  std::string t = SignJwt(Claims(1000), kSecret);
  auto c = VerifyJwt(t, kSecret, 1900);
  EXPECT_EQ(c.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(c.status().reason(), "token_expired");
}

TEST(JwtTest, RejectsWrongSecretAndTampering) {
  std::string t = SignJwt(Claims(1000), kSecret);
  EXPECT_FALSE(VerifyJwt(t, "another-secret-another-secret-xx", 1001).ok());
  // Swap in a payload claiming another tenant, keeping the old signature.
  size_t d1 = t.find('.'), d2 = t.rfind('.');
  JwtClaims evil = Claims(1000);
  evil.tid = "tenant-2";
  std::string other = SignJwt(evil, "x");
  std::string forged = t.substr(0, d1) + other.substr(other.find('.'), other.rfind('.') - other.find('.')) +
                       t.substr(d2);
  EXPECT_FALSE(VerifyJwt(forged, kSecret, 1001).ok());
  EXPECT_FALSE(VerifyJwt("a.b", kSecret, 1001).ok());
  EXPECT_FALSE(VerifyJwt("a.b.c.d", kSecret, 1001).ok());
}

TEST(JwtTest, RejectsAlgNone) {
  std::string header = Base64UrlEncode(R"({"alg":"none","typ":"JWT"})");
  std::string payload = Base64UrlEncode(
      R"({"sub":"u","tid":"t","role":"admin","jti":"j","iat":1,"exp":99999999999})");
  EXPECT_FALSE(VerifyJwt(header + "." + payload + ".", kSecret, 2).ok());
  // Even correctly MACed, a header naming another algorithm is refused.
  std::string input = header + "." + payload;
  std::string t = input + "." + Base64UrlEncode(HmacSha256(kSecret, input));
  EXPECT_FALSE(VerifyJwt(t, kSecret, 2).ok());
}

}  // namespace
}  // namespace embedrec::auth
