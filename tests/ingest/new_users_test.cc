// New users of an upload in bounded memory: each id once, in key order,
// across spilled chunks; two ids with one key are refused.
#include "ingest/new_users.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "ingest/interaction_sorter.h"

namespace embedrec::ingest {
namespace {

std::string SpillDir() {
  return (std::filesystem::temp_directory_path() / "embedrec-new-users-test").string();
}

TEST(NewUsersTest, YieldsEachIdOnceInKeyOrderAcrossSpilledChunks) {
  for (size_t chunk : {size_t{7}, size_t{1} << 20}) {
    NewUsers users(SpillDir(), chunk);
    std::map<std::string, int64_t> keys;
    for (int i = 0; i < 2000; ++i) {
      const std::string id = "U" + std::to_string((i * 37) % 500);  // 500 ids, each seen 4 times
      auto key = users.Add(id);
      ASSERT_TRUE(key.ok());
      EXPECT_GE(*key, kNewUserBase);
      auto [it, fresh] = keys.emplace(id, *key);
      EXPECT_EQ(it->second, *key);  // one id, one key
    }
    ASSERT_TRUE(users.Finish().ok());
    EXPECT_EQ(users.runs_spilled() > 1, chunk == 7);
    int64_t key = 0, prev = -1;
    std::string id;
    std::set<std::string> seen;
    while (true) {
      auto more = users.Next(&key, &id);
      ASSERT_TRUE(more.ok()) << more.status().ToString();
      if (!*more) break;
      EXPECT_GT(key, prev);
      prev = key;
      EXPECT_EQ(keys.at(id), key);
      EXPECT_TRUE(seen.insert(id).second);
    }
    EXPECT_EQ(seen.size(), 500u);
  }
}

TEST(NewUsersTest, TwoIdsWithOneKeyAreRefused) {
  for (size_t chunk : {size_t{2}, size_t{100}}) {
    // A weak hash: ids of one length share a key.
    NewUsers users(SpillDir(), chunk, [](std::string_view id) { return uint64_t{id.size()}; });
    for (const char* id : {"A", "BB", "A", "CC"}) ASSERT_TRUE(users.Add(id).ok());
    ASSERT_TRUE(users.Finish().ok());
    int64_t key;
    std::string id;
    auto first = users.Next(&key, &id);
    ASSERT_TRUE(first.ok() && *first);
    EXPECT_EQ(id, "A");  // key 1, seen twice: yielded once
    auto second = users.Next(&key, &id);
    ASSERT_TRUE(second.ok() && *second);
    EXPECT_EQ(id, "BB");
    auto third = users.Next(&key, &id);  // "CC": key 2 again
    EXPECT_EQ(third.status().code(), StatusCode::kUnavailable);
  }
}

}  // namespace
}  // namespace embedrec::ingest
