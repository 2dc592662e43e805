#include "auth/password.h"

#include "test_util.h"

namespace embedrec::auth {
namespace {

TEST(PasswordTest, HashesWithArgon2idAndVerifies) {
  InitCrypto();
  auto h = HashPassword("SecurePass123!");
  ASSERT_OK(h);
  EXPECT_EQ(h->rfind("$argon2id$", 0), 0u) << *h;
  EXPECT_TRUE(VerifyPassword(*h, "SecurePass123!"));
  EXPECT_FALSE(VerifyPassword(*h, "SecurePass123?"));
  EXPECT_FALSE(VerifyPassword("not-a-hash", "SecurePass123!"));
}

TEST(PasswordTest, SamePasswordHashesDifferently) {
  InitCrypto();
  EXPECT_NE(*HashPassword("SecurePass123!"), *HashPassword("SecurePass123!"));
}

TEST(PasswordTest, StrengthRulesNameTheBrokenRule) {
  EXPECT_OK(CheckPasswordStrength("SecurePass123!", "sarah@shop.com"));
  auto rule = [](const char* pw, const char* email = "a@b.co") {
    return CheckPasswordStrength(pw, email).detail("rule").value_or("ok");
  };
  EXPECT_EQ(rule("Short1!"), "length");
  EXPECT_EQ(rule(std::string(129, 'a').append("A1").c_str()), "length");
  EXPECT_EQ(rule("alllowercaseletters"), "classes");
  EXPECT_EQ(rule("lowercase123456"), "classes");
  EXPECT_EQ(rule("Lowercase123456"), "ok");
  EXPECT_EQ(rule("Sarah-Password1", "sarah@shop.com"), "contains_email");
  EXPECT_EQ(CheckPasswordStrength("x", "a@b.co").code(), StatusCode::kUnprocessable);
}

}  // namespace
}  // namespace embedrec::auth
