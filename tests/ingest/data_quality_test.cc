// The counts behind the data-quality report: scanned when the data moved on,
// kept across a restart, rescanned in the background for dashboards.
#include "ingest/data_quality.h"

#include <functional>
#include <vector>

#include "common/clock.h"
#include "test_util.h"

namespace embedrec::ingest {
namespace {

class DataQualityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    stores_ = store::NewSqliteTenantStores(dir_.Sub("tenants"));
    tid_ = NewUuid();
    ASSERT_OK(stores_->Create(tid_));
    store_ = *stores_->Open(tid_);
    quality_ = New();
  }
  std::unique_ptr<DataQuality> New() {
    return std::make_unique<DataQuality>(stores_.get(), &clock_, [this](const std::string& tid, std::function<void()> task) {
      EXPECT_EQ(tid, tid_);
      posted_.push_back(std::move(task));
    });
  }
  void Track(const std::string& user, const std::string& type = "view") {
    store::TrackEvent ev;
    ev.user_id = user;
    ev.item_id = "P" + std::to_string(++tracked_);
    ev.type = type;
    ev.ts_ms = clock_.NowMillis();
    ev.create_missing_item = true;
    auto r = store_->Track({ev});
    ASSERT_OK(r);
    ASSERT_OK((*r)[0].status);
  }

  testing::TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<store::TenantStores> stores_;
  std::string tid_;
  std::shared_ptr<store::TenantStore> store_;
  std::unique_ptr<DataQuality> quality_;
  std::vector<std::function<void()>> posted_;
  int tracked_ = 0;
};

TEST_F(DataQualityTest, ExactCountsAgainOnlyWhenTheDataMovedOn) {
  Track("u1");
  auto first = quality_->Exact(tid_);
  ASSERT_OK(first);
  EXPECT_EQ(first->counts.interactions, 1);
  clock_.AdvanceSeconds(60);
  auto same = quality_->Exact(tid_);
  ASSERT_OK(same);
  EXPECT_EQ(same->counted_ms, first->counted_ms);  // not scanned again
  Track("u2", "purchase");
  auto moved = quality_->Exact(tid_);
  ASSERT_OK(moved);
  EXPECT_EQ(moved->counts.interactions, 2);
  EXPECT_EQ(moved->counts.users, 2);
  EXPECT_EQ(moved->counted_ms, clock_.NowMillis());
}

TEST_F(DataQualityTest, StoredRowsAddWhatWasTrackedSinceTheCountWithoutScanningAgain) {
  Track("u1");
  auto rows = quality_->StoredRows(tid_);  // a first count: 1 item, 1 user, 1 interaction
  ASSERT_OK(rows);
  EXPECT_EQ(*rows, 3);
  const int64_t counted_ms = quality_->Exact(tid_)->counted_ms;
  clock_.AdvanceSeconds(60);
  Track("u1");
  Track("u1");
  rows = quality_->StoredRows(tid_);
  ASSERT_OK(rows);
  EXPECT_EQ(*rows, 5);  // + 2 interactions (their new items come with the next count)
  EXPECT_TRUE(posted_.empty());
  clock_.AdvanceSeconds(1);
  EXPECT_EQ(quality_->Exact(tid_)->counts.interactions, 3);  // Exact scans; StoredRows did not
  EXPECT_GT(quality_->Exact(tid_)->counted_ms, counted_ms);
}

TEST_F(DataQualityTest, ARestartFindsTheCountsKeptInTheTenantsDatabase) {
  Track("u1");
  auto first = quality_->Exact(tid_);
  ASSERT_OK(first);
  clock_.AdvanceSeconds(3600);
  quality_ = New();  // a new process: nothing in memory
  auto kept = quality_->Exact(tid_);
  ASSERT_OK(kept);
  EXPECT_EQ(kept->counted_ms, first->counted_ms);
  EXPECT_EQ(kept->counts.interactions, 1);
  auto recent = quality_->Recent(tid_, 0);
  ASSERT_OK(recent);
  ASSERT_TRUE(recent->has_value());
  EXPECT_EQ((*recent)->counted_ms, first->counted_ms);  // the data did not move: nothing to rescan
  EXPECT_TRUE(posted_.empty());
}

TEST_F(DataQualityTest, RecentAnswersWhatIsKeptAndRescansInTheBackgroundOnce) {
  auto interactions = [&] {
    auto r = quality_->Recent(tid_, 60'000);
    EXPECT_OK(r);
    return r.ok() && r->has_value() ? (*r)->counts.interactions : -1;
  };
  EXPECT_EQ(interactions(), -1);  // never counted: counted in the background, nothing meanwhile
  EXPECT_EQ(interactions(), -1);
  ASSERT_EQ(posted_.size(), 1u);  // one count at a time
  posted_[0]();
  posted_.clear();
  EXPECT_EQ(interactions(), 0);
  Track("u1");
  EXPECT_EQ(interactions(), 0);  // young enough
  EXPECT_TRUE(posted_.empty());
  clock_.AdvanceSeconds(61);
  EXPECT_EQ(interactions(), 0);  // answered at once
  EXPECT_EQ(interactions(), 0);
  ASSERT_EQ(posted_.size(), 1u);
  posted_[0]();
  posted_.clear();
  EXPECT_EQ(interactions(), 1);
  EXPECT_EQ((*quality_->Recent(tid_, 60'000))->counted_ms, clock_.NowMillis());
}

TEST_F(DataQualityTest, ARefreshCountsInTheBackgroundAndWithoutOneRecentCountsOnItsCaller) {
  Track("u1");
  quality_->Refresh(tid_);
  ASSERT_EQ(posted_.size(), 1u);
  posted_[0]();
  EXPECT_EQ((*quality_->Recent(tid_, 0))->counts.interactions, 1);
  DataQuality inline_counts(stores_.get(), &clock_);  // tools and tests: no background
  inline_counts.Refresh(tid_);                          // nothing to run it on
  Track("u2");
  clock_.AdvanceSeconds(1);
  auto now = inline_counts.Recent(tid_, 0);
  ASSERT_OK(now);
  EXPECT_EQ((*now)->counts.interactions, 2);
  EXPECT_FALSE(quality_->Exact(NewUuid()).ok());  // no such tenant
}

TEST_F(DataQualityTest, CountsSurviveTheirEncoding) {
  CountedData c;
  c.position = 42;
  c.counted_ms = 1'700'000'000'123;
  c.counts.items = 7;
  c.counts.users = 3;
  c.counts.interactions = 11;
  c.counts.items_without_interactions = 2;
  c.counts.users_with_one_interaction = 1;
  c.counts.per_type = {{"purchase", 4}, {"view", 7}};
  c.counts.filled_item_fields = 30;
  c.counts.latest_interaction_ms = 1'699'999'999'000;
  c.counts.upload_rows = 20;
  c.counts.upload_rejected = 3;
  c.counts.upload_duplicates = 1;
  auto back = DataQuality::Decode(DataQuality::Encode(c));
  ASSERT_OK(back);
  EXPECT_EQ(DataQuality::Encode(*back), DataQuality::Encode(c));
  EXPECT_EQ(back->counts.per_type, c.counts.per_type);
  EXPECT_FALSE(DataQuality::Decode("not json").ok());
}

}  // namespace
}  // namespace embedrec::ingest
