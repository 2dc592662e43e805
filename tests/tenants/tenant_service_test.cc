#include "tenants/tenant_service.h"

#include <filesystem>

#include "common/clock.h"
#include "store/control_store.h"
#include "store/tenant_stores.h"
#include "test_util.h"

namespace embedrec::tenants {
namespace {

// The embedded tenant stores, whose Drop can be made to fail.
class FlakySpaces final : public store::TenantStores {
 public:
  explicit FlakySpaces(std::unique_ptr<store::TenantStores> real) : real_(std::move(real)) {}
  Status Create(const std::string& id) override { return real_->Create(id); }
  StatusOr<std::shared_ptr<store::TenantStore>> Open(const std::string& id) override { return real_->Open(id); }
  bool IsOpen(const std::string& id) override { return real_->IsOpen(id); }
  size_t OpenCount() override { return real_->OpenCount(); }
  void CloseIfUnused(const std::string& id) override { real_->CloseIfUnused(id); }
  void OnIdleClose(std::function<void(const std::vector<std::string>&)> fn) override {
    real_->OnIdleClose(std::move(fn));
  }
  Status Ping() override { return real_->Ping(); }
  Status Drop(const std::string& id) override {
    if (fail_drops > 0) {
      --fail_drops;
      return Status::Internal("disk error");
    }
    return real_->Drop(id);
  }
  int fail_drops = 0;

 private:
  std::unique_ptr<store::TenantStores> real_;
};

// Tenants' file areas: counts which were dropped.
class DroppedBlobs final : public blob::TenantBlobStores {
 public:
  StatusOr<std::unique_ptr<blob::BlobStore>> Open(const std::string&) override {
    return Status::NotFound("not used");
  }
  Status Drop(const std::string& tenant_id) override {
    dropped.push_back(tenant_id);
    return Status::Ok();
  }
  StatusOr<int64_t> RemoveAbandoned(int64_t) override { return 0; }
  std::vector<std::string> dropped;
};

class TenantServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto control = store::OpenSqliteControlStore(dir_.Sub("control.db"));
    ASSERT_OK(control);
    control_ = std::move(*control);
    spaces_ = std::make_unique<FlakySpaces>(store::NewSqliteTenantStores(dir_.Sub("tenants")));
    service_ = std::make_unique<TenantService>(control_.get(), spaces_.get(), &blobs_, RealClock());
    service_->AddHooks({
        .stop = [this](const std::string&) { return stop_result_; },
        .changed = [this](const std::string&) { ++changed_; },
        .deleted = [this](const std::string&) { ++deleted_; },
    });
  }
  bool HasSpace(const std::string& id) { return spaces_->Open(id).ok(); }

  testing::TempDir dir_;
  std::unique_ptr<store::ControlStore> control_;
  std::unique_ptr<FlakySpaces> spaces_;
  DroppedBlobs blobs_;
  std::unique_ptr<TenantService> service_;
  Status stop_result_ = Status::Ok();
  int changed_ = 0, deleted_ = 0;
};

TEST_F(TenantServiceTest, CreatesTheSpaceWithTheRowAndCompletesTheSettings) {
  auto t = service_->Create({"  Acme Shop ", "acme", {{"max_recommendations", 20}}});
  ASSERT_OK(t);
  EXPECT_EQ(t->name, "Acme Shop");
  EXPECT_EQ(t->status, kActive);
  EXPECT_TRUE(HasSpace(t->id));
  ASSERT_OK(service_->Get(t->id));
  EXPECT_NE(t->settings_json.find("\"max_recommendations\":20"), std::string::npos);
  EXPECT_NE(t->settings_json.find("\"exclude_from_recommendations\":\"auto\""), std::string::npos);
}

TEST_F(TenantServiceTest, RefusesBadInputWithoutLeavingAnythingBehind) {
  EXPECT_EQ(service_->Create({"Shop", "Not A Slug", {}}).status().code(), StatusCode::kUnprocessable);
  EXPECT_EQ(service_->Create({"   ", "blank", {}}).status().code(), StatusCode::kUnprocessable);
  EXPECT_EQ(service_->Create({"Shop", "bad-model", {{"recommendation_model", "magic"}}}).status().code(),
            StatusCode::kUnprocessable);
  ASSERT_OK(service_->Create({"Shop", "taken", {}}));
  auto dup = service_->Create({"Other", "taken", {}});
  EXPECT_EQ(dup.status().code(), StatusCode::kAlreadyExists);
  // Only the first tenant's space exists: the duplicate's was dropped.
  size_t spaces = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_.Sub("tenants"))) spaces += e.is_directory();
  EXPECT_EQ(spaces, 1u);
}

TEST_F(TenantServiceTest, ChangesMergeSettingsAndTellTheHooks) {
  auto t = service_->Create({"Shop", "shop", {{"cache_ttl_seconds", 60}}});
  ASSERT_OK(t);
  TenantChange c;
  c.status = std::string(kSuspended);
  c.settings_patch = boost::json::object{{"cache_ttl_seconds", nullptr}, {"max_recommendations", 7}};
  auto changed = service_->Change(t->id, c);
  ASSERT_OK(changed);
  EXPECT_EQ(changed->status, kSuspended);
  EXPECT_NE(changed->settings_json.find("\"cache_ttl_seconds\":300"), std::string::npos);  // default again
  EXPECT_NE(changed->settings_json.find("\"max_recommendations\":7"), std::string::npos);
  EXPECT_EQ(changed_, 1);
  c = {};
  c.status = std::string(kDeleting);  // only active and suspended may be set
  EXPECT_EQ(service_->Change(t->id, c).status().code(), StatusCode::kUnprocessable);
}

TEST_F(TenantServiceTest, AMisspeltSettingIsRefusedNamingTheOneMeantAndOtherNamesAreKept) {
  auto detail = [](const Status& s, std::string_view key) {
    for (const auto& [k, v] : s.details()) {
      if (k == key) return v;
    }
    return std::string();
  };
  // Stored, "cache_ttl" would do nothing: the cache would keep its 300 s.
  auto typo = service_->Create({"Shop", "typo", {{"cache_ttl", 5}}});
  EXPECT_EQ(typo.status().code(), StatusCode::kUnprocessable);
  EXPECT_EQ(detail(typo.status(), "field"), "settings.cache_ttl");
  EXPECT_EQ(detail(typo.status(), "did_you_mean"), "settings.cache_ttl_seconds");
  auto t = service_->Create({"Shop", "shop", {{"theme", "dark"}}});  // the shop's own: kept
  ASSERT_OK(t);
  EXPECT_NE(t->settings_json.find("\"theme\":\"dark\""), std::string::npos);
  TenantChange c;
  c.settings_patch = boost::json::object{{"max_recomendations", 7}};
  Status changed = service_->Change(t->id, c).status();
  EXPECT_EQ(detail(changed, "did_you_mean"), "settings.max_recommendations");
  c.settings_patch = boost::json::object{{"attribution", boost::json::object{{"click_window", 5}}}};
  changed = service_->Change(t->id, c).status();
  EXPECT_EQ(detail(changed, "field"), "settings.attribution.click_window");
  EXPECT_EQ(detail(changed, "did_you_mean"), "settings.attribution.click_window_minutes");
  EXPECT_EQ(changed_, 0);  // nothing changed
  // A stored name that would now be refused (kept from before) does not block other changes.
  auto stored = control_->GetTenant(t->id);
  ASSERT_OK(stored);
  stored->settings_json = R"({"cache_ttl":5,"theme":"dark"})";
  ASSERT_OK(control_->UpdateTenant(*stored));
  c.settings_patch = boost::json::object{{"max_recommendations", 7}};
  ASSERT_OK(service_->Change(t->id, c));
}

TEST_F(TenantServiceTest, AFailedDeletionLeavesATenantThatARetryFinishes) {
  auto t = service_->Create({"Shop", "shop", {}});
  ASSERT_OK(t);
  // The training job does not stop: nothing is dropped, the tenant stays,
  // marked deleting (its credentials no longer work).
  stop_result_ = Status::Unavailable("the job did not stop");
  EXPECT_EQ(service_->Delete(t->id).code(), StatusCode::kUnavailable);
  auto left = service_->Get(t->id);
  ASSERT_OK(left);
  EXPECT_EQ(left->status, kDeleting);
  EXPECT_TRUE(HasSpace(t->id));
  EXPECT_TRUE(blobs_.dropped.empty());
  EXPECT_EQ(deleted_, 0);
  EXPECT_EQ(service_->Change(t->id, {.name = "Renamed"}).status().code(), StatusCode::kFailedPrecondition);
  // The space cannot be dropped: still findable, still deleting.
  stop_result_ = Status::Ok();
  spaces_->fail_drops = 1;
  EXPECT_EQ(service_->Delete(t->id).code(), StatusCode::kInternal);
  ASSERT_OK(service_->Get(t->id));
  // A retry finishes: space, memory and row gone.
  ASSERT_OK(service_->Delete(t->id));
  EXPECT_FALSE(HasSpace(t->id));
  EXPECT_EQ(blobs_.dropped.back(), t->id);  // its files too
  EXPECT_EQ(deleted_, 1);
  EXPECT_EQ(service_->Get(t->id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(service_->Delete(t->id).code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace embedrec::tenants
