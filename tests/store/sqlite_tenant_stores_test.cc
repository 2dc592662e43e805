#include <filesystem>

#include "store/tenant_stores.h"
#include "test_util.h"

namespace embedrec::store {
namespace {

TEST(SqliteTenantStoresTest, CreatesOpensAndDropsATenantSpace) {
  testing::TempDir dir;
  auto stores = NewSqliteTenantStores(dir.path());
  std::string id = NewUuid();
  EXPECT_EQ(stores->Open(id).status().code(), StatusCode::kNotFound);
  ASSERT_OK(stores->Create(id));
  auto s = stores->Open(id);
  ASSERT_OK(s);
  EXPECT_EQ((*s)->tenant_id(), id);
  EXPECT_OK((*s)->Ping());
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/" + id + "/tenant.db"));
  EXPECT_TRUE(std::filesystem::is_directory(stores->BlobRoot(id)));
  ASSERT_OK(stores->Drop(id));
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/" + id));
  EXPECT_EQ(stores->Open(id).status().code(), StatusCode::kNotFound);
}

TEST(SqliteTenantStoresTest, RejectsIdsThatAreNotUuids) {
  testing::TempDir dir;
  auto stores = NewSqliteTenantStores(dir.path());
  EXPECT_EQ(stores->Create("../escape").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(stores->Open("../escape").status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(IsUuid("2D34F4E3-8207-491A-AD07-242EF39506EC"));
  EXPECT_TRUE(IsUuid("2d34f4e3-8207-491a-ad07-242ef39506ec"));
}

TEST(SqliteTenantStoresTest, RefusesADatabaseStampedForAnotherTenant) {
  testing::TempDir dir;
  std::string a = NewUuid(), b = NewUuid();
  {
    auto stores = NewSqliteTenantStores(dir.path());
    ASSERT_OK(stores->Create(a));
  }
  std::filesystem::create_directories(dir.path() + "/" + b);
  std::filesystem::copy_file(dir.path() + "/" + a + "/tenant.db", dir.path() + "/" + b + "/tenant.db");
  auto stores = NewSqliteTenantStores(dir.path());
  EXPECT_EQ(stores->Open(b).status().code(), StatusCode::kInternal);
  EXPECT_OK(stores->Open(a));
}

}  // namespace
}  // namespace embedrec::store
