// Training jobs and model versions in a tenant's database.
#include <map>

#include "store/tenant_stores.h"
#include "test_util.h"

namespace embedrec::store {
namespace {

class TrainingRecordsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    stores_ = NewSqliteTenantStores(dir_.path());
    id_ = NewUuid();
    ASSERT_OK(stores_->Create(id_));
    auto s = stores_->Open(id_);
    ASSERT_OK(s);
    store_ = *s;
  }
  ModelVersionRecord Version(int major, int minor, const std::string& status) {
    ModelVersionRecord v;
    v.version = "v" + std::to_string(major) + "." + std::to_string(minor) + "_20261125";
    v.major = major;
    v.minor = minor;
    v.model_type = "lightgcn";
    v.status = status;
    v.job_id = "job_" + std::to_string(major);
    v.created_at_ms = 1000 * major + minor;
    v.metrics_json = R"({"ndcg@10":0.1})";
    return v;
  }
  testing::TempDir dir_;
  std::unique_ptr<TenantStores> stores_;
  std::string id_;
  std::shared_ptr<TenantStore> store_;
};

TEST_F(TrainingRecordsTest, JobsAreStoredReplacedAndListedNewestFirstByStatus) {
  auto& t = store_->training();
  EXPECT_EQ(t.GetJob("nope").status().code(), StatusCode::kNotFound);
  JobRecord a{"job_a", "completed", "lightgcn", "full", R"({"epochs":3})", "{}", 10, 10};
  JobRecord b{"job_b", "queued", "als", "full", "{}", "{}", 20, 20};
  ASSERT_OK(t.PutJob(a));
  ASSERT_OK(t.PutJob(b));
  b.status = "training";
  b.state_json = R"({"progress":0.5})";
  ASSERT_OK(t.PutJob(b));
  auto got = t.GetJob("job_b");
  ASSERT_OK(got);
  EXPECT_EQ(got->status, "training");
  EXPECT_EQ(got->state_json, R"({"progress":0.5})");
  auto all = t.ListJobs({}, 10);
  ASSERT_OK(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].job_id, "job_b");
  auto running = t.ListJobs({"queued", "training"}, 10);
  ASSERT_OK(running);
  ASSERT_EQ(running->size(), 1u);
  EXPECT_EQ((*running)[0].job_id, "job_b");
}

TEST_F(TrainingRecordsTest, DeployArchivesThePreviousVersionAndAppendsTheEvent) {
  auto& t = store_->training();
  ASSERT_OK(t.PutVersion(Version(1, 0, "standby")));
  ASSERT_OK(t.PutVersion(Version(2, 0, "standby")));
  ASSERT_OK(t.PutVersion(Version(1, 1, "standby")));
  ASSERT_OK(t.Deploy("v1.0_20261125", "auto", "model-deployed", R"({"v":1})", 5));
  ASSERT_OK(t.Deploy("v2.0_20261125", "gate passed", "model-deployed", R"({"v":2})", 6));
  auto list = t.ListVersions();
  ASSERT_OK(list);
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].version, "v2.0_20261125");  // newest first by (major, minor)
  EXPECT_EQ((*list)[0].status, "deployed");
  EXPECT_EQ((*list)[0].reason, "gate passed");
  EXPECT_EQ((*list)[0].deployed_at_ms, 6);
  EXPECT_EQ((*list)[1].version, "v1.1_20261125");
  EXPECT_EQ((*list)[1].status, "standby");
  EXPECT_EQ((*list)[2].status, "archived");
  auto events = store_->ReadEvents(0, 10);
  ASSERT_OK(events);
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[1].topic, "model-deployed");
  EXPECT_EQ((*events)[1].payload_json, R"({"v":2})");
  EXPECT_EQ(t.Deploy("v9.9_x", "", "model-deployed", "{}", 7).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->ReadEvents(0, 10)->size(), 2u);  // nothing appended for a failed deploy
  // The deployed version cannot be deleted; another can.
  EXPECT_EQ(t.DeleteVersion("v2.0_20261125").code(), StatusCode::kFailedPrecondition);
  ASSERT_OK(t.DeleteVersion("v1.0_20261125"));
  EXPECT_EQ(t.DeleteVersion("v1.0_20261125").code(), StatusCode::kNotFound);
  EXPECT_EQ(t.ListVersions()->size(), 2u);
}

TEST_F(TrainingRecordsTest, ATrafficSplitIsRecordedAndADeployEndsIt) {
  auto& t = store_->training();
  ASSERT_OK(t.PutVersion(Version(1, 0, "standby")));
  ASSERT_OK(t.PutVersion(Version(2, 0, "standby")));
  ASSERT_OK(t.PutVersion(Version(3, 0, "standby")));
  ASSERT_OK(t.Deploy("v1.0_20261125", "first", "model-deployed", "{}", 10));
  auto weights = [&] {
    std::map<std::string, double> out;
    auto versions = t.ListVersions();
    EXPECT_TRUE(versions.ok());
    for (const auto& v : *versions) out[v.version] = v.traffic_weight;
    return out;
  };
  EXPECT_EQ(weights()["v1.0_20261125"], 1.0);
  // The deployed version must be in the split; unknown versions are refused; nothing changes.
  EXPECT_EQ(t.SetTraffic({{"v2.0_20261125", 1}}, "traffic-changed", "{}", 20).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(t.SetTraffic({{"v1.0_20261125", 1}, {"v9.0_20261125", 1}}, "traffic-changed", "{}", 20).code(),
            StatusCode::kNotFound);
  EXPECT_EQ(weights()["v1.0_20261125"], 1.0);
  ASSERT_OK(t.SetTraffic({{"v1.0_20261125", 9}, {"v2.0_20261125", 1}}, "traffic-changed", R"({"n":2})", 30));
  auto w = weights();
  EXPECT_EQ(w["v1.0_20261125"], 9.0);
  EXPECT_EQ(w["v2.0_20261125"], 1.0);
  EXPECT_EQ(w["v3.0_20261125"], 0.0);
  auto events = store_->ReadEvents(0, 100);
  ASSERT_OK(events);
  EXPECT_EQ(events->back().topic, "traffic-changed");
  // A version with traffic cannot be deleted; one without can.
  EXPECT_EQ(t.DeleteVersion("v2.0_20261125").code(), StatusCode::kFailedPrecondition);
  // A deploy gives the new version all the traffic.
  ASSERT_OK(t.Deploy("v3.0_20261125", "by hand", "model-deployed", "{}", 40));
  w = weights();
  EXPECT_EQ(w["v3.0_20261125"], 1.0);
  EXPECT_EQ(w["v1.0_20261125"], 0.0);
  EXPECT_EQ(w["v2.0_20261125"], 0.0);
  ASSERT_OK(t.DeleteVersion("v2.0_20261125"));
}

TEST_F(TrainingRecordsTest, ScanInteractionsSeesEveryRowWithAnItem) {
  auto batch = store_->BeginImport();
  ASSERT_OK(batch);
  ItemRecord item;
  item.item_id = "P1";
  ASSERT_OK((*batch)->UpsertItem(item, 1));
  item.item_id = "P2";
  ASSERT_OK((*batch)->UpsertItem(item, 1));
  auto u = (*batch)->EnsureUser("U1", 1);
  ASSERT_OK(u);
  InteractionRecord r;
  r.user_idx = *u;
  r.item_idx = 1;
  r.type = "view";
  r.ts_ms = 100;
  ASSERT_OK((*batch)->InsertInteraction(r));
  r.item_idx = 2;
  r.type = "purchase";
  ASSERT_OK((*batch)->InsertInteraction(r));
  r.item_idx.reset();  // an impression without an item is not a training row
  r.type = "recommendations_shown";
  ASSERT_OK((*batch)->InsertInteraction(r));
  ASSERT_OK((*batch)->Commit());
  std::vector<std::string> seen;
  ASSERT_OK(store_->ScanInteractions([&](const TenantStore::InteractionRow& row) {
    seen.push_back(std::to_string(row.user_idx) + ":" + std::to_string(row.item_idx) + ":" +
                   row.type + ":" + std::to_string(row.ts_ms));
  }));
  std::vector<std::string> want = {std::to_string(*u) + ":1:view:100",
                                   std::to_string(*u) + ":2:purchase:100"};
  EXPECT_EQ(seen, want);
}

}  // namespace
}  // namespace embedrec::store
