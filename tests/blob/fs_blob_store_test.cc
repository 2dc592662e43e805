#include <filesystem>

#include "blob/blob_store.h"
#include "test_util.h"

namespace embedrec::blob {
namespace {

class FsBlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = OpenFsBlobStore(dir_.Sub("blobs"));
    ASSERT_OK(s);
    store_ = std::move(s).value();
  }
  testing::TempDir dir_;
  std::unique_ptr<BlobStore> store_;
};

TEST_F(FsBlobStoreTest, PutThenGetReturnsTheBytes) {
  std::string data("a\0b\xff", 4);
  ASSERT_OK(store_->Put("uploads/x.bin", data));
  auto got = store_->Get("uploads/x.bin");
  ASSERT_OK(got);
  EXPECT_EQ(*got, data);
}

TEST_F(FsBlobStoreTest, PutReplacesAtomicallyAndLeavesNoTemporaryFiles) {
  ASSERT_OK(store_->Put("m/model.bin", "old"));
  ASSERT_OK(store_->Put("m/model.bin", "new"));
  EXPECT_EQ(*store_->Get("m/model.bin"), "new");
  int files = 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir_.Sub("blobs"))) {
    files += e.is_regular_file();
  }
  EXPECT_EQ(files, 1);
}

TEST_F(FsBlobStoreTest, ListsByPrefixSorted) {
  ASSERT_OK(store_->Put("b/2", "xx"));
  ASSERT_OK(store_->Put("b/1", "x"));
  ASSERT_OK(store_->Put("c/1", "x"));
  auto list = store_->List("b/");
  ASSERT_OK(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].key, "b/1");
  EXPECT_EQ((*list)[1].size, 2u);
}

TEST_F(FsBlobStoreTest, DeleteIsIdempotentAndGetOfMissingIsNotFound) {
  ASSERT_OK(store_->Put("a", "x"));
  ASSERT_OK(store_->Delete("a"));
  ASSERT_OK(store_->Delete("a"));
  EXPECT_EQ(store_->Get("a").status().code(), StatusCode::kNotFound);
}

TEST_F(FsBlobStoreTest, RejectsKeysThatCouldEscapeTheRoot) {
  for (std::string bad : {"../x", "a/../../x", "/abs", "a//b", "", "a/./b", "sp ace"}) {
    EXPECT_EQ(store_->Put(bad, "x").code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(IsValidBlobKey("uploads/2024/items_001.csv.zst"));
}

}  // namespace
}  // namespace embedrec::blob

namespace embedrec::blob {
namespace {

TEST_F(FsBlobStoreTest, WriterPublishesOnlyOnCommit) {
  auto w = store_->OpenWriter("uploads/big.csv.zst");
  ASSERT_OK(w);
  ASSERT_OK((*w)->Append("part1,"));
  ASSERT_OK((*w)->Append("part2"));
  EXPECT_EQ(store_->Get("uploads/big.csv.zst").status().code(), StatusCode::kNotFound);
  ASSERT_OK((*w)->Commit());
  EXPECT_EQ(*store_->Get("uploads/big.csv.zst"), "part1,part2");
  EXPECT_EQ((*w)->bytes(), 11u);
}

TEST_F(FsBlobStoreTest, AbandonedWriterLeavesNothing) {
  {
    auto w = store_->OpenWriter("uploads/x");
    ASSERT_OK(w);
    ASSERT_OK((*w)->Append("data"));
  }
  EXPECT_TRUE(store_->List("")->empty());
  int files = 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir_.Sub("blobs"))) {
    files += e.is_regular_file();
  }
  EXPECT_EQ(files, 0);
}

}  // namespace
}  // namespace embedrec::blob

namespace embedrec::blob {
namespace {

TEST(FsTenantBlobStoresTest, OpensATenantsAreaInsideItsDirectoryOnly) {
  testing::TempDir dir;
  auto stores = NewFsTenantBlobStores(dir.path());
  const std::string id = "2d34f4e3-8207-491a-ad07-242ef39506ec";
  EXPECT_EQ(stores->Open(id).status().code(), StatusCode::kNotFound);  // no tenant space: nothing created
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/" + id));
  std::filesystem::create_directories(dir.path() + "/" + id);
  auto blobs = stores->Open(id);
  ASSERT_OK(blobs);
  ASSERT_OK((*blobs)->Put("models/v1/model.embr", "bytes"));
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/" + id + "/blobs/models/v1/model.embr"));
  EXPECT_EQ(stores->Open("../" + id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(stores->Open("").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace embedrec::blob
