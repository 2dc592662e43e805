// The training service and the model registry over real embedded stores.
#include "training/training_service.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "blob/blob_store.h"
#include "training/retrain_scheduler.h"
#include "test_util.h"

namespace embedrec::training {
namespace {
namespace json = boost::json;

// Polls `pred` until true or 60 s pass.
template <typename Pred>
bool Eventually(Pred pred) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

class TrainingServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    stores_ = store::NewSqliteTenantStores(dir_.Sub("tenants"));
    blobs_ = blob::NewFsTenantBlobStores(dir_.Sub("tenants"));
  }
  // Where the embedded blob store keeps the tenant's files.
  std::string BlobDir(const std::string& tenant_id) { return dir_.Sub("tenants") + "/" + tenant_id + "/blobs"; }
  void TearDown() override {
    if (service_) service_->Shutdown();
  }

  void Start(int workers = 1, RegistryOptions ro = {}) {
    ServiceOptions o;
    o.workers = workers;
    o.registry = ro;
    service_ = NewService(o);
  }
  std::unique_ptr<TrainingService> NewService(const ServiceOptions& o) {
    store::TenantStores* t = stores_.get();
    blob::TenantBlobStores* b = blobs_.get();
    return NewTrainingService(t, [b](const std::string& id) { return b->Open(id); }, &deployed_, &clock_, o);
  }
  // A node of a cluster sharing the stores and `queue_`.
  std::unique_ptr<TrainingService> Node(const std::string& name, bool takes_jobs, int64_t lease_ms = 60'000,
                                        std::function<void()> ran = nullptr) {
    ServiceOptions o;
    if (ran) o.job_ran = [ran](const std::string&, double) { ran(); };
    o.queue = queue_.get();
    o.node = name;
    o.takes_jobs = takes_jobs;
    o.job_lease_ms = lease_ms;
    return NewService(o);
  }

  // A tenant with two planted taste groups (60 users, 40 items).
  std::string Tenant(int users = 60) {
    std::string id = NewUuid();
    EXPECT_OK(stores_->Create(id));
    auto s = stores_->Open(id);
    auto batch = (*s)->BeginImport();
    store::ItemRecord item;
    for (int i = 0; i < 40; ++i) {
      item.item_id = "P" + std::to_string(i);
      EXPECT_OK((*batch)->UpsertItem(item, 1));
    }
    EXPECT_OK((*batch)->Commit());
    auto items = (*s)->LoadItemIndex();  // never assume how a backend numbers rows
    EXPECT_OK(items);
    batch = (*s)->BeginImport();
    std::mt19937_64 rng(5);
    for (int u = 0; u < users; ++u) {
      auto idx = (*batch)->EnsureUser("U" + std::to_string(u), 1);
      for (int k = 0; k < 8; ++k) {
        store::InteractionRecord r;
        r.user_idx = *idx;
        r.item_idx = items->at("P" + std::to_string((u % 2) * 20 + static_cast<int64_t>(rng() % 20)));
        r.type = k % 3 ? "view" : "purchase";
        r.ts_ms = 1000 * (u * 10 + k);
        EXPECT_OK((*batch)->InsertInteraction(r));
      }
    }
    EXPECT_OK((*batch)->Commit());
    return id;
  }

  JobRequest Quick(int epochs = 10) {
    auto r = ParseJobRequest(
        json::parse(R"({"hyperparameters":{"embedding_dim":8,"num_layers":1,"learning_rate":0.01,
                        "batch_size":64,"eval_every":5,"epochs":)" + std::to_string(epochs) + "}}")
            .as_object(),
        "{}");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return *r;
  }

  json::object Doc(const std::string& tenant, const std::string& job) {
    auto d = service_->Progress(tenant, job);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return json::parse(*d).as_object();
  }
  std::string Status(const std::string& tenant, const std::string& job) {
    return std::string(Doc(tenant, job)["status"].as_string());
  }
  bool Finished(const std::string& tenant, const std::string& job) {
    auto s = Status(tenant, job);
    return s == "completed" || s == "failed" || s == "cancelled";
  }

  testing::TempDir dir_;
  std::unique_ptr<blob::TenantBlobStores> blobs_;
  FakeClock clock_;
  std::unique_ptr<store::JobQueue> queue_ = store::NewMemoryJobQueue();  // the nodes' shared queue
  std::unique_ptr<store::TenantStores> stores_;
  serving::DeployedModels deployed_;
  std::unique_ptr<TrainingService> service_;
};

TEST_F(TrainingServiceTest, AJobTrainsStoresAndDeploysAndItsWatcherSeesTheEnd) {
  Start();
  std::string t = Tenant();
  auto sub = service_->Submit(t, Quick());
  ASSERT_OK(sub);
  EXPECT_EQ(sub->status, "started");
  EXPECT_GT(sub->estimated_seconds, 0);
  std::vector<std::string> statuses;
  std::atomic<bool> ended{false};
  std::mutex mu;
  auto watch = service_->Watch(t, sub->job_id, [&](const std::string& doc, bool final) {
    std::lock_guard lock(mu);
    statuses.push_back(std::string(json::parse(doc).as_object()["status"].as_string()));
    if (final) ended = true;
  });
  ASSERT_OK(watch);
  ASSERT_TRUE(Eventually([&] { return ended.load(); }));
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(statuses.back(), "completed");
  }
  auto doc = Doc(t, sub->job_id);
  EXPECT_EQ(doc["deployment_status"].as_string(), "deployed");
  auto model = deployed_.Get(t);
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->version, std::string(doc["model_version"].as_string()));
  EXPECT_EQ(model->item_ids.size(), 40u);
  EXPECT_EQ(model->index->size(), 40);
  // The deployed model ranks a user's own taste group first.
  const auto& ue = model->model->user_embeddings();
  int row = static_cast<int>(model->user_rows.at("U0"));
  auto top = model->index->Search(ue.data() + row * 8, 10, nullptr);
  int same = 0;
  for (auto& [i, s] : top) same += std::stoi(model->item_ids[i].substr(1)) <= 20;
  EXPECT_GE(same, 8);
  // The job is persisted: a fresh service over the same stores reads it.
  auto stored = (*stores_->Open(t))->training().GetJob(sub->job_id);
  ASSERT_OK(stored);
  EXPECT_EQ(stored->status, store::JobStatus::kCompleted);
}

TEST_F(TrainingServiceTest, JobsRunAtIdlePriorityUnlessANicenessIsGiven) {
  for (const char* priority : {"idle", "17"}) {
    std::atomic<int> policy{-1}, nice{-1};
    ServiceOptions o;
    o.priority = *ParseBackgroundPriority(priority);
    o.job_ran = [&](const std::string&, double) {  // on the job's worker thread
      nice = getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()));
      policy = sched_getscheduler(0);
    };
    service_ = NewService(o);
    std::string t = Tenant();
    ASSERT_OK(service_->Submit(t, Quick(2)));
    ASSERT_TRUE(Eventually([&] { return policy.load() != -1; })) << priority;
    if (std::string(priority) == "idle") {
      EXPECT_EQ(policy.load(), SCHED_IDLE);
    } else {
      EXPECT_EQ(policy.load(), SCHED_OTHER);
      EXPECT_EQ(nice.load(), 17);
    }
    service_->Shutdown();
    service_.reset();
  }
}

TEST_F(TrainingServiceTest, AJobsFitsStandAsideBetweenBatchesWhileRequestsWaitAndStillFinish) {
  std::atomic<int> asked{0};
  ServiceOptions o;
  o.requests_waiting = [&] {  // requests always queued: the job must still progress
    asked.fetch_add(1);
    return true;
  };
  service_ = NewService(o);
  std::string t = Tenant();
  auto sub = service_->Submit(t, Quick(3));
  ASSERT_OK(sub);
  ASSERT_TRUE(Eventually([&] { return Finished(t, sub->job_id); }));
  auto doc = Doc(t, sub->job_id);
  EXPECT_EQ(doc["status"].as_string(), "completed") << json::serialize(doc);
  // Asked between batches, not once per fit or epoch: 3 epochs of 64-sample
  // batches, validation's fit and the refit.
  EXPECT_GT(asked.load(), 6);
}

TEST_F(TrainingServiceTest, AFastSoftmaxLightGcnIsRefitFromTheValidatedModelForHalfItsBestEpochs) {
  Start();
  std::string t = Tenant();
  auto request = [](const char* loss) {
    auto r = ParseJobRequest(json::parse(std::string(R"({"model_type":"lightgcn","hyperparameters":{"embedding_dim":8,
        "num_layers":1,"learning_rate":0.05,"batch_size":64,"eval_every":2,"patience":2,"epochs":40)") + loss + "}}")
                                 .as_object(),
                             "{}");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return *r;
  };
  // The seed's loss (BPR) is refit anew, whatever its learning rate.
  auto bpr = service_->Submit(t, request(""));
  ASSERT_OK(bpr);
  ASSERT_TRUE(Eventually([&] { return Finished(t, bpr->job_id); }));
  auto bpr_doc = Doc(t, bpr->job_id);
  ASSERT_EQ(bpr_doc["status"].as_string(), "completed") << json::serialize(bpr_doc);
  EXPECT_EQ(std::string(bpr_doc["refit"].as_string()),
            "refit on all data: " + std::to_string(bpr_doc["best_epoch"].as_int64()) + " epochs (validation's best)");
  auto sub = service_->Submit(t, request(R"(,"softmax_negatives":16)"));
  ASSERT_OK(sub);
  ASSERT_TRUE(Eventually([&] { return Finished(t, sub->job_id); }));
  auto doc = Doc(t, sub->job_id);
  ASSERT_EQ(doc["status"].as_string(), "completed") << json::serialize(doc);
  const int64_t best = doc["best_epoch"].as_int64();
  EXPECT_EQ(std::string(doc["refit"].as_string()).rfind("refit on all data: " + std::to_string((best + 1) / 2) +
                                                            " epochs continuing the validated model", 0),
            0u)
      << doc["refit"].as_string();
  // ... from the validated model's own rows: every user and item of the
  // split is known to it (none were, when its rows were looked up by ids
  // the export does not carry).
  const std::string refit(doc["refit"].as_string());
  const auto users = refit.find("its rows for "), items = refit.find(" users and ");
  ASSERT_NE(users, std::string::npos) << refit;
  ASSERT_NE(items, std::string::npos) << refit;
  std::istringstream u(refit.substr(users + 13)), i(refit.substr(items + 11));
  int64_t users_known = -1, users_all = -2, items_known = -1, items_all = -2;
  std::string of;
  u >> users_known >> of >> users_all;
  i >> items_known >> of >> items_all;
  EXPECT_GT(users_known, 0) << refit;
  EXPECT_EQ(users_known, users_all) << refit;
  EXPECT_EQ(items_known, items_all) << refit;
  // The refit model still ranks a user's own taste group first.
  auto model = deployed_.Get(t);
  ASSERT_NE(model, nullptr);
  const auto& ue = model->model->user_embeddings();
  auto top = model->index->Search(ue.data() + model->user_rows.at("U1") * 8, 10, nullptr);
  int same = 0;
  for (auto& [i, s] : top) same += std::stoi(model->item_ids[i].substr(1)) >= 20;
  EXPECT_GE(same, 8);
}

TEST_F(TrainingServiceTest, ABlendARequestNamesIsFittedPartByPartJudgedGatedAndRefit) {
  Start();
  std::string t = Tenant();
  auto r = ParseJobRequest(json::parse(R"({"model_type":"blend","hyperparameters":{"eval_every":2,"patience":2,
      "blend":[{"model_type":"als","weight":0.6,"hyperparameters":{"embedding_dim":8,"epochs":6}},
               {"model_type":"lightgcn","weight":0.4,"hyperparameters":{"embedding_dim":8,"num_layers":1,
                "learning_rate":0.05,"batch_size":64,"epochs":12,"softmax_negatives":16}}]}})")
                               .as_object(),
                           "{}");
  ASSERT_OK(r);
  auto sub = service_->Submit(t, *r);
  ASSERT_OK(sub);
  EXPECT_GT(sub->estimated_seconds, 0);
  ASSERT_TRUE(Eventually([&] { return Finished(t, sub->job_id); }));
  auto doc = Doc(t, sub->job_id);
  ASSERT_EQ(doc["status"].as_string(), "completed") << json::serialize(doc);
  EXPECT_EQ(doc["model_type"].as_string(), "blend");
  EXPECT_EQ(doc["deployment_status"].as_string(), "deployed") << json::serialize(doc);
  // Both parts' fits drew the curve, each from its own first epoch.
  std::set<int64_t> parts;
  for (const auto& p : doc["curve"].as_array()) parts.insert(p.as_object().at("part").as_int64());
  EXPECT_EQ(parts, (std::set<int64_t>{1, 2})) << json::serialize(doc["curve"]);
  // Judged against popularity on the split, then every part refit on all the
  // data (LightGCN's fast softmax continuing its validated fit).
  EXPECT_GT(doc["final_metrics"].as_object().at("ndcg@10").as_double(), 0);
  const std::string refit(doc["refit"].as_string());
  EXPECT_EQ(refit.rfind("refit on all data: each part of the blend (als ", 0), 0u) << refit;
  EXPECT_NE(refit.find("lightgcn"), std::string::npos) << refit;
  EXPECT_NE(refit.find("continuing its validated fit"), std::string::npos) << refit;
  // The record names the parts as the refit trained them; the model is a blend of both.
  const auto& hyper = doc["hyperparameters"].as_object();
  ASSERT_EQ(hyper.at("blend").as_array().size(), 2u) << json::serialize(hyper);
  EXPECT_DOUBLE_EQ(hyper.at("blend").as_array()[0].as_object().at("weight").as_double(), 0.6);
  auto model = deployed_.Get(t);
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->model->name(), "blend");
  EXPECT_EQ(model->model->dim(), 16);
  // It ranks a user's own taste group first, as each part learned it.
  const auto& ue = model->model->user_embeddings();
  auto top = model->index->Search(ue.data() + model->user_rows.at("U1") * 16, 10, nullptr);
  int same = 0;
  for (auto& [i, s] : top) same += std::stoi(model->item_ids[i].substr(1)) >= 20;
  EXPECT_GE(same, 8);
}

TEST_F(TrainingServiceTest, OneJobPerTenantTenantsQueueInOrderAndQueuedJobsCancelAtOnce) {
  Start(/*workers=*/1);
  std::string a = Tenant(), b = Tenant(), c = Tenant();
  JobRequest slow = Quick(1000);
  slow.options.batch_size = 16;
  auto ja = service_->Submit(a, slow);
  ASSERT_OK(ja);
  ASSERT_TRUE(Eventually([&] { return Status(a, ja->job_id) == "training"; }));
  auto again = service_->Submit(a, Quick());
  EXPECT_EQ(again.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(again.status().reason(), "job_running");
  auto jb = service_->Submit(b, Quick());
  auto jc = service_->Submit(c, Quick());
  ASSERT_OK(jb);
  ASSERT_OK(jc);
  EXPECT_EQ(jb->status, "queued");
  EXPECT_EQ(jb->queue_position, 0);
  EXPECT_EQ(jc->queue_position, 1);
  // Cancelling a queued job is immediate.
  auto cancel = service_->Cancel(c, jc->job_id);
  ASSERT_OK(cancel);
  EXPECT_EQ(Status(c, jc->job_id), "cancelled");
  EXPECT_EQ(service_->Cancel(c, jc->job_id).status().code(), StatusCode::kFailedPrecondition);
  // Another tenant cannot see or cancel a's job.
  EXPECT_EQ(service_->Progress(b, ja->job_id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(service_->Cancel(b, ja->job_id).status().code(), StatusCode::kNotFound);
  // Cancelling the running one frees the worker for b.
  ASSERT_OK(service_->Cancel(a, ja->job_id));
  ASSERT_TRUE(Eventually([&] { return Finished(a, ja->job_id); }));
  EXPECT_EQ(Status(a, ja->job_id), "cancelled");
  ASSERT_TRUE(Eventually([&] { return Finished(b, jb->job_id); }));
  EXPECT_EQ(Status(b, jb->job_id), "completed");
}

TEST_F(TrainingServiceTest, RecoverFailsInterruptedJobsAndRequeuesQueuedOnes) {
  std::string a = Tenant(), b = Tenant();
  JobRequest q = Quick();
  auto put = [&](const std::string& t, const std::string& id, const std::string& status) {
    store::JobRecord r{id, *store::ParseJobStatus(status), "lightgcn", "full", json::serialize(RequestJson(q)),
                       R"({"job_id":")" + id + R"(","status":")" + status + "\"}", 1, 1};
    ASSERT_OK((*stores_->Open(t))->training().PutJob(r));
  };
  put(a, "job_running", "training");
  put(b, "job_waiting", "queued");
  Start();
  ASSERT_OK(service_->Recover(a));
  ASSERT_OK(service_->Recover(b));
  auto doc = Doc(a, "job_running");
  EXPECT_EQ(doc["status"].as_string(), "failed");
  EXPECT_EQ(doc["error"].as_object()["reason"].as_string(), "interrupted");
  ASSERT_TRUE(Eventually([&] { return Finished(b, "job_waiting"); }));
  EXPECT_EQ(Status(b, "job_waiting"), "completed");
  EXPECT_NE(deployed_.Get(b), nullptr);
}

std::string StatusIn(TrainingService& node, const std::string& tenant, const std::string& job) {
  auto d = node.Progress(tenant, job);
  return d.ok() ? std::string(json::parse(*d).as_object()["status"].as_string()) : d.status().ToString();
}

TEST_F(TrainingServiceTest, AJobSubmittedOnANodeWithoutWorkersRunsOnOneWithAndIsFollowedFromBoth) {
  auto gateway = Node("gw", /*takes_jobs=*/false);
  std::string t = Tenant();
  auto sub = gateway->Submit(t, Quick());
  ASSERT_OK(sub);
  EXPECT_EQ(sub->status, "queued");
  EXPECT_EQ(gateway->Submit(t, Quick()).status().reason(), "job_running");  // one per tenant, across nodes
  std::atomic<bool> ended{false};
  std::string last;
  std::mutex mu;
  auto watch = gateway->Watch(t, sub->job_id, [&](const std::string& doc, bool final) {
    std::lock_guard lock(mu);
    last = doc;
    if (final) ended = true;
  });
  ASSERT_OK(watch);
  auto ml = Node("ml", /*takes_jobs=*/true);
  ASSERT_TRUE(Eventually([&] { return ended.load(); }));
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(json::parse(last).as_object()["status"].as_string(), "completed");
  }
  EXPECT_EQ(StatusIn(*gateway, t, sub->job_id), "completed");
  EXPECT_FALSE(queue_->Get(sub->job_id)->has_value());  // it left the queue
  EXPECT_NE(deployed_.Get(t), nullptr);
  // A node with a free worker runs what it is given itself.
  auto own = ml->Submit(t, Quick());
  ASSERT_OK(own);
  EXPECT_EQ(own->status, "started");
  ASSERT_TRUE(Eventually([&] { return StatusIn(*gateway, t, own->job_id) == "completed"; }));
  ml->Shutdown();
  gateway->Shutdown();
}

TEST_F(TrainingServiceTest, AJobWhoseNodeStoppedRenewingIsRetriedByAnotherAfterTheLease) {
  std::string t = Tenant();
  JobRequest q = Quick();
  const int64_t t0 = clock_.NowMillis();
  // A node claimed it, began training and died (kill -9): nobody renews its lease.
  store::JobRecord dead{"job_dead", store::JobStatus::kTraining, "lightgcn", "full",
                        json::serialize(RequestJson(q)),
                        R"({"job_id":"job_dead","status":"training","progress":0.4})", t0, t0};
  ASSERT_OK((*stores_->Open(t))->training().PutJob(dead));
  ASSERT_OK(queue_->Enqueue(t, "job_dead", "dead-node", t0, 60'000));
  auto node = Node("alive", true);
  ASSERT_OK(node->Recover(t));  // the queue holds it: left alone
  EXPECT_EQ(StatusIn(*node, t, "job_dead"), "training");
  auto busy = node->Submit(t, q);
  EXPECT_EQ(busy.status().reason(), "job_running");
  EXPECT_NE(busy.status().message().find("job_dead"), std::string::npos);
  clock_.AdvanceMillis(60'001);  // the lease ran out
  ASSERT_TRUE(Eventually([&] { return StatusIn(*node, t, "job_dead") == "completed"; }));
  auto doc = json::parse(*node->Progress(t, "job_dead")).as_object();
  EXPECT_EQ(doc["attempt"].as_int64(), 2);
  EXPECT_NE(deployed_.Get(t), nullptr);
  node->Shutdown();
}

TEST_F(TrainingServiceTest, AJobClaimedTooOftenFailsAndOpenJobsTheQueueLostAreFailed) {
  std::string t = Tenant();
  std::string u = Tenant();
  JobRequest q = Quick();
  const int64_t t0 = clock_.NowMillis();
  store::JobRecord rec{"job_x", store::JobStatus::kTraining, "lightgcn", "full", json::serialize(RequestJson(q)),
                       R"({"job_id":"job_x","status":"training"})", t0, t0};
  ASSERT_OK((*stores_->Open(t))->training().PutJob(rec));
  ASSERT_OK(queue_->Enqueue(t, "job_x", "", t0, 1000));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(queue_->Claim("crashing-" + std::to_string(i), t0 + 2000 * i, 1000)->has_value());
  rec.job_id = "job_orphan";  // open, but in no queue (its node stopped before the queue held it)
  ASSERT_OK((*stores_->Open(u))->training().PutJob(rec));
  clock_.AdvanceMillis(10'000);
  auto node = Node("alive", true, 1000);
  ASSERT_OK(node->Recover(u));
  EXPECT_EQ(StatusIn(*node, u, "job_orphan"), "failed");
  ASSERT_TRUE(Eventually([&] { return StatusIn(*node, t, "job_x") == "failed"; }));
  EXPECT_NE(node->Progress(t, "job_x")->find("stopped 3 times"), std::string::npos);
  EXPECT_TRUE(Eventually([&] { return !queue_->Get("job_x")->has_value(); }));  // removed once recorded
  node->Shutdown();
}

// A job's node records its end, then takes it out of the queue: in between,
// the tenant is free (found under load: a client that saw "cancelled" was
// refused its next job).
TEST_F(TrainingServiceTest, AJobWhoseRecordEndedNoLongerHoldsTheTenantInTheQueue) {
  auto gateway = Node("gw", false);
  std::string t = Tenant(600);
  auto first = gateway->Submit(t, Quick());
  ASSERT_OK(first);
  auto open = gateway->Submit(t, Quick());
  EXPECT_EQ(open.status().code(), StatusCode::kFailedPrecondition);  // still queued: 409
  auto store = stores_->Open(t);
  ASSERT_OK(store);
  auto rec = (*store)->training().GetJob(first->job_id);
  ASSERT_OK(rec);
  rec->status = store::JobStatus::kCancelled;  // its node wrote the end; the queue still has it
  ASSERT_OK((*store)->training().PutJob(*rec));
  ASSERT_TRUE((*queue_->Get(first->job_id)).has_value());
  auto next = gateway->Submit(t, Quick());
  ASSERT_OK(next);
  EXPECT_FALSE((*queue_->Get(first->job_id)).has_value());
  EXPECT_EQ((*queue_->OfTenant(t))->job_id, next->job_id);
  gateway->Shutdown();
}

TEST_F(TrainingServiceTest, AJobTakenOverByAnotherNodeStoresAndDeploysNothingHere) {
  std::atomic<bool> ran{false};
  auto node = Node("slow", true, 60'000, [&] { ran = true; });
  std::string t = Tenant(600);
  auto sub = node->Submit(t, Quick(200));
  ASSERT_OK(sub);
  // Its lease "ran out" and another node claimed it (as after a long pause).
  ASSERT_OK(queue_->Remove(sub->job_id, "slow"));
  ASSERT_OK(queue_->Enqueue(t, sub->job_id, "other", clock_.NowMillis(), 60'000));
  // This node learns at its next renewal or, at the latest, before it stores
  // the model: its run ends with nothing stored, deployed or recorded.
  ASSERT_TRUE(Eventually([&] { return ran.load(); }));
  EXPECT_EQ(deployed_.Get(t), nullptr);
  EXPECT_TRUE((*stores_->Open(t))->training().ListVersions()->empty());
  EXPECT_FALSE(store::IsFinal((*stores_->Open(t))->training().GetJob(sub->job_id)->status));
  EXPECT_EQ((*queue_->Get(sub->job_id))->holder, "other");  // still the other node's
  node->Shutdown();
}

TEST_F(TrainingServiceTest, CancelFromAnyNodeAndAStoppingNodeHandsItsJobBack) {
  auto gateway = Node("gw", false);
  std::string t = Tenant(600);  // 1000 epochs of it take long enough to act on one mid-run
  auto waiting = gateway->Submit(t, Quick());
  ASSERT_OK(waiting);
  auto cancelled = gateway->Cancel(t, waiting->job_id);  // nobody took it yet: ends at once
  ASSERT_OK(cancelled);
  EXPECT_EQ(json::parse(*cancelled).as_object()["status"].as_string(), "cancelled");
  EXPECT_EQ(StatusIn(*gateway, t, waiting->job_id), "cancelled");

  // A long job on one node, cancelled from another.
  auto ml = Node("ml", true, 400);
  auto running = gateway->Submit(t, Quick(1000));
  ASSERT_OK(running);
  ASSERT_TRUE(Eventually([&] { return StatusIn(*gateway, t, running->job_id) == "training"; }));
  auto flagged = gateway->Cancel(t, running->job_id);
  ASSERT_OK(flagged);
  EXPECT_TRUE(json::parse(*flagged).as_object()["cancel_requested"].as_bool());
  ASSERT_TRUE(Eventually([&] { return StatusIn(*gateway, t, running->job_id) == "cancelled"; }));

  // A node stopping mid-job hands it back: the next node starts it again at once.
  auto again = gateway->Submit(t, Quick(1000));
  ASSERT_OK(again);
  ASSERT_TRUE(Eventually([&] { return StatusIn(*gateway, t, again->job_id) == "training"; }));
  ml->Shutdown();
  EXPECT_EQ(StatusIn(*gateway, t, again->job_id), "queued");
  auto q = queue_->Get(again->job_id);
  ASSERT_TRUE(q->has_value());
  EXPECT_EQ((*q)->holder, "");
  auto next = Node("ml2", true, 400);
  ASSERT_TRUE(Eventually([&] { return StatusIn(*gateway, t, again->job_id) == "training"; }));
  ASSERT_OK(gateway->Cancel(t, again->job_id));
  ASSERT_TRUE(Eventually([&] { return StatusIn(*gateway, t, again->job_id) == "cancelled"; }));
  next->Shutdown();
  gateway->Shutdown();
}

TEST_F(TrainingServiceTest, TooLittleDataIsRefusedAtSubmit) {
  Start();
  std::string t = NewUuid();
  ASSERT_OK(stores_->Create(t));
  auto r = service_->Submit(t, Quick());
  EXPECT_EQ(r.status().code(), StatusCode::kUnprocessable);
  JobRequest inc = Quick();
  inc.mode = "incremental";
  std::string data = Tenant();
  EXPECT_EQ(service_->Submit(data, inc).status().code(), StatusCode::kUnprocessable);
}

TEST_F(TrainingServiceTest, RetentionKeepsDeployedRecentAndTheLastN) {
  RegistryOptions ro;
  ro.keep_versions = 2;
  ro.min_age_days = 30;
  Start(1, ro);
  std::string t = Tenant();
  std::vector<std::string> versions;
  for (int i = 0; i < 4; ++i) {
    JobRequest r = Quick(2);
    r.auto_deploy = i == 0;  // v1 stays deployed
    auto s = service_->Submit(t, r);
    ASSERT_OK(s);
    ASSERT_TRUE(Eventually([&] { return Finished(t, s->job_id); }));
    versions.push_back(std::string(Doc(t, s->job_id)["model_version"].as_string()));
    clock_.AdvanceSeconds(40 * 86400);  // each version is old by the next one
  }
  auto listed = (*stores_->Open(t))->training().ListVersions();
  ASSERT_OK(listed);
  std::vector<std::string> kept;
  for (const auto& v : *listed) kept.push_back(v.version);
  // v4 and v3 (the last N = 2), v1 (deployed); v2, 80 days old, removed with its files.
  EXPECT_EQ(kept, (std::vector<std::string>{versions[3], versions[2], versions[0]}));
  EXPECT_FALSE(std::filesystem::exists(BlobDir(t) + "/models/" + versions[1] + "/model.embr"));
  EXPECT_TRUE(std::filesystem::exists(BlobDir(t) + "/models/" + versions[0] + "/model.embr"));
}

TEST_F(TrainingServiceTest, ADamagedDeployedModelFallsBackToThePreviousGoodVersion) {
  Start();
  std::string t = Tenant();
  std::vector<std::string> versions;
  for (int i = 0; i < 2; ++i) {
    JobRequest r = Quick(3);
    r.deploy_tolerance = 1;  // always passes the gate
    auto s = service_->Submit(t, r);
    ASSERT_OK(s);
    ASSERT_TRUE(Eventually([&] { return Finished(t, s->job_id); }));
    versions.push_back(std::string(Doc(t, s->job_id)["model_version"].as_string()));
  }
  ASSERT_EQ(deployed_.Get(t)->version, versions[1]);
  // Damage the deployed model's index, then load as a restart would.
  std::string path = BlobDir(t) + "/models/" + versions[1] + "/index.faiss";
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(40);
  f.put('\x7f');
  f.close();
  serving::DeployedModels fresh;
  store::TenantStores* st = stores_.get();
  blob::TenantBlobStores* b = blobs_.get();
  ModelRegistry registry(st, [b](const std::string& id) { return b->Open(id); }, &fresh, &clock_, {});
  fresh.SetLoader([&](const std::string& id) { return registry.ReadDeployed(id, **stores_->Open(id)); }, 0);
  ASSERT_NE(fresh.Get(t), nullptr);  // read on first use, as after a restart
  EXPECT_EQ(fresh.Get(t)->version, versions[0]);
  auto problems = fresh.Problems();
  ASSERT_EQ(problems.count(t), 1u);
  EXPECT_NE(problems[t].find(versions[1]), std::string::npos);
  // Deploying it by hand is refused and changes nothing.
  auto d = registry.Deploy(t, **stores_->Open(t), versions[1], "by hand");
  EXPECT_EQ(d.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(fresh.Get(t)->version, versions[0]);
}

TEST_F(TrainingServiceTest, StopTenantReturnsOnlyOnceItsJobHasEnded) {
  Start();
  std::string t = Tenant();
  JobRequest slow = Quick(1000);
  slow.options.batch_size = 16;
  auto job = service_->Submit(t, slow);
  ASSERT_OK(job);
  ASSERT_TRUE(Eventually([&] { return Status(t, job->job_id) == "training"; }));
  ASSERT_OK(service_->StopTenant(t));
  // Ended already when StopTenant returns, not merely asked to end.
  EXPECT_EQ(Status(t, job->job_id), "cancelled");
  ASSERT_OK(service_->StopTenant(t));  // nothing left to stop
}

TEST(VersionNameTest, MajorMinorAndUtcDate) {
  EXPECT_EQ(VersionName(1, 0, 1705312800000), "v1.0_20240115");
  EXPECT_EQ(VersionName(12, 3, 0), "v12.3_19700101");
}


// ---- Retraining without a person (training/retrain_scheduler.h) over the
// same stores and service.
class RetrainSchedulerTest : public TrainingServiceTest {
 protected:
  void SetUp() override {
    TrainingServiceTest::SetUp();
    Start();
    tenant_ = Tenant();
    settings_ = R"({"training":{"embedding_dim":8,"num_layers":1,"epochs":10,"batch_size":64,"eval_every":5},
                    "retrain_min_new_interactions":5})";
    scheduler_ = New();
    scheduler_->Watch(tenant_);
  }
  std::unique_ptr<RetrainScheduler> New() {
    RetrainDeps d;
    d.training = service_.get();
    d.stores = stores_.get();
    d.clock = &clock_;
    d.settings_json = [this](const std::string&) -> StatusOr<std::string> { return settings_; };
    d.rate = [this](const std::string&, const std::string&, int64_t from, int64_t) -> StatusOr<OnlineRate> {
      return from < clock_.NowMillis() - 86'400'000 ? rate_then_ : rate_now_;
    };
    return std::make_unique<RetrainScheduler>(d, RetrainOptions{});
  }
  // Runs a job to its end; its progress document.
  json::object Finish(const std::string& job) {
    EXPECT_TRUE(Eventually([&] { return Finished(tenant_, job); }));
    return Doc(tenant_, job);
  }
  void Track(int n) {
    auto s = stores_->Open(tenant_);
    for (int i = 0; i < n; ++i, ++tracked_) {  // each a new interaction (none a duplicate)
      store::TrackEvent ev;
      ev.user_id = "U" + std::to_string(tracked_ % 60);
      ev.item_id = "P" + std::to_string(tracked_ % 40);
      ev.type = "view";
      ev.ts_ms = clock_.NowMillis() + tracked_;
      ASSERT_OK((*s)->Track({ev}));
    }
  }
  std::optional<std::string> RunIfDue() {
    auto job = scheduler_->RunIfDue(tenant_);
    EXPECT_OK(job);
    return job.ok() ? *job : std::nullopt;
  }

  std::string tenant_, settings_;
  OnlineRate rate_then_, rate_now_;
  int tracked_ = 0;
  std::unique_ptr<RetrainScheduler> scheduler_;
};

TEST_F(RetrainSchedulerTest, NewInteractionsTriggerOneIncrementalRunAsTheSystemAndARestartDoesNotDoubleIt) {
  settings_ = R"({"training":{"embedding_dim":16},"retrain_min_new_interactions":5})";
  EXPECT_FALSE(RunIfDue());  // no deployed model: the first is trained by request
  // One model, continued by the incremental run (the auto search may choose a
  // blend on this data, which is trained again in full: the next test).
  JobRequest single = Quick();
  single.model_type = ml::ModelType::kLightGcn;
  auto first = service_->Submit(tenant_, single);
  ASSERT_OK(first);
  auto manual = Finish(first->job_id);
  ASSERT_EQ(manual["deployment_status"].as_string(), "deployed") << json::serialize(manual);
  EXPECT_EQ(manual["started_by"].as_string(), "api");
  EXPECT_EQ(manual["trigger"].as_object().at("reason").as_string(), "manual");
  clock_.AdvanceMillis(kMinRetrainGapMs);
  Track(4);
  EXPECT_FALSE(RunIfDue());  // below the threshold
  Track(1);
  auto job = RunIfDue();
  ASSERT_TRUE(job);
  auto doc = Finish(*job);
  EXPECT_EQ(doc["status"].as_string(), "completed");
  EXPECT_EQ(doc["started_by"].as_string(), "system");
  EXPECT_EQ(doc["training_mode"].as_string(), "incremental");
  // The deployed model's hyperparameters, not the settings' defaults (embedding_dim 16).
  EXPECT_EQ(doc["hyperparameters"].as_object().at("embedding_dim").as_int64(), 8);
  const auto& trigger = doc["trigger"].as_object();
  EXPECT_EQ(trigger.at("reason").as_string(), "new_interactions");
  EXPECT_EQ(trigger.at("new_interactions").as_int64(), 5);
  EXPECT_EQ(trigger.at("threshold").as_int64(), 5);
  clock_.AdvanceMillis(kMinRetrainGapMs);
  EXPECT_FALSE(RunIfDue());  // counted from the new job's data
  scheduler_ = New();        // a restart: nothing kept but the stores
  EXPECT_FALSE(RunIfDue());
  Track(5);
  EXPECT_TRUE(RunIfDue());
}

TEST_F(RetrainSchedulerTest, TheIntervalAndAMetricDropTriggerRunsAndEveryFewRunsOneIsFull) {
  settings_ = R"({"training":{"embedding_dim":8,"num_layers":1,"epochs":10,"batch_size":64,"eval_every":5},
                  "full_retrain_every":2})";
  // One model, continued by the incremental run (the auto search may choose a
  // blend on this data, which is trained again in full: the next test).
  JobRequest single = Quick();
  single.model_type = ml::ModelType::kLightGcn;
  auto first = service_->Submit(tenant_, single);
  ASSERT_OK(first);
  Finish(first->job_id);
  clock_.AdvanceMillis(6 * 86'400'000LL);
  EXPECT_FALSE(RunIfDue());
  clock_.AdvanceMillis(86'400'000LL + RetrainJitterMs(tenant_, RetrainSettings{}));
  auto job = RunIfDue();
  ASSERT_TRUE(job);
  auto doc = Finish(*job);
  EXPECT_EQ(doc["trigger"].as_object().at("reason").as_string(), "interval");
  EXPECT_EQ(doc["training_mode"].as_string(), "incremental");
  // Two days on, the new version's click-through fell by a fifth from its first day.
  clock_.AdvanceMillis(2 * 86'400'000LL);
  rate_then_ = {5000, 500};
  rate_now_ = {5000, 480};
  EXPECT_FALSE(RunIfDue());  // 4 %: within the 10 % allowed
  rate_now_ = {5000, 400};
  job = RunIfDue();
  ASSERT_TRUE(job);
  doc = Finish(*job);
  EXPECT_EQ(doc["trigger"].as_object().at("reason").as_string(), "metric_drop");
  EXPECT_EQ(doc["training_mode"].as_string(), "full");  // every second scheduled run
  EXPECT_DOUBLE_EQ(doc["trigger"].as_object().at("drop").as_double(), 0.2);
  // Switched off: nothing, however due — but recommended (to the shop, in tracking's answers).
  EXPECT_FALSE(scheduler_->Recommended(tenant_));
  settings_ = R"({"auto_retrain":false})";
  clock_.AdvanceMillis(30 * 86'400'000LL);
  EXPECT_FALSE(RunIfDue());
  EXPECT_TRUE(scheduler_->Recommended(tenant_));
}

TEST_F(RetrainSchedulerTest, ADeployedBlendIsSearchedForAgainInFull) {
  auto first = service_->Submit(tenant_, Quick());
  ASSERT_OK(first);
  Finish(first->job_id);
  // The deployed version as the auto search leaves a blend (its job's request says auto).
  auto s = stores_->Open(tenant_);
  ASSERT_OK(s);
  auto versions = (*s)->training().ListVersions();
  ASSERT_OK(versions);
  for (auto v : *versions) {
    if (v.status != store::VersionStatus::kDeployed) continue;
    v.model_type = "blend";
    v.params_json = R"({"epochs":1,"blend":[{"model_type":"als","weight":0.7},{"model_type":"ease","weight":0.3}]})";
    ASSERT_OK((*s)->training().PutVersion(v));
  }
  clock_.AdvanceMillis(kMinRetrainGapMs);
  Track(5);
  auto job = RunIfDue();
  ASSERT_TRUE(job);
  auto doc = Finish(*job);
  EXPECT_EQ(doc["model_type"].as_string(), "auto");
  EXPECT_EQ(doc["training_mode"].as_string(), "full");
  EXPECT_EQ(doc["trigger"].as_object().at("training_mode_reason").as_string(),
            "the deployed blend is searched for again (auto, full)");
  EXPECT_EQ(doc["status"].as_string(), "completed") << json::serialize(doc);
}

TEST_F(RetrainSchedulerTest, ABlendItsRequestNamedIsTrainedAgainAsThatBlend) {
  auto r = ParseJobRequest(json::parse(R"({"model_type":"blend","hyperparameters":{"blend":[
      {"model_type":"als","weight":0.5,"hyperparameters":{"embedding_dim":8,"epochs":4}},
      {"model_type":"item_knn","weight":0.5,"hyperparameters":{"embedding_dim":8}}]}})")
                               .as_object(),
                           settings_);
  ASSERT_OK(r);
  auto first = service_->Submit(tenant_, *r);
  ASSERT_OK(first);
  ASSERT_EQ(Finish(first->job_id)["deployment_status"].as_string(), "deployed");
  clock_.AdvanceMillis(kMinRetrainGapMs);
  Track(5);
  auto job = RunIfDue();
  ASSERT_TRUE(job);
  auto doc = Finish(*job);
  EXPECT_EQ(doc["status"].as_string(), "completed") << json::serialize(doc);
  EXPECT_EQ(doc["model_type"].as_string(), "blend");
  EXPECT_EQ(doc["training_mode"].as_string(), "full");
  EXPECT_EQ(doc["trigger"].as_object().at("training_mode_reason").as_string(),
            "the blend its request named is trained again (full)");
  const auto& parts = doc["hyperparameters"].as_object().at("blend").as_array();
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[1].as_object().at("model_type").as_string(), "item_knn");
}

TEST_F(RetrainSchedulerTest, APassTakesTheTenantsWhoseDataChangedAndNeverTwoJobsForOne) {
  auto first = service_->Submit(tenant_, Quick());
  ASSERT_OK(first);
  Finish(first->job_id);
  clock_.AdvanceMillis(kMinRetrainGapMs);
  scheduler_->Pass();  // looks at every watched tenant once: nothing due
  EXPECT_EQ(service_->List(tenant_, 10)->size(), 1u);
  Track(5);
  scheduler_->DataChanged(tenant_);
  scheduler_->Pass();
  auto jobs = service_->List(tenant_, 10);
  ASSERT_OK(jobs);
  ASSERT_EQ(jobs->size(), 2u);
  scheduler_->DataChanged(tenant_);
  scheduler_->Pass();  // its job waits or runs: not another
  EXPECT_EQ(service_->List(tenant_, 10)->size(), 2u);
  const std::string job(json::parse(jobs->front()).as_object()["job_id"].as_string());
  Finish(job);
}

}  // namespace
}  // namespace embedrec::training
