#include "auth/api_key.h"

#include <regex>
#include <set>

#include "test_util.h"

namespace embedrec::auth {
namespace {

TEST(ApiKeyTest, GeneratedKeyHasPrefixLengthAndHash) {
  InitCrypto();
  GeneratedApiKey k = GenerateApiKey();
  EXPECT_TRUE(std::regex_match(k.key, std::regex("^sk_live_[0-9A-Za-z]{40}$"))) << k.key;
  EXPECT_EQ(k.prefix, k.key.substr(0, 11));
  EXPECT_EQ(k.hash, HashSecret(k.key));
  EXPECT_EQ(k.hash.size(), 64u);
  EXPECT_TRUE(LooksLikeApiKey(k.key));
}

TEST(ApiKeyTest, KeysAreUnique) {
  InitCrypto();
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(seen.insert(GenerateApiKey().key).second);
}

TEST(ApiKeyTest, RecognisesOnlyWellFormedKeys) {
  EXPECT_FALSE(LooksLikeApiKey("sk_live_"));
  EXPECT_FALSE(LooksLikeApiKey("sk_test_abc"));
  EXPECT_FALSE(LooksLikeApiKey("sk_live_abc.def"));
  EXPECT_FALSE(LooksLikeApiKey("eyJhbGc.x.y"));
}

}  // namespace
}  // namespace embedrec::auth
