// The blob store's contract (blob/blob_store.h), one suite every backend
// must pass: add a backend to kBackends. What only the filesystem backend
// promises (its layout on disk) is in fs_blob_store_test.cc.
#include <filesystem>
#include <map>
#include <set>

#include "blob/blob_store.h"
#include "common/clock.h"
#include "local_services.h"
#include "test_util.h"

namespace embedrec::blob {
namespace {

struct Backend {
  const char* name;
  // A store in `dir` (a fresh temporary directory).
  std::function<StatusOr<std::unique_ptr<BlobStore>>(const std::string& dir)> open;
  // The per-tenant factory over `dir`, and how a tenant's space is made.
  std::function<std::unique_ptr<TenantBlobStores>(const std::string& dir)> tenants;
  std::function<void(const std::string& dir, const std::string& tenant)> create_space;
  // False when the backend's server is not running (a suite run by hand).
  std::function<bool()> available = [] { return true; };
  // False when the test server does not report when a write started (moto
  // says every multipart upload began in 2010; S3 itself tells the truth).
  bool reports_start_times = true;
};

void PrintTo(const Backend& b, std::ostream* os) { *os << b.name; }

// S3: each store gets a prefix of its own in the test bucket (every test a
// fresh, empty area); a tenant has a space once create_space named it.
std::optional<S3Options> TestS3(const std::string& dir) {
  auto endpoint = testing::LocalService("EMBEDREC_S3_ENDPOINT");
  if (!endpoint) return std::nullopt;
  static std::mutex mu;
  static std::map<std::string, std::string> prefixes;
  std::lock_guard lock(mu);
  auto& prefix = prefixes[dir];
  if (prefix.empty()) prefix = "test-" + HexEncode(RandomBytes(6)) + "/";
  S3Options o;
  o.endpoint = *endpoint;
  o.bucket = *testing::LocalService("EMBEDREC_TEST_S3_BUCKET");
  o.region = *testing::LocalService("AWS_REGION");
  o.access_key = *testing::LocalService("AWS_ACCESS_KEY_ID");
  o.secret_key = *testing::LocalService("AWS_SECRET_ACCESS_KEY");
  o.prefix = prefix;
  o.part_size = size_t{5} << 20;
  o.list_page = 2;  // listings of three keys take two pages
  return o;
}

std::set<std::string>& S3Spaces() {
  static std::set<std::string> spaces;
  return spaces;
}

const Backend kBackends[] = {
    {"fs", [](const std::string& dir) { return OpenFsBlobStore(dir + "/blobs"); },
     [](const std::string& dir) { return NewFsTenantBlobStores(dir); },
     [](const std::string& dir, const std::string& tenant) {
       std::filesystem::create_directories(dir + "/" + tenant);
     }},
    {"s3", [](const std::string& dir) { return OpenS3BlobStore(*TestS3(dir)); },
     [](const std::string& dir) {
       return NewS3TenantBlobStores(*TestS3(dir), [dir](const std::string& t) { return S3Spaces().count(dir + t) > 0; });
     },
     [](const std::string& dir, const std::string& tenant) { S3Spaces().insert(dir + tenant); },
     [] { return TestS3("").has_value(); }, /*reports_start_times=*/false},
};

class BlobStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (!GetParam().available()) GTEST_SKIP() << GetParam().name << " is not running (see tests/local_services.h)";
    auto s = GetParam().open(dir_.path());
    ASSERT_OK(s);
    store_ = std::move(s).value();
  }
  testing::TempDir dir_;
  std::unique_ptr<BlobStore> store_;
};

TEST_P(BlobStoreTest, PutThenGetReturnsTheBytes) {
  std::string data("a\0b\xff", 4);
  ASSERT_OK(store_->Put("uploads/x.bin", data));
  auto got = store_->Get("uploads/x.bin");
  ASSERT_OK(got);
  EXPECT_EQ(*got, data);
  ASSERT_OK(store_->Put("empty", ""));
  EXPECT_EQ(*store_->Get("empty"), "");
}

TEST_P(BlobStoreTest, PutReplaces) {
  ASSERT_OK(store_->Put("m/model.bin", "old"));
  ASSERT_OK(store_->Put("m/model.bin", "new"));
  EXPECT_EQ(*store_->Get("m/model.bin"), "new");
  auto list = store_->List("m/");
  ASSERT_OK(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].size, 3u);
}

TEST_P(BlobStoreTest, ListsByPrefixSorted) {
  ASSERT_OK(store_->Put("b/2", "xx"));
  ASSERT_OK(store_->Put("b/1", "x"));
  ASSERT_OK(store_->Put("c/1", "x"));
  auto list = store_->List("b/");
  ASSERT_OK(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].key, "b/1");
  EXPECT_EQ((*list)[1].key, "b/2");
  EXPECT_EQ((*list)[1].size, 2u);
  EXPECT_EQ(store_->List("")->size(), 3u);
  EXPECT_TRUE(store_->List("d/")->empty());
}

TEST_P(BlobStoreTest, DeleteIsIdempotentAndGetOfMissingIsNotFound) {
  ASSERT_OK(store_->Put("a", "x"));
  ASSERT_OK(store_->Delete("a"));
  ASSERT_OK(store_->Delete("a"));
  EXPECT_EQ(store_->Get("a").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Get("never").status().code(), StatusCode::kNotFound);
}

TEST_P(BlobStoreTest, RejectsKeysThatCouldEscapeTheRoot) {
  for (std::string bad : {"../x", "a/../../x", "/abs", "a//b", "", "a/./b", "sp ace"}) {
    EXPECT_EQ(store_->Put(bad, "x").code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(store_->Get(bad).status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_FALSE(store_->OpenWriter(bad).ok()) << bad;
  }
  EXPECT_TRUE(IsValidBlobKey("uploads/2024/items_001.csv.zst"));
}

TEST_P(BlobStoreTest, AWriterPublishesOnlyOnCommit) {
  auto w = store_->OpenWriter("uploads/big.csv.zst");
  ASSERT_OK(w);
  ASSERT_OK((*w)->Append("part1,"));
  ASSERT_OK((*w)->Append("part2"));
  EXPECT_EQ(store_->Get("uploads/big.csv.zst").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->List("uploads/")->empty());
  ASSERT_OK((*w)->Commit());
  EXPECT_EQ(*store_->Get("uploads/big.csv.zst"), "part1,part2");
  EXPECT_EQ((*w)->bytes(), 11u);
}

TEST_P(BlobStoreTest, ALargeObjectWrittenPiecewiseArrivesWhole) {
  // Over one S3 part (5 MiB in this suite): it goes up as a multipart upload.
  std::string chunk(1 << 20, '\0');
  for (size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<char>(i * 7 + i / 251);
  auto w = store_->OpenWriter("models/v1/big.bin");
  ASSERT_OK(w);
  std::string expected;
  for (int i = 0; i < 12; ++i) {
    chunk[0] = static_cast<char>(i);
    ASSERT_OK((*w)->Append(chunk));
    expected += chunk;
  }
  EXPECT_EQ(store_->Get("models/v1/big.bin").status().code(), StatusCode::kNotFound);
  ASSERT_OK((*w)->Commit());
  auto got = store_->Get("models/v1/big.bin");
  ASSERT_OK(got);
  EXPECT_TRUE(*got == expected) << "got " << got->size() << " bytes";
  EXPECT_EQ((*store_->List("models/"))[0].size, expected.size());
}

TEST_P(BlobStoreTest, AnAbandonedLargeWriterLeavesNothing) {
  {
    auto w = store_->OpenWriter("uploads/big");
    ASSERT_OK(w);
    ASSERT_OK((*w)->Append(std::string(6 << 20, 'x')));  // a part already sent
  }
  EXPECT_TRUE(store_->List("")->empty());
  EXPECT_EQ(store_->Get("uploads/big").status().code(), StatusCode::kNotFound);
}

TEST_P(BlobStoreTest, AnAbandonedWriterLeavesNothing) {
  {
    auto w = store_->OpenWriter("uploads/x");
    ASSERT_OK(w);
    ASSERT_OK((*w)->Append("data"));
  }
  EXPECT_TRUE(store_->List("")->empty());
  EXPECT_EQ(store_->Get("uploads/x").status().code(), StatusCode::kNotFound);
}

TEST_P(BlobStoreTest, EachTenantHasItsOwnAreaAndNoneWithoutASpace) {
  testing::TempDir root;
  auto stores = GetParam().tenants(root.path());
  ASSERT_TRUE(stores);
  const std::string a = "2d34f4e3-8207-491a-ad07-242ef39506ec", b = "6f1c9b7e-2a4d-4f0e-9b1a-3c5d7e9f1a2b";
  EXPECT_EQ(stores->Open(a).status().code(), StatusCode::kNotFound);  // no space yet
  GetParam().create_space(root.path(), a);
  GetParam().create_space(root.path(), b);
  auto blobs_a = stores->Open(a);
  auto blobs_b = stores->Open(b);
  ASSERT_OK(blobs_a);
  ASSERT_OK(blobs_b);
  ASSERT_OK((*blobs_a)->Put("models/v1/model.embr", "a's"));
  EXPECT_EQ((*blobs_b)->Get("models/v1/model.embr").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE((*blobs_b)->List("")->empty());
  EXPECT_EQ(*(*stores->Open(a))->Get("models/v1/model.embr"), "a's");  // opened again: the same area
  for (const std::string& bad : std::vector<std::string>{"../" + a, "", ".", "..", a + "/x"}) {
    EXPECT_EQ(stores->Open(bad).status().code(), StatusCode::kNotFound) << bad;
  }
  // Dropping a's area removes its objects, not b's.
  ASSERT_OK((*blobs_b)->Put("uploads/u1", "b's"));
  ASSERT_OK(stores->Drop(a));
  ASSERT_OK(stores->Drop(a));  // again: nothing left, still fine
  EXPECT_TRUE((*blobs_a)->List("")->empty());
  EXPECT_EQ(*(*blobs_b)->Get("uploads/u1"), "b's");
}

// A writer stopped before Commit or abort (its process killed) leaves
// something behind: a large one has sent a part already. Removing what was
// abandoned before a time spares younger writers (on another node, still
// running) and every blob.
TEST_P(BlobStoreTest, WhatAKilledWriterLeftIsRemovedOnceOldEnough) {
  testing::TempDir root;
  auto stores = GetParam().tenants(root.path());
  const std::string a = "0b9d6a3e-1f2c-4d5e-8a7b-9c0d1e2f3a4b";
  GetParam().create_space(root.path(), a);
  auto blobs = stores->Open(a);
  ASSERT_OK(blobs);
  ASSERT_OK((*blobs)->Put("uploads/kept.csv", "kept"));
  const int64_t before = RealClock()->NowMillis() - 60'000;
  {
    auto w = (*blobs)->OpenWriter("uploads/killed.csv");
    ASSERT_OK(w);
    ASSERT_OK((*w)->Append(std::string(6 << 20, 'x')));  // a part sent (S3), a file written (fs)
    (void)w->release();  // as a kill leaves it: never committed, never aborted (leaked on purpose)
  }
  if (GetParam().reports_start_times) {
    auto young = stores->RemoveAbandoned(before);
    ASSERT_OK(young);
    EXPECT_EQ(*young, 0);  // started after the limit: may still be running
  }
  auto old = stores->RemoveAbandoned(RealClock()->NowMillis() + 60'000);
  ASSERT_OK(old);
  EXPECT_EQ(*old, 1);
  auto again = stores->RemoveAbandoned(RealClock()->NowMillis() + 60'000);
  ASSERT_OK(again);
  EXPECT_EQ(*again, 0);
  EXPECT_EQ(*(*blobs)->Get("uploads/kept.csv"), "kept");
  EXPECT_EQ((*blobs)->Get("uploads/killed.csv").status().code(), StatusCode::kNotFound);
  auto listed = (*blobs)->List("");
  ASSERT_OK(listed);
  EXPECT_EQ(listed->size(), 1u);
}

// A writer killed before Commit leaves its ".tmp-*" file; the next start
// removes it and nothing else.
TEST(FsBlobStoreTest, AWritersLeftoversAreRemovedAtStartAndBlobsKept) {
  testing::TempDir dir;
  auto store = OpenFsBlobStore(dir.path() + "/t1/blobs");
  ASSERT_OK(store);
  ASSERT_OK((*store)->Put("uploads/kept.csv", "data"));
  auto writer = (*store)->OpenWriter("uploads/killed.csv");
  ASSERT_OK(writer);
  ASSERT_OK((*writer)->Append("half"));
  // What the kill leaves: the writer's file on disk (copied: the writer would remove its own).
  std::string left;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir.path())) {
    if (e.path().filename().string().rfind(".tmp-", 0) == 0) left = e.path().string();
  }
  ASSERT_FALSE(left.empty());
  std::filesystem::copy_file(left, dir.path() + "/t1/blobs/uploads/.tmp-leftover");
  writer->reset();
  EXPECT_EQ(RemoveFsTempFiles(dir.path()), 1);
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/t1/blobs/uploads/.tmp-leftover"));
  auto kept = (*store)->Get("uploads/kept.csv");
  ASSERT_OK(kept);
  EXPECT_EQ(*kept, "data");
  EXPECT_EQ(RemoveFsTempFiles(dir.path() + "/nothing-here"), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, BlobStoreTest, ::testing::ValuesIn(kBackends),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace embedrec::blob
