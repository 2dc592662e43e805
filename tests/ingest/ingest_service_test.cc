#include "ingest/ingest_service.h"

#include <filesystem>

#include "blob/blob_store.h"
#include "common/clock.h"
#include "test_util.h"

namespace embedrec::ingest {
namespace {

class IngestServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    spaces_ = store::NewSqliteTenantStores(dir_.Sub("tenants"));
    tid_ = NewUuid();
    ASSERT_OK(spaces_->Create(tid_));
    blobs_ = blob::NewFsTenantBlobStores(dir_.Sub("tenants"));
    blob::TenantBlobStores* blobs = blobs_.get();
    service_ = std::make_unique<IngestService>(IngestOptions{
        .tenants = spaces_.get(),
        .open_blobs = [blobs](const std::string& tid) { return blobs->Open(tid); },
        .clock = RealClock(),
        .spill_dir = dir_.Sub("tmp"),
        .data_changed = [this](const std::string& tid) { changed_.push_back(tid); }});
  }
  UploadSource Csv(const std::string& text) {
    sources_.push_back(NewStringSource(text));
    return {sources_.back().get(), Compression::kNone, {}};
  }
  std::shared_ptr<store::TenantStore> Store() { return *spaces_->Open(tid_); }

  testing::TempDir dir_;
  std::unique_ptr<store::TenantStores> spaces_;
  std::unique_ptr<blob::TenantBlobStores> blobs_;
  std::string tid_;
  std::unique_ptr<IngestService> service_;
  std::vector<std::unique_ptr<ByteSource>> sources_;
  std::vector<std::string> changed_;
};

TEST_F(IngestServiceTest, ImportsArchivesRecordsAndAnnouncesAnUpload) {
  auto items = service_->UploadItems(tid_, Csv("item_id,name,category\nP1,One,a\nP2,Two,b\n"), ItemsMode::kUpsert, "");
  ASSERT_OK(items);
  EXPECT_EQ(items->at("rows_accepted").as_int64(), 2);
  EXPECT_EQ(items->at("mode").as_string(), "upsert");
  auto inter = service_->UploadInteractions(
      tid_, Csv("user_id,item_id,interaction_type,timestamp\nU1,P1,view,1700000000\nU1,P9,view,1700000001\n"), {}, "");
  ASSERT_OK(inter);
  EXPECT_EQ(inter->at("rows_accepted").as_int64(), 1);
  EXPECT_EQ(inter->at("rows_rejected").as_int64(), 1);  // P9 is not in the catalog
  EXPECT_EQ(inter->at("statistics").as_object().at("unique_users").as_int64(), 1);
  EXPECT_EQ(changed_, (std::vector<std::string>{tid_, tid_}));
  // Recorded with its result, archived, announced.
  auto uploads = Store()->ListUploads(10);
  ASSERT_OK(uploads);
  ASSERT_EQ(uploads->size(), 2u);
  const std::string location(inter->at("storage_location").as_string());
  EXPECT_NE(location.find(std::string(inter->at("upload_id").as_string())), std::string::npos);
  auto events = Store()->ReadEvents(0, 10);
  ASSERT_OK(events);
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].topic, "item-catalog-updated");
  EXPECT_EQ((*events)[1].topic, "interactions-uploaded");
}

TEST_F(IngestServiceTest, AnUploadRefusedAfterReadingStoresNothing) {
  UploadSource source = Csv("item_id,name\nP1,One\n");
  source.after_read = [] { return Status::PermissionDenied("the form names another tenant"); };
  EXPECT_EQ(service_->UploadItems(tid_, std::move(source), ItemsMode::kUpsert, "").status().code(),
            StatusCode::kPermissionDenied);
  auto item = Store()->GetItem("P1");
  EXPECT_EQ(item.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(Store()->ListUploads(10)->empty());
  EXPECT_TRUE(changed_.empty());
}

TEST_F(IngestServiceTest, ReplaceDeletesTheItemsNotInTheFile) {
  ASSERT_OK(service_->UploadItems(tid_, Csv("item_id,name\nP1,One\nP2,Two\n"), ItemsMode::kUpsert, ""));
  auto replaced = service_->UploadItems(tid_, Csv("item_id,name\nP2,Two\n"), ItemsMode::kReplace, "");
  ASSERT_OK(replaced);
  EXPECT_EQ(replaced->at("items_deleted").as_int64(), 1);
  EXPECT_EQ(Store()->GetItem("P1").status().code(), StatusCode::kNotFound);
  ASSERT_OK(Store()->GetItem("P2"));
}

}  // namespace
}  // namespace embedrec::ingest
