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

// Tracked events admitted through the callback: each verdict in order, or
// "waiting" until it comes.
class TrackedAdmissionTest : public DataQuotasTest {
 protected:
  DataQuotas Quotas(std::function<StatusOr<int64_t>(const std::string&)> rows) {
    return DataQuotas({.rows = std::move(rows),
                       .clock = &clock_,
                       .cache_ms = 60'000,
                       .background = [this](const std::string&, std::function<void()> task) {
                         posted_.push_back(std::move(task));
                       }});
  }
  // The verdict's reason ("ok" when admitted) lands in verdicts_[i].
  size_t Track(DataQuotas& q, const std::string& tenant, int64_t rows = 1) {
    const size_t i = verdicts_.size();
    verdicts_.push_back("waiting");
    q.AdmitTracked(tenant, limits_, rows, [this, i](Status s) { verdicts_[i] = s.ok() ? "ok" : s.reason(); });
    return i;
  }
  TenantLimits limits_ = [] {
    TenantLimits l;
    l.max_storage_bytes = 0;
    l.max_rows = 10;
    return l;
  }();
  std::vector<std::function<void()>> posted_;
  std::vector<std::string> verdicts_;
};

TEST_F(TrackedAdmissionTest, UnknownFiguresAreWaitedForOffTheCallerThenAdmittedInOrder) {
  rows_ = 7;
  auto quotas = Quotas([this](const std::string&) -> StatusOr<int64_t> {
    ++row_reads_;
    return rows_;
  });
  // Nothing read yet: the events wait, one read posted, none on the caller.
  for (int i = 0; i < 4; ++i) Track(quotas, "t1");
  EXPECT_EQ(verdicts_, std::vector<std::string>(4, "waiting"));
  EXPECT_EQ(row_reads_, 0);
  ASSERT_EQ(posted_.size(), 1u);
  posted_[0]();
  EXPECT_EQ(row_reads_, 1);
  // 7 stored: three fit, in the order they came; the fourth does not.
  EXPECT_EQ(verdicts_, (std::vector<std::string>{"ok", "ok", "ok", "row_quota_exceeded"}));
  // Known figures: answered at once, no read.
  EXPECT_EQ(verdicts_[Track(quotas, "t1")], "row_quota_exceeded");
  EXPECT_EQ(posted_.size(), 1u);
  EXPECT_EQ(verdicts_[Track(quotas, "t2")], "waiting");  // another tenant's are its own
  // An upload sees the tracked rows too.
  EXPECT_EQ(quotas.Admit("t1", limits_).status().reason(), "row_quota_exceeded");
  // Data deleted: the stale figure answers at once while the next read runs.
  rows_ = 2;
  clock_.AdvanceSeconds(61);
  EXPECT_EQ(verdicts_[Track(quotas, "t1")], "row_quota_exceeded");
  ASSERT_EQ(posted_.size(), 3u);  // t2's first read, then t1's second
  posted_[2]();
  EXPECT_EQ(verdicts_[Track(quotas, "t1")], "ok");
  // The data changed (an upload ended): unknown again, waited for.
  quotas.Changed("t1");
  const size_t after = Track(quotas, "t1");
  EXPECT_EQ(verdicts_[after], "waiting");
  ASSERT_EQ(posted_.size(), 4u);
  posted_[3]();
  EXPECT_EQ(verdicts_[after], "ok");
  limits_.max_rows = 0;  // no limit: nothing checked, answered at once
  EXPECT_EQ(verdicts_[Track(quotas, "t1", 1000)], "ok");
}

TEST_F(TrackedAdmissionTest, ATenantWithRoomToSpareDoesNotWaitForItsCount) {
  rows_ = 9'000;
  auto quotas = Quotas([this](const std::string&) -> StatusOr<int64_t> {
    ++row_reads_;
    return rows_;
  });
  limits_.max_rows = 10'000;  // a thousandth: 10 rows admitted while the count is unknown
  for (int i = 0; i < 10; ++i) EXPECT_EQ(verdicts_[Track(quotas, "t1")], "ok");
  ASSERT_EQ(posted_.size(), 1u);  // one read posted, none on the caller
  EXPECT_EQ(row_reads_, 0);
  // Past it, the fast path says it cannot decide (and counts nothing); the
  // callback form waits.
  EXPECT_FALSE(quotas.TryAdmitTracked("t1", limits_, 1).has_value());
  EXPECT_EQ(posted_.size(), 1u);
  const size_t eleventh = Track(quotas, "t1"), twelfth = Track(quotas, "t1", 0);
  EXPECT_EQ(verdicts_[eleventh], "waiting");  // past the allowance: waits, and so does what comes after it
  EXPECT_EQ(verdicts_[twelfth], "waiting");
  posted_[0]();
  EXPECT_EQ(verdicts_[eleventh], "ok");
  EXPECT_EQ(verdicts_[twelfth], "ok");
  // A tenant at its limit: the allowance is all it can pass it by.
  rows_ = 10'000;
  quotas.Changed("t1");
  int admitted = 0;
  for (int i = 0; i < 20; ++i) admitted += verdicts_[Track(quotas, "t1")] == "ok";
  EXPECT_EQ(admitted, 10);
  ASSERT_EQ(posted_.size(), 2u);
  posted_[1]();
  EXPECT_EQ(verdicts_.back(), "row_quota_exceeded");
}

TEST_F(TrackedAdmissionTest, EventsAdmittedWhileStaleRowsAreReadStillCount) {
  DataQuotas* self = nullptr;
  int64_t stored = 5;
  bool track_during_read = false;
  auto quotas = Quotas([&](const std::string&) -> StatusOr<int64_t> {
    // Three events tracked while the count runs, after it looked.
    if (track_during_read) {
      for (int i = 0; i < 3; ++i) EXPECT_EQ(verdicts_[Track(*self, "t1")], "ok");
    }
    return stored;
  });
  self = &quotas;
  Track(quotas, "t1", 0);
  ASSERT_EQ(posted_.size(), 1u);
  posted_[0]();  // 5 stored
  clock_.AdvanceSeconds(61);
  EXPECT_EQ(verdicts_[Track(quotas, "t1")], "ok");  // from the stale figure; in the 6 the read will find
  ASSERT_EQ(posted_.size(), 2u);
  stored = 6;
  track_during_read = true;
  posted_[1]();
  ASSERT_EQ(posted_.size(), 2u);  // no second read while one runs
  // 6 read + 3 admitted during the read: one more fits, not two.
  EXPECT_EQ(verdicts_[Track(quotas, "t1")], "ok");
  EXPECT_EQ(verdicts_[Track(quotas, "t1")], "row_quota_exceeded");
}

TEST_F(TrackedAdmissionTest, AReadTheDataChangedUnderIsReadAgain) {
  DataQuotas* self = nullptr;
  int reads = 0;
  auto quotas = Quotas([&](const std::string&) -> StatusOr<int64_t> {
    if (++reads == 1) {
      self->Changed("t1");  // an upload ended while the first count ran
      return 0;
    }
    return 9;
  });
  self = &quotas;
  const size_t a = Track(quotas, "t1"), b = Track(quotas, "t1");
  ASSERT_EQ(posted_.size(), 1u);
  posted_[0]();
  EXPECT_EQ(reads, 2);  // the count from before the upload is not kept
  EXPECT_EQ(verdicts_[a], "ok");
  EXPECT_EQ(verdicts_[b], "row_quota_exceeded");
}

TEST_F(DataQuotasTest, TheWaitingAdmissionReadsUnknownFiguresOnTheCaller) {
  TenantLimits l;
  l.max_storage_bytes = 0;
  l.max_rows = 10;
  rows_ = 9;
  EXPECT_OK(quotas_.AdmitTracked("t1", l, 1));
  EXPECT_EQ(row_reads_, 1);
  EXPECT_EQ(quotas_.AdmitTracked("t1", l, 1).reason(), "row_quota_exceeded");
  EXPECT_EQ(row_reads_, 1);
}

}  // namespace
}  // namespace embedrec::tenants
