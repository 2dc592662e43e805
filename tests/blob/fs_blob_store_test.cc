// What only the filesystem backend promises: its layout on disk, and no
// temporary file left behind (the contract every backend keeps is in
// blob_store_test.cc).
#include <filesystem>

#include "blob/blob_store.h"
#include "test_util.h"

namespace embedrec::blob {
namespace {

int RegularFiles(const std::string& dir) {
  int files = 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir)) files += e.is_regular_file();
  return files;
}

TEST(FsBlobStoreTest, ReplacingAndAbandoningLeaveNoTemporaryFiles) {
  testing::TempDir dir;
  auto store = OpenFsBlobStore(dir.Sub("blobs"));
  ASSERT_OK(store);
  ASSERT_OK((*store)->Put("m/model.bin", "old"));
  ASSERT_OK((*store)->Put("m/model.bin", "new"));
  EXPECT_EQ(RegularFiles(dir.Sub("blobs")), 1);
  {
    auto w = (*store)->OpenWriter("uploads/x");
    ASSERT_OK(w);
    ASSERT_OK((*w)->Append("data"));
  }
  EXPECT_EQ(RegularFiles(dir.Sub("blobs")), 1);
}

TEST(FsTenantBlobStoresTest, ATenantsAreaIsInsideItsDirectory) {
  testing::TempDir dir;
  auto stores = NewFsTenantBlobStores(dir.path());
  const std::string id = "2d34f4e3-8207-491a-ad07-242ef39506ec";
  EXPECT_EQ(stores->Open(id).status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/" + id));  // nothing created
  std::filesystem::create_directories(dir.path() + "/" + id);
  auto blobs = stores->Open(id);
  ASSERT_OK(blobs);
  ASSERT_OK((*blobs)->Put("models/v1/model.embr", "bytes"));
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/" + id + "/blobs/models/v1/model.embr"));
}

}  // namespace
}  // namespace embedrec::blob
