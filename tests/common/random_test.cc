#include "common/random.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>

namespace embedrec {
namespace {

class RandomTest : public ::testing::Test {
 protected:
  void SetUp() override { InitCrypto(); }
};

TEST_F(RandomTest, Base62HasRequestedLengthAndAlphabet) {
  std::string s = RandomBase62(1000);
  ASSERT_EQ(s.size(), 1000u);
  EXPECT_TRUE(std::regex_match(s, std::regex("^[0-9A-Za-z]+$")));
  std::set<char> distinct(s.begin(), s.end());
  EXPECT_GT(distinct.size(), 55u);  // uniform over 62 symbols
}

TEST_F(RandomTest, UuidIsVersion4) {
  std::regex v4("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(std::regex_match(NewUuid(), v4));
  EXPECT_NE(NewUuid(), NewUuid());
}

TEST_F(RandomTest, Base64UrlRoundTrips) {
  for (size_t n = 0; n < 40; ++n) {
    std::string bytes = RandomBytes(n), back;
    std::string enc = Base64UrlEncode(bytes);
    EXPECT_EQ(enc.find_first_of("+/="), std::string::npos);
    ASSERT_TRUE(Base64UrlDecode(enc, &back));
    EXPECT_EQ(back, bytes);
  }
  std::string out;
  EXPECT_FALSE(Base64UrlDecode("ab$d", &out));
}

TEST_F(RandomTest, HmacSha256MatchesRfc4231Case2) {
  std::string mac = HmacSha256("Jefe", "what do ya want for nothing?");
  EXPECT_EQ(HexEncode(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_F(RandomTest, ConstantTimeEqualsComparesContentAndLength) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
}

}  // namespace
}  // namespace embedrec
