// Training time over the last 24 hours, from job records, against a limit.
#include "training/training_quota.h"

#include "common/random.h"
#include "common/time_format.h"
#include "store/tenant_stores.h"
#include "test_util.h"

namespace embedrec::training {
namespace {

constexpr int64_t kMinute = 60'000;
constexpr int64_t kNow = 1'750'000'000'000;

store::JobRecord Job(const std::string& id, store::JobStatus status, int64_t started_ms, int64_t finished_ms) {
  store::JobRecord j;
  j.job_id = id;
  j.status = status;
  j.created_at_ms = started_ms - 1000;
  j.updated_at_ms = finished_ms > 0 ? finished_ms : started_ms;
  j.state_json = R"({"started_at":")" + FormatRfc3339Millis(started_ms) + "\"" +
                 (finished_ms > 0 ? R"(,"finished_at":")" + FormatRfc3339Millis(finished_ms) + "\"" : "") + "}";
  return j;
}

TEST(TrainingQuotaTest, CountsEachJobsTimeInsideTheWindowAndARunningOneUntilNow) {
  std::vector<store::JobRecord> jobs = {
      Job("old", store::JobStatus::kCompleted, kNow - 30 * 60 * kMinute, kNow - 29 * 60 * kMinute),  // before
      Job("edge", store::JobStatus::kCompleted, kNow - 24 * 60 * kMinute - 5 * kMinute,
          kNow - 24 * 60 * kMinute + 10 * kMinute),                                             // 10 min inside
      Job("done", store::JobStatus::kFailed, kNow - 60 * kMinute, kNow - 40 * kMinute),         // 20 min
      Job("running", store::JobStatus::kTraining, kNow - 7 * kMinute, 0),                        // 7 min so far
  };
  store::JobRecord queued;
  queued.job_id = "queued";  // never started: nothing
  jobs.push_back(queued);
  EXPECT_DOUBLE_EQ(TrainingSecondsBetween(jobs, kNow - kTrainingQuotaWindowMs, kNow), 37 * 60);
}

TEST(TrainingQuotaTest, RefusesPastTheLimitUntilEnoughTimeLeftTheWindow) {
  testing::TempDir dir;
  FakeClock clock(kNow);
  auto stores = store::NewSqliteTenantStores(dir.Sub("tenants"), &clock);
  const std::string tenant = NewUuid();
  ASSERT_OK(stores->Create(tenant));
  auto store = stores->Open(tenant);
  ASSERT_OK(store);
  auto& records = (*store)->training();
  // 50 minutes of training, ending 2 hours ago.
  ASSERT_OK(records.PutJob(Job("j1", store::JobStatus::kCompleted, kNow - 170 * kMinute, kNow - 120 * kMinute)));
  EXPECT_OK(CheckTrainingQuota(records, 60, kNow));  // under an hour a day
  EXPECT_OK(CheckTrainingQuota(records, 0, kNow));   // no limit
  Status refused = CheckTrainingQuota(records, 30, kNow);
  EXPECT_EQ(refused.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(refused.reason(), "training_quota_exceeded");
  EXPECT_EQ(refused.detail("used_minutes").value_or(""), "50");
  // Under 30 minutes are left in the window once 20 have slid out of it:
  // the job started 170 minutes ago, so 24 h − 170 min + 20 min from now.
  EXPECT_EQ(refused.detail("retry_after_seconds").value_or(""), std::to_string((24 * 60 - 170 + 20) * 60 + 1));
}

}  // namespace
}  // namespace embedrec::training
