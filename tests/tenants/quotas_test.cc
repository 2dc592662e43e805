// A tenant's limits: read from settings.limits over defaults, and uploads
// admitted against them.
#include "tenants/quotas.h"

#include <boost/json.hpp>

#include "test_util.h"

namespace embedrec::tenants {
namespace {
namespace json = boost::json;

StatusOr<TenantLimits> Parse(const char* text, const TenantLimits& base = {}) {
  return ParseTenantLimits(json::parse(text).as_object(), base);
}

TEST(TenantLimitsTest, NamedFieldsReplaceTheDefaultsAndTheRestStay) {
  TenantLimits base;
  base.max_rows = 1000;
  auto l = Parse(R"({"max_storage_bytes":5000,"requests_per_second":20,"training_minutes_per_day":0})", base);
  ASSERT_OK(l);
  EXPECT_EQ(l->max_storage_bytes, 5000);
  EXPECT_EQ(l->max_rows, 1000);
  EXPECT_EQ(l->requests_per_second, 20);
  EXPECT_EQ(l->burst, 20);  // a rate without its burst: a second's worth
  EXPECT_EQ(l->training_minutes_per_day, 0);
  EXPECT_EQ(l->max_concurrent_uploads, TenantLimits{}.max_concurrent_uploads);
  auto round = ParseTenantLimits(TenantLimitsJson(*l), TenantLimits{});
  ASSERT_OK(round);
  EXPECT_EQ(round->max_rows, 1000);
}

TEST(TenantLimitsTest, RefusesUnknownFieldsWrongTypesAndValuesOutOfRange) {
  EXPECT_EQ(Parse(R"({"max_rowz":1})").status().code(), StatusCode::kUnprocessable);
  EXPECT_EQ(Parse(R"({"max_rows":"many"})").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Parse(R"({"max_rows":-1})").status().code(), StatusCode::kUnprocessable);
  EXPECT_EQ(Parse(R"({"max_rows":1.5})").status().code(), StatusCode::kUnprocessable);
  EXPECT_EQ(Parse(R"({"training_minutes_per_day":1441})").status().code(), StatusCode::kUnprocessable);
  auto e = Parse(R"({"max_rows":-1})").status();
  EXPECT_EQ(e.detail("field").value_or(""), "settings.limits.max_rows");
}

TEST(TenantLimitsTest, LimitsOfSettingsFallBackToTheDefaults) {
  TenantLimits defaults;
  defaults.max_rows = 7;
  EXPECT_EQ(LimitsOf(json::object{}, defaults).max_rows, 7);
  EXPECT_EQ(LimitsOf(json::parse(R"({"limits":{"max_rows":-1}})").as_object(), defaults).max_rows, 7);
  const TenantLimits own = LimitsOf(json::parse(R"({"limits":{"max_rows":9}})").as_object(), defaults);
  EXPECT_EQ(own.max_rows, 9);
  EXPECT_EQ(own.max_concurrent_uploads, defaults.max_concurrent_uploads);
}

class DataQuotasTest : public ::testing::Test {
 protected:
  DataQuotas quotas_{{.storage_bytes = [this](const std::string&) -> StatusOr<int64_t> {
                          ++reads_;
                          return bytes_;
                        },
                        .rows = [this](const std::string&) -> StatusOr<int64_t> {
                          ++row_reads_;
                          return rows_;
                        },
                        .clock = &clock_,
                        .cache_ms = 60'000}};
  FakeClock clock_;
  int64_t bytes_ = 0, rows_ = 0;
  int reads_ = 0, row_reads_ = 0;
};

TEST_F(DataQuotasTest, CountsUploadsInProgressPerTenant) {
  TenantLimits l;
  l.max_concurrent_uploads = 2;
  auto a = quotas_.Admit("t1", l), b = quotas_.Admit("t1", l);
  ASSERT_OK(a);
  ASSERT_OK(b);
  auto c = quotas_.Admit("t1", l);
  EXPECT_EQ(c.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(c.status().reason(), "too_many_uploads");
  EXPECT_EQ(c.status().detail("retry_after_seconds").value_or(""), "1");
  EXPECT_OK(quotas_.Admit("t2", l));  // another tenant's are its own
  a->reset();                          // one ended
  EXPECT_OK(quotas_.Admit("t1", l));
}

TEST_F(DataQuotasTest, AFullSpaceRefusesAndTheRestCapsTheUpload) {
  TenantLimits l;
  l.max_storage_bytes = 1000;
  l.max_rows = 50;
  bytes_ = 400;
  auto slot = quotas_.Admit("t1", l);
  ASSERT_OK(slot);
  EXPECT_EQ((*slot)->max_bytes(), 600);
  l.max_upload_bytes = 100;  // the smaller of the two
  EXPECT_EQ((*quotas_.Admit("t1", l))->max_bytes(), 100);

  bytes_ = 1000;  // cached for a minute: still 400
  EXPECT_OK(quotas_.Admit("t1", l));
  quotas_.Changed("t1");  // an upload ended: read again
  auto full = quotas_.Admit("t1", l);
  EXPECT_EQ(full.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(full.status().reason(), "storage_quota_exceeded");

  bytes_ = 0;
  rows_ = 50;
  clock_.AdvanceSeconds(61);  // the cache expired
  auto rows = quotas_.Admit("t1", l);
  EXPECT_EQ(rows.status().reason(), "row_quota_exceeded");
  l.max_rows = 0;  // no limit
  EXPECT_OK(quotas_.Admit("t1", l));
}

TEST_F(DataQuotasTest, ReadsOnlyTheFiguresALimitChecks) {
  TenantLimits l;
  l.max_rows = l.max_storage_bytes = 0;  // no storage or row limit: nothing read
  ASSERT_OK(quotas_.Admit("t1", l));
  EXPECT_EQ(reads_, 0);
  EXPECT_EQ(row_reads_, 0);
  l.max_rows = 10;  // the rows, once per cache period
  ASSERT_OK(quotas_.Admit("t1", l));
  ASSERT_OK(quotas_.Admit("t1", l));
  EXPECT_EQ(row_reads_, 1);
  EXPECT_EQ(reads_, 0);
  l.max_storage_bytes = 100;  // now the bytes too, the rows still cached
  ASSERT_OK(quotas_.Admit("t1", l));
  EXPECT_EQ(reads_, 1);
  EXPECT_EQ(row_reads_, 1);
}

TEST_F(DataQuotasTest, TrackedEventsAreAdmittedFromTheFiguresInMemoryAndCountedUntilTheNextRead) {
  std::vector<std::function<void()>> posted;
  DataQuotas quotas({.rows = [this](const std::string&) -> StatusOr<int64_t> {
                       ++row_reads_;
                       return rows_;
                     },
                     .clock = &clock_,
                     .cache_ms = 60'000,
                     .background = [&](const std::string&, std::function<void()> task) {
                       posted.push_back(std::move(task));
                     }});
  TenantLimits l;
  l.max_storage_bytes = 0;
  l.max_rows = 10;
  rows_ = 7;
  // Nothing read yet: admitted at once, a read posted (once), none on the caller.
  EXPECT_OK(quotas.AdmitTracked("t1", l, 1));
  EXPECT_OK(quotas.AdmitTracked("t1", l, 1));
  EXPECT_EQ(row_reads_, 0);
  ASSERT_EQ(posted.size(), 1u);
  posted[0]();
  EXPECT_EQ(row_reads_, 1);
  // 7 stored: three more fit, the fourth does not.
  EXPECT_OK(quotas.AdmitTracked("t1", l, 1));
  EXPECT_OK(quotas.AdmitTracked("t1", l, 2));
  auto full = quotas.AdmitTracked("t1", l, 1);
  EXPECT_EQ(full.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(full.reason(), "row_quota_exceeded");
  EXPECT_EQ(full.detail("rows").value_or(""), "10");
  EXPECT_EQ(quotas.AdmitTracked("t2", l, 1).code(), StatusCode::kOk);  // another tenant's are its own
  // An upload sees the tracked rows too.
  EXPECT_EQ(quotas.Admit("t1", l).status().reason(), "row_quota_exceeded");
  // Data deleted: the next read (after the cache period) admits again.
  rows_ = 2;
  clock_.AdvanceSeconds(61);
  EXPECT_EQ(quotas.AdmitTracked("t1", l, 1).reason(), "row_quota_exceeded");  // the stale figure, a read posted
  ASSERT_EQ(posted.size(), 3u);  // t2's first read, then t1's second
  posted[2]();
  EXPECT_OK(quotas.AdmitTracked("t1", l, 1));
  l.max_rows = 0;  // no limit: nothing checked
  EXPECT_OK(quotas.AdmitTracked("t1", l, 1000));
}

TEST_F(DataQuotasTest, EventsAdmittedWhileTheRowsAreReadStillCount) {
  std::vector<std::function<void()>> posted;
  DataQuotas* self = nullptr;
  TenantLimits l;
  l.max_storage_bytes = 0;
  l.max_rows = 10;
  DataQuotas quotas({.rows = [&](const std::string&) -> StatusOr<int64_t> {
                       // Four events tracked while the count runs, after it looked.
                       for (int i = 0; i < 4; ++i) EXPECT_OK(self->AdmitTracked("t1", l, 1));
                       return 5;
                     },
                     .clock = &clock_,
                     .cache_ms = 60'000,
                     .background = [&](const std::string&, std::function<void()> task) {
                       posted.push_back(std::move(task));
                     }});
  self = &quotas;
  EXPECT_OK(quotas.AdmitTracked("t1", l, 1));  // in the 5 the read will find
  ASSERT_EQ(posted.size(), 1u);
  posted[0]();
  ASSERT_EQ(posted.size(), 1u);  // no second read while one runs
  // 5 read + 4 admitted during the read: one more fits, not two.
  EXPECT_OK(quotas.AdmitTracked("t1", l, 1));
  EXPECT_EQ(quotas.AdmitTracked("t1", l, 1).reason(), "row_quota_exceeded");
}

}  // namespace
}  // namespace embedrec::tenants
