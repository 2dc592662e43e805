// Retention over real embedded stores: every tenant's old events (published
// ones only, when something publishes) and old idempotency keys go.
#include "tenants/retention.h"

#include <atomic>
#include <chrono>
#include <thread>

#include "common/random.h"
#include "test_util.h"

namespace embedrec::tenants {
namespace {

constexpr int64_t kDay = 86'400'000;

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto control = store::OpenSqliteControlStore(dir_.Sub("control.db"));
    ASSERT_OK(control);
    control_ = std::move(*control);
    stores_ = store::NewSqliteTenantStores(dir_.Sub("tenants"), &clock_);
  }
  // A tenant with `old` events 40 days back and one from now.
  std::string Tenant(const std::string& slug, int old) {
    store::TenantRecord t{NewUuid(), slug, slug, "active", "{}", 1000, 1000};
    EXPECT_OK(control_->CreateTenant(t));
    EXPECT_OK(stores_->Create(t.id));
    auto batch = (*stores_->Open(t.id))->BeginImport();
    for (int i = 0; i < old; ++i) EXPECT_OK((*batch)->AppendEvent("item-catalog-updated", "{}", clock_.NowMillis() - 40 * kDay));
    EXPECT_OK((*batch)->AppendEvent("item-catalog-updated", "{}", clock_.NowMillis()));
    EXPECT_OK((*batch)->Commit());
    return t.id;
  }
  size_t Events(const std::string& id) { return (*stores_->Open(id))->ReadEvents(0, 1000)->size(); }

  testing::TempDir dir_;
  FakeClock clock_{1'750'000'000'000};
  std::unique_ptr<store::ControlStore> control_;
  std::unique_ptr<store::TenantStores> stores_;
};

TEST_F(RetentionTest, EveryTenantsOldEventsGoInBatchesAndRecentOnesStay) {
  const std::string a = Tenant("a", 25), b = Tenant("b", 3);
  RetentionOptions o;
  o.batch = 10;  // several batches for a
  Retention r(control_.get(), stores_.get(), &clock_, o);
  auto n = r.RunOnce();
  ASSERT_OK(n);
  EXPECT_EQ(*n, 28);
  EXPECT_EQ(Events(a), 1u);
  EXPECT_EQ(Events(b), 1u);
}

TEST_F(RetentionTest, EventsNotYetPublishedStay) {
  const std::string a = Tenant("a", 5);
  const int64_t first = (*stores_->Open(a))->ReadEvents(0, 1)->at(0).seq;
  RetentionOptions o;
  o.published_through = [first](store::TenantStore&) -> StatusOr<int64_t> { return first + 1; };
  Retention r(control_.get(), stores_.get(), &clock_, o);
  ASSERT_OK(r.RunOnce());
  EXPECT_EQ(Events(a), 4u);  // 2 published old ones went; 3 unpublished old and the recent one stay
}

TEST_F(RetentionTest, ZeroDaysKeepsEverything) {
  const std::string a = Tenant("a", 5);
  RetentionOptions o;
  o.event_days = 0;
  o.idempotency_hours = 0;
  Retention r(control_.get(), stores_.get(), &clock_, o);
  r.Start();  // starts nothing
  ASSERT_OK(r.RunOnce());
  EXPECT_EQ(Events(a), 6u);
}

TEST_F(RetentionTest, ArchivedUploadsPastTheirDaysGoTheRestStay) {
  const std::string a = Tenant("a", 0);
  auto areas = blob::NewFsTenantBlobStores(dir_.Sub("tenants"));
  auto blobs = areas->Open(a);
  ASSERT_OK(blobs);
  // The clock is 2025-06-15; 90 days back is mid-March.
  for (const char* key : {"uploads/items_20250101_upl_old.csv.zst", "uploads/interactions_20250301_upl_old2.csv.zst",
                          "uploads/items_20250610_upl_recent.csv.zst", "uploads/notes.txt", "models/v1/model.embr"}) {
    ASSERT_OK((*blobs)->Put(key, "x"));
  }
  RetentionOptions o;
  o.open_blobs = [&](const std::string& tid) { return areas->Open(tid); };
  Retention r(control_.get(), stores_.get(), &clock_, o);
  ASSERT_OK(r.RunOnce());
  auto left = (*blobs)->List("");
  ASSERT_OK(left);
  std::vector<std::string> keys;
  for (const auto& b : *left) keys.push_back(b.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"models/v1/model.embr", "uploads/items_20250610_upl_recent.csv.zst",
                                            "uploads/notes.txt"}));
}

TEST_F(RetentionTest, AbandonedBlobWritesOlderThanADayGoOncePerPass) {
  std::vector<int64_t> asked;
  RetentionOptions o;
  o.remove_abandoned_blobs = [&](int64_t before_ms) -> StatusOr<int64_t> {
    asked.push_back(before_ms);
    return 2;
  };
  Retention r(control_.get(), stores_.get(), &clock_, o);
  auto n = r.RunOnce();
  ASSERT_OK(n);
  EXPECT_EQ(*n, 2);  // counted with what was pruned
  EXPECT_EQ(asked, (std::vector<int64_t>{clock_.NowMillis() - kDay}));
}

TEST_F(RetentionTest, APassRunsOnlyOnTheNodeWhoseTurnItIs) {
  std::atomic<int> asked{0}, passes{0};
  RetentionOptions o;
  o.interval_ms = 5;
  o.take_turn = [&] { return ++asked > 3; };  // another node's turn three times, then ours
  o.remove_abandoned_blobs = [&](int64_t) -> StatusOr<int64_t> {
    ++passes;
    EXPECT_GT(asked.load(), 3);  // never before it was our turn
    return 0;
  };
  Retention r(control_.get(), stores_.get(), RealClock(), o);
  r.Start();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (passes.load() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  r.Stop();
  EXPECT_GT(passes.load(), 0);
  EXPECT_GE(asked.load(), 4);
}

}  // namespace
}  // namespace embedrec::tenants
