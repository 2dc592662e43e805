// The training service: job queue, workers, progress documents, watchers,
// persistence and recovery. The steps of a job are in job_runner.cc.
#include "training/training_service.h"

#include <spdlog/spdlog.h>

#include <boost/json/parse.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <set>
#include <thread>


#include "common/json_text.h"
#include "common/random.h"
#include "common/thread_priority.h"
#include "common/time_format.h"
#include "training/training_quota.h"
#include "training/job_runner.h"
#include "training/auto_search.h"
#include "training/speed_estimate.h"
#include "training/training_data.h"

namespace embedrec::training {
namespace json = boost::json;

namespace {

// The job's trigger as its record shows it ({"reason": "manual"} unless the request says).
json::object TriggerOf(const JobRequest& r) {
  if (!r.trigger_json.empty()) {
    boost::system::error_code ec;
    json::value v = json::parse(r.trigger_json, ec);
    if (!ec && v.is_object()) return v.as_object();
  }
  return json::object{{"reason", "manual"}};
}

struct Job {
  std::string tenant_id, job_id;
  JobRequest request;
  std::atomic<bool> cancel{false};
  std::atomic<bool> interrupted{false};  // set by Shutdown
  std::atomic<bool> lost{false};         // another node claimed it (its lease ran out): not ours to record

  std::mutex mu;  // guards the fields below
  store::JobRecord record;
  json::object doc;
  std::map<uint64_t, TrainingService::WatchFn> watchers;
  std::chrono::steady_clock::time_point last_persist{};
};

class JobSubscription final : public Subscription {
 public:
  JobSubscription(std::shared_ptr<Job> job, uint64_t id) : job_(std::move(job)), id_(id) {}
  ~JobSubscription() override {
    std::lock_guard lock(job_->mu);
    job_->watchers.erase(id_);
  }

 private:
  std::shared_ptr<Job> job_;
  uint64_t id_;
};

class TrainingServiceImpl final : public TrainingService {
 public:
  TrainingServiceImpl(store::TenantStores* tenants, ModelRegistry::OpenBlobs open_blobs,
                      serving::DeployedModels* deployed, const Clock* clock, ServiceOptions o)
      : tenants_(tenants), deployed_(deployed), clock_(clock), options_(o),
        registry_(tenants, std::move(open_blobs), deployed, clock, o.registry) {
    for (int i = 0; i < std::max(1, o.workers); ++i) {
      workers_.emplace_back([this] { WorkLoop(); });
    }
    if (o.queue) queue_thread_ = std::thread([this] { QueueLoop(); });
  }
  ~TrainingServiceImpl() override { Shutdown(); }

  ModelRegistry& registry() override { return registry_; }

  StatusOr<Submitted> Submit(const std::string& tenant_id, const JobRequest& asked) override {
    JobRequest request = asked;
    {
      std::lock_guard lock(mu_);
      if (stopping_) return Status::Unavailable("the server is stopping; submit again after restart");
      // A job whose end is already visible (its client saw "completed") no
      // longer holds the tenant, even while it writes its last record.
      if (auto it = active_.find(tenant_id); it != active_.end() && !Ended(*it->second)) {
        return Busy(*it->second);
      }
      if (!reserved_.insert(tenant_id).second) {
        return Status(StatusCode::kFailedPrecondition,
                      "the tenant is submitting another training job right now", "job_running");
      }
    }
    // The tenant's slot is reserved until the job is queued or refused.
    struct Release {
      TrainingServiceImpl* self;
      const std::string& tenant;
      ~Release() {
        std::lock_guard lock(self->mu_);
        self->reserved_.erase(tenant);
      }
    } release{this, tenant_id};
    ASSIGN_OR_RETURN(auto store, tenants_->Open(tenant_id));
    if (options_.training_minutes_per_day) {
      RETURN_IF_ERROR(CheckTrainingQuota(store->training(), options_.training_minutes_per_day(tenant_id),
                                         clock_->NowMillis()));
    }
    if (options_.queue) RETURN_IF_ERROR(CheckQueue(tenant_id, *store));
    ASSIGN_OR_RETURN(auto counts, store->CountInteractions());
    if (counts.events < kMinPairs) {
      return Status::Unprocessable(
          "not enough data to train: the tenant has " + std::to_string(counts.events) +
              " interactions (at least " + std::to_string(kMinPairs) +
              " are needed); upload interactions first",
          {{"interactions", std::to_string(counts.events)}, {"minimum", std::to_string(kMinPairs)}});
    }
    const int64_t pairs = counts.pairs;
    ASSIGN_OR_RETURN(const int64_t data_position, store->LatestEventSeq());
    ResolveBatchSize(&request, pairs);
    if (request.mode == "incremental" && !deployed_->Get(tenant_id)) {
      return Status::Unprocessable(
          "incremental training needs a deployed model; train in full mode first",
          {{"field", "training_mode"}});
    }
    const DataShape shape{
        .events = counts.events, .pairs = pairs, .users = counts.users, .items = counts.items, .types = counts.types};
    const bool searches = !request.model_type && request.mode != "incremental";
    const JobSteps steps = searches ? AutoJobSteps(request, shape, speed_) : speed_.Job(request, shape);
    double estimate = steps.Total();
    if (request.model_type && ml::IsGradientTrained(*request.model_type) && request.time_budget_seconds > 0) {
      estimate = std::min(estimate, request.time_budget_seconds + 0.5);  // the fit and refit stop within it
    }
    auto job = std::make_shared<Job>();
    job->tenant_id = tenant_id;
    job->job_id = NewId("job");
    job->request = request;
    const int64_t now = clock_->NowMillis();
    const std::string model_type(ModelChoiceName(request.model_type));
    job->record = {job->job_id, store::JobStatus::kQueued, model_type, request.mode,
                   JsonText(RequestJson(request)), "{}", now, now};
    job->doc = json::object{
        {"job_id", job->job_id},
        {"status", store::JobStatusName(store::JobStatus::kQueued)},
        {"progress", 0.0},
        {"model_type", model_type},
        {"training_mode", request.mode},
        {"auto_deploy", request.auto_deploy},
        {"hyperparameters", HyperparametersJson(request)},
        {"current_epoch", 0},
        {"total_epochs", request.options.epochs},
        {"metrics", json::object()},
        {"created_at", FormatRfc3339Millis(now)},
        {"estimated_duration_seconds", estimate},
        {"estimated_phase_seconds", steps.Json(request.validation_split > 0)},
        {"estimated_completion", FormatRfc3339((now + static_cast<int64_t>(estimate * 1000)) / 1000)},
        {"progress_url", "/api/v1/training/" + job->job_id + "/progress"},
        {"events_url", "/api/v1/training/" + job->job_id + "/events"},
        {"started_by", request.started_by.empty() ? "api" : request.started_by},
        {"trigger", TriggerOf(request)},
        // The data it sees begins after this event (retrain_scheduler.h counts from it).
        {"data_position", data_position}};
    job->record.state_json = JsonText(job->doc);
    Submitted out;
    out.job_id = job->job_id;
    out.estimated_seconds = estimate;
    out.estimated_steps = steps.Json(request.validation_split > 0);
    out.request = request;
    // With a shared queue the job is queued (held by this node, so no other
    // node claims it before its record exists) before its record is written.
    bool here = true;
    if (options_.queue) {
      {
        std::lock_guard lock(mu_);
        here = options_.takes_jobs && running_ + static_cast<int>(queue_.size()) < static_cast<int>(workers_.size());
        pending_.insert(job->job_id);
      }
      Status queued = options_.queue->Enqueue(tenant_id, job->job_id, options_.node, now, options_.job_lease_ms);
      if (!queued.ok()) {
        Unpend(job->job_id);
        if (queued.code() == StatusCode::kAlreadyExists) {
          auto q = options_.queue->OfTenant(tenant_id);
          return QueuedElsewhere(q.ok() && *q ? (*q)->job_id : "", *store);
        }
        return queued;
      }
    }
    if (Status put = store->training().PutJob(job->record); !put.ok()) {
      if (options_.queue) {
        (void)options_.queue->Remove(job->job_id, options_.node);
        Unpend(job->job_id);
      }
      return put;
    }
    if (!here) {
      // No free worker here: any node with one takes it.
      Status released = options_.queue->Release(job->job_id, options_.node);
      Unpend(job->job_id);
      if (!released.ok()) spdlog::warn("training job {} not handed to other nodes: {}", job->job_id, released.ToString());
      auto ahead = options_.queue->WaitingAhead(job->job_id);
      out.status = "queued";
      out.queue_position = ahead.ok() ? *ahead : 0;
      spdlog::info("tenant {}: training job {} queued for any node ({} {}, ~{:.1f} s)", tenant_id, job->job_id,
                   model_type, request.mode, estimate);
      return out;
    }
    {
      std::lock_guard lock(mu_);
      pending_.erase(job->job_id);
      active_[tenant_id] = job;
      jobs_[job->job_id] = job;
      out.queue_position = static_cast<int>(queue_.size());
      out.status = running_ + static_cast<int>(queue_.size()) < static_cast<int>(workers_.size())
                       ? "started" : "queued";
      queue_.push_back(job);
    }
    cv_.notify_one();
    spdlog::info("tenant {}: training job {} queued ({} {}, ~{:.1f} s)", tenant_id, job->job_id,
                 model_type, request.mode, estimate);
    return out;
  }

  StatusOr<std::string> Progress(const std::string& tenant_id, const std::string& job_id) override {
    if (auto job = Live(tenant_id, job_id)) {
      std::lock_guard lock(job->mu);
      return JsonText(job->doc);
    }
    ASSIGN_OR_RETURN(auto store, tenants_->Open(tenant_id));
    ASSIGN_OR_RETURN(auto rec, store->training().GetJob(job_id));
    return rec.state_json;
  }

  StatusOr<std::vector<std::string>> List(const std::string& tenant_id, int limit) override {
    ASSIGN_OR_RETURN(auto store, tenants_->Open(tenant_id));
    ASSIGN_OR_RETURN(auto recs, store->training().ListJobs({}, limit));
    std::vector<std::string> out;
    for (const auto& r : recs) {
      auto job = Live(tenant_id, r.job_id);
      if (job) {
        std::lock_guard lock(job->mu);
        out.push_back(JsonText(job->doc));
      } else {
        out.push_back(r.state_json);
      }
    }
    return out;
  }

  StatusOr<std::string> Cancel(const std::string& tenant_id, const std::string& job_id) override {
    auto job = Live(tenant_id, job_id);
    if (!job) {
      RETURN_IF_ERROR(Progress(tenant_id, job_id).status());  // kNotFound when unknown
      if (options_.queue) return CancelElsewhere(tenant_id, job_id);
      return Status(StatusCode::kFailedPrecondition,
                    "training job " + job_id + " has already finished", "job_finished");
    }
    bool was_queued = false;
    {
      std::lock_guard lock(mu_);
      for (auto it = queue_.begin(); it != queue_.end(); ++it) {
        if (*it == job) {
          queue_.erase(it);
          was_queued = true;
          break;
        }
      }
    }
    job->cancel = true;
    if (was_queued) {
      Finish(job, store::JobStatus::kCancelled, "cancelled", "cancelled before it started");
    } else {
      Update(*job, [](json::object& d) { d["cancel_requested"] = true; }, false);
    }
    std::lock_guard lock(job->mu);
    return JsonText(job->doc);
  }

  StatusOr<std::unique_ptr<Subscription>> Watch(const std::string& tenant_id,
                                                const std::string& job_id, WatchFn fn) override {
    auto job = Live(tenant_id, job_id);
    if (!job) {
      ASSIGN_OR_RETURN(std::string doc, Progress(tenant_id, job_id));
      if (options_.queue && QueueHolds(job_id)) {
        // Another node's job: followed through its stored record.
        fn(doc, false);
        auto watch = std::make_shared<RemoteWatch>(RemoteWatch{tenant_id, job_id, std::move(fn), doc});
        const uint64_t id = next_watch_id_.fetch_add(1);
        std::lock_guard lock(mu_);
        remote_watches_[id] = watch;
        return std::unique_ptr<Subscription>(std::make_unique<RemoteSubscription>(this, id));
      }
      fn(doc, true);
      return std::unique_ptr<Subscription>();
    }
    std::lock_guard lock(job->mu);
    bool done = store::IsFinal(job->record.status);
    fn(JsonText(job->doc), done);
    if (done) return std::unique_ptr<Subscription>();
    uint64_t id = next_watch_id_.fetch_add(1);
    job->watchers.emplace(id, std::move(fn));
    return std::unique_ptr<Subscription>(std::make_unique<JobSubscription>(job, id));
  }

  Status Recover(const std::string& tenant_id) override {
    ASSIGN_OR_RETURN(auto store, tenants_->Open(tenant_id));
    // The deployed model is not read here: serving reads it on the tenant's
    // first request (serving::DeployedModels' loader).
    ASSIGN_OR_RETURN(auto open, store->training().ListJobs(store::OpenJobStatuses(), 1000));
    // Oldest first, so the queue keeps the original order.
    for (auto it = open.rbegin(); it != open.rend(); ++it) {
      store::JobRecord rec = *it;
      if (options_.queue) {
        // The queue's jobs are claimed by the nodes; the rest are the remains
        // of a node that stopped before the queue held them.
        if (Ours(rec.job_id) || QueueHolds(rec.job_id)) continue;
        RETURN_IF_ERROR(FailInterrupted(*store, rec, "the node that held the job stopped; nothing was deployed "
                                                      "from it; submit the training again"));
        continue;
      }
      if (rec.status != store::JobStatus::kQueued) {
        RETURN_IF_ERROR(FailInterrupted(*store, rec,
                                        "the server stopped while the job was " +
                                            std::string(store::JobStatusName(rec.status)) +
                                            "; nothing was deployed from it; submit the training again"));
        continue;
      }
      auto made = JobFromRecord(tenant_id, rec);
      if (!made.ok()) {
        RETURN_IF_ERROR(FailInterrupted(*store, rec, made.status().message()));
        continue;
      }
      auto job = *made;
      std::lock_guard lock(mu_);
      if (active_.count(tenant_id)) continue;  // one per tenant
      active_[tenant_id] = job;
      jobs_[job->job_id] = job;
      queue_.push_back(job);
      cv_.notify_one();
      spdlog::info("tenant {}: training job {} queued again after a restart", tenant_id, rec.job_id);
    }
    return Status::Ok();
  }

  Status StopTenant(const std::string& tenant_id) override {
    std::shared_ptr<Job> job;
    {
      std::lock_guard lock(mu_);
      auto it = active_.find(tenant_id);
      if (it != active_.end()) job = it->second;
    }
    if (!job) {
      // Another node's job learns of it at its next renewal (and fails on the dropped data at worst).
      if (options_.queue) {
        if (auto q = options_.queue->OfTenant(tenant_id); q.ok() && *q) (void)options_.queue->RequestCancel((*q)->job_id);
      }
      return Status::Ok();
    }
    (void)Cancel(tenant_id, job->job_id);
    std::unique_lock lock(mu_);
    if (finished_cv_.wait_for(lock, std::chrono::seconds(60),
                              [&] { return !jobs_.count(job->job_id); })) {
      return Status::Ok();
    }
    return Status::Unavailable("the tenant's training job " + job->job_id +
                               " did not stop within a minute; try again");
  }

  void Shutdown() override {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      stopping_ = true;
      for (auto& [id, job] : jobs_) {
        job->interrupted = true;
        job->cancel = true;
      }
    }
    cv_.notify_all();
    queue_cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
    if (queue_thread_.joinable()) queue_thread_.join();
    if (options_.queue) {
      // Claimed jobs no worker started go back to the queue for other nodes.
      std::vector<std::shared_ptr<Job>> left;
      {
        std::lock_guard lock(mu_);
        left.assign(queue_.begin(), queue_.end());
        queue_.clear();
      }
      for (const auto& job : left) HandBack(job);
    }
  }

  void Unwatch(uint64_t id) {
    std::lock_guard lock(mu_);
    remote_watches_.erase(id);
  }

 private:
  // Records an open job that nobody runs any more as failed ("interrupted").
  Status FailInterrupted(store::TenantStore& store, store::JobRecord rec, const std::string& why) {
    boost::system::error_code ec;
    json::value doc = json::parse(rec.state_json, ec);
    if (ec || !doc.is_object()) doc = json::object{{"job_id", rec.job_id}};
    doc.as_object()["status"] = "failed";
    doc.as_object()["error"] = json::object{{"reason", "interrupted"}, {"message", why}};
    doc.as_object()["finished_at"] = FormatRfc3339Millis(clock_->NowMillis());
    doc.as_object().erase("estimated_completion");
    rec.status = store::JobStatus::kFailed;
    rec.state_json = JsonText(doc);
    rec.updated_at_ms = clock_->NowMillis();
    RETURN_IF_ERROR(store.training().PutJob(rec));
    spdlog::warn("tenant {}: training job {} failed: {}", store.tenant_id(), rec.job_id, why);
    return Status::Ok();
  }

  // The job described by a stored record (its request read back).
  StatusOr<std::shared_ptr<Job>> JobFromRecord(const std::string& tenant_id, const store::JobRecord& rec) {
    boost::system::error_code ec;
    json::value doc = json::parse(rec.state_json, ec);
    if (ec || !doc.is_object()) doc = json::object{{"job_id", rec.job_id}};
    boost::system::error_code pec;
    json::value req = json::parse(rec.request_json, pec);
    auto parsed = !pec && req.is_object() ? ParseJobRequest(req.as_object(), "{}")
                                          : StatusOr<JobRequest>(Status::Internal("unreadable JSON"));
    if (!parsed.ok()) {
      return Status::Internal("its stored request cannot be read (" + parsed.status().message() + ")");
    }
    auto job = std::make_shared<Job>();
    job->tenant_id = tenant_id;
    job->job_id = rec.job_id;
    job->record = rec;
    job->doc = std::move(doc.as_object());
    job->request = *parsed;
    return job;
  }

  bool Ours(const std::string& job_id) {
    std::lock_guard lock(mu_);
    return jobs_.count(job_id) > 0 || pending_.count(job_id) > 0;
  }
  // The shared queue holds the job (true when it cannot tell: never fail a live job).
  bool QueueHolds(const std::string& job_id) {
    auto q = options_.queue->Get(job_id);
    return !q.ok() || q->has_value();
  }
  void Unpend(const std::string& job_id) {
    std::lock_guard lock(mu_);
    pending_.erase(job_id);
  }

  // With a queue, at submit: 409 while the tenant has a job in it; open
  // records the queue does not hold (a node stopped before handing them
  // back) are failed on the way.
  Status CheckQueue(const std::string& tenant_id, store::TenantStore& store) {
    ASSIGN_OR_RETURN(auto queued, options_.queue->OfTenant(tenant_id));
    if (queued) {
      // A job whose record has ended no longer holds the tenant: its node
      // wrote the end and is about to take it out of the queue (Finish: the
      // record first, so that no open record is ever without its entry).
      // Found under load: a client saw "cancelled" and was refused a new job.
      auto rec = store.training().GetJob(queued->job_id);
      if (rec.ok() && store::IsFinal(rec->status)) {
        RETURN_IF_ERROR(options_.queue->Remove(queued->job_id, queued->holder));
        ASSIGN_OR_RETURN(queued, options_.queue->OfTenant(tenant_id));
      }
    }
    if (queued) return QueuedElsewhere(queued->job_id, store);
    ASSIGN_OR_RETURN(auto open, store.training().ListJobs(store::OpenJobStatuses(), 100));
    for (const auto& rec : open) {
      if (Ours(rec.job_id)) continue;
      if (QueueHolds(rec.job_id)) return QueuedElsewhere(rec.job_id, store);  // queued meanwhile
      RETURN_IF_ERROR(FailInterrupted(store, rec, "the node that held the job stopped; nothing was deployed from "
                                                   "it; submit the training again"));
    }
    return Status::Ok();
  }

  // 409 job_running naming the tenant's queued job (its status from its record).
  Status QueuedElsewhere(const std::string& job_id, store::TenantStore& store) {
    std::string status = "queued";
    if (auto rec = store.training().GetJob(job_id); rec.ok()) status = store::JobStatusName(rec->status);
    return Status(StatusCode::kFailedPrecondition,
                  "the tenant already has training job " + job_id + " (" + status + "); wait for it or cancel it",
                  "job_running", {{"job_id", job_id}, {"status", status}});
  }

  // Cancels a job this node does not hold: a waiting one at once, one that
  // another node runs when that node renews its lease.
  StatusOr<std::string> CancelElsewhere(const std::string& tenant_id, const std::string& job_id) {
    ASSIGN_OR_RETURN(auto outcome, options_.queue->RequestCancel(job_id));
    ASSIGN_OR_RETURN(auto store, tenants_->Open(tenant_id));
    ASSIGN_OR_RETURN(auto rec, store->training().GetJob(job_id));
    json::object doc = ParseJsonObject(rec.state_json);
    switch (outcome) {
      case store::CancelOutcome::kRemoved:
        doc["status"] = store::JobStatusName(store::JobStatus::kCancelled);
        doc["error"] = json::object{{"reason", "cancelled"}, {"message", "cancelled before it started"}};
        doc["finished_at"] = FormatRfc3339Millis(clock_->NowMillis());
        doc.erase("estimated_completion");
        rec.status = store::JobStatus::kCancelled;
        rec.state_json = JsonText(doc);
        rec.updated_at_ms = clock_->NowMillis();
        RETURN_IF_ERROR(store->training().PutJob(rec));
        return rec.state_json;
      case store::CancelOutcome::kFlagged:
        doc["cancel_requested"] = true;
        return JsonText(doc);
      case store::CancelOutcome::kAbsent:
        break;
    }
    return Status(StatusCode::kFailedPrecondition, "training job " + job_id + " has already finished",
                  "job_finished");
  }

  // The node is stopping: the job goes back to the queue (its record to
  // "queued") for another node to run from the start.
  void HandBack(const std::shared_ptr<Job>& job) {
    Update(*job, [&](json::object& d) {
      d["status"] = store::JobStatusName(store::JobStatus::kQueued);
      d["progress"] = 0.0;
      d["current_epoch"] = 0;
      d.erase("curve");
      d["handed_back"] = json::object{{"reason", "node_stopped"},
                                      {"message", "the node running it stopped; another node starts it again"},
                                      {"at", FormatRfc3339Millis(clock_->NowMillis())}};
    }, true);
    Status s = options_.queue->Release(job->job_id, options_.node);
    if (!s.ok()) spdlog::warn("training job {} not handed back: {}", job->job_id, s.ToString());
    spdlog::info("tenant {}: training job {} handed back to the queue", job->tenant_id, job->job_id);
    Forget(job);
  }

  // With a queue: renews this node's leases, claims jobs while a worker is
  // free, and follows other nodes' jobs for remote watchers.
  void QueueLoop() {
    const auto tick = std::chrono::milliseconds(std::clamp<int64_t>(options_.job_lease_ms / 4, 10, 1000));
    std::unique_lock lock(mu_);
    while (!stopping_) {
      lock.unlock();
      RenewLeases();
      ClaimWhileFree();
      PollRemoteWatches();
      lock.lock();
      queue_cv_.wait_for(lock, tick, [&] { return stopping_; });
    }
  }

  void RenewLeases() {
    std::set<std::string> before;  // jobs held before the renewal: each must come back from it
    {
      std::lock_guard lock(mu_);
      for (const auto& [id, job] : jobs_) before.insert(id);
    }
    auto held = options_.queue->Renew(options_.node, clock_->NowMillis(), options_.job_lease_ms);
    if (!held.ok()) {
      spdlog::warn("training leases not renewed: {}", held.status().ToString());
      return;
    }
    std::set<std::string> renewed;
    std::vector<std::string> orphans;
    std::vector<std::shared_ptr<Job>> cancelled;  // waiting for a worker here: they end now
    {
      std::lock_guard lock(mu_);
      for (const auto& q : *held) {
        renewed.insert(q.job_id);
        auto it = jobs_.find(q.job_id);
        if (it == jobs_.end()) {
          if (!pending_.count(q.job_id)) orphans.push_back(q.job_id);
        } else if (q.cancel_requested && !it->second->cancel) {
          spdlog::info("tenant {}: training job {} cancelled from another node", q.tenant_id, q.job_id);
          it->second->cancel = true;
          if (DropQueuedLocked(it->second)) cancelled.push_back(it->second);
        }
      }
      for (const auto& id : before) {
        auto it = jobs_.find(id);
        if (it == jobs_.end() || renewed.count(id)) continue;
        it->second->lost = true;
        it->second->cancel = true;
        DropQueuedLocked(it->second);
      }
    }
    for (const auto& job : cancelled) Finish(job, store::JobStatus::kCancelled, "cancelled", "cancelled on request");
    // Held in the queue but not in memory (a removal that failed): any node may take it again.
    for (const auto& id : orphans) (void)options_.queue->Release(id, options_.node);
  }
  // Takes a job out of the workers' queue (under mu_); false when it was not there.
  bool DropQueuedLocked(const std::shared_ptr<Job>& job) {
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
      if (*it == job) {
        queue_.erase(it);
        if (job->lost) {
          jobs_.erase(job->job_id);
          if (auto a = active_.find(job->tenant_id); a != active_.end() && a->second == job) active_.erase(a);
        }
        return true;
      }
    }
    return false;
  }

  void ClaimWhileFree() {
    if (!options_.takes_jobs) return;
    while (true) {
      {
        std::lock_guard lock(mu_);
        if (stopping_ || running_ + static_cast<int>(queue_.size()) >= static_cast<int>(workers_.size())) return;
      }
      auto claimed = options_.queue->Claim(options_.node, clock_->NowMillis(), options_.job_lease_ms);
      if (!claimed.ok()) {
        spdlog::warn("no training job claimed: {}", claimed.status().ToString());
        return;
      }
      if (!claimed->has_value()) return;
      Adopt(**claimed);
    }
  }

  // A job this node just claimed joins its workers' queue (from the start,
  // when a node that stopped had begun it).
  void Adopt(const store::QueuedJob& q) {
    auto store = tenants_->Open(q.tenant_id);
    if (!store.ok()) {
      if (store.status().code() == StatusCode::kNotFound) {
        (void)options_.queue->Remove(q.job_id, options_.node);  // the tenant was deleted
      } else {
        spdlog::warn("tenant {}: claimed job {} not started: {}", q.tenant_id, q.job_id, store.status().ToString());
        (void)options_.queue->Release(q.job_id, options_.node);
      }
      return;
    }
    auto rec = (*store)->training().GetJob(q.job_id);
    if (!rec.ok() || store::IsFinal(rec->status)) {
      if (!rec.ok() && rec.status().code() != StatusCode::kNotFound) {
        (void)options_.queue->Release(q.job_id, options_.node);
      } else {
        (void)options_.queue->Remove(q.job_id, options_.node);
      }
      return;
    }
    auto fail = [&](const std::string& why) {
      Status s = FailInterrupted(**store, *rec, why);
      if (s.ok()) (void)options_.queue->Remove(q.job_id, options_.node);
    };
    if (q.attempts > options_.max_attempts) {
      return fail("the nodes that ran it stopped " + std::to_string(q.attempts - 1) +
                  " times; nothing was deployed from it; submit the training again");
    }
    auto made = JobFromRecord(q.tenant_id, *rec);
    if (!made.ok()) return fail(made.status().message());
    auto job = *made;
    if (q.cancel_requested) job->cancel = true;
    if (rec->status != store::JobStatus::kQueued || q.attempts > 1) {
      job->doc["status"] = store::JobStatusName(store::JobStatus::kQueued);
      job->doc["progress"] = 0.0;
      job->doc["current_epoch"] = 0;
      job->doc.erase("curve");
      job->doc["attempt"] = q.attempts;
      job->record.status = store::JobStatus::kQueued;
      job->record.state_json = JsonText(job->doc);
      job->record.updated_at_ms = clock_->NowMillis();
      Save(*job, job->record);
      spdlog::info("tenant {}: training job {} taken over (attempt {})", q.tenant_id, q.job_id, q.attempts);
    }
    std::lock_guard lock(mu_);
    if (active_.count(q.tenant_id)) {
      (void)options_.queue->Release(q.job_id, options_.node);
      return;
    }
    active_[q.tenant_id] = job;
    jobs_[job->job_id] = job;
    queue_.push_back(job);
    cv_.notify_one();
  }

  // Other nodes' jobs watched here: their stored records, read each tick.
  struct RemoteWatch {
    std::string tenant_id, job_id;
    WatchFn fn;
    std::string last;
  };
  class RemoteSubscription final : public Subscription {
   public:
    RemoteSubscription(TrainingServiceImpl* self, uint64_t id) : self_(self), id_(id) {}
    ~RemoteSubscription() override { self_->Unwatch(id_); }

   private:
    TrainingServiceImpl* self_;
    uint64_t id_;
  };
  void PollRemoteWatches() {
    std::vector<std::pair<uint64_t, std::shared_ptr<RemoteWatch>>> watches;
    {
      std::lock_guard lock(mu_);
      watches.assign(remote_watches_.begin(), remote_watches_.end());
    }
    for (auto& [id, w] : watches) {
      auto doc = Progress(w->tenant_id, w->job_id);
      if (!doc.ok() || *doc == w->last) continue;
      w->last = *doc;
      auto status = ParseJsonObject(*doc).if_contains("status");
      const bool final = status && status->is_string() &&
                         store::IsFinal(store::ParseJobStatus(status->as_string()).value_or(store::JobStatus::kQueued));
      w->fn(*doc, final);
      if (final) Unwatch(id);
    }
  }

  static bool Ended(Job& job) {
    std::lock_guard lock(job.mu);
    return store::IsFinal(job.record.status);
  }
  Status Busy(Job& running) {
    std::lock_guard lock(running.mu);
    return Status(StatusCode::kFailedPrecondition,
                  "the tenant already has training job " + running.job_id + " (" +
                      std::string(store::JobStatusName(running.record.status)) + "); wait for it or cancel it",
                  "job_running",
                  {{"job_id", running.job_id}, {"status", std::string(store::JobStatusName(running.record.status))}});
  }

  // The job if it is queued or running and belongs to the tenant.
  std::shared_ptr<Job> Live(const std::string& tenant_id, const std::string& job_id) {
    std::lock_guard lock(mu_);
    auto it = jobs_.find(job_id);
    if (it == jobs_.end() || it->second->tenant_id != tenant_id) return nullptr;
    return it->second;
  }

  void WorkLoop() {
    // Training yields the cores to request handling: a lower priority for
    // this thread and the OpenMP threads it starts (they inherit it).
    if (!ApplyToThisThread(options_.priority)) {
      spdlog::debug("training threads keep the normal priority");
    }
    while (true) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (stopping_) return;  // queued jobs stay queued in the store
        job = queue_.front();
        queue_.pop_front();
        speed_.SetJobsRunning(++running_);
      }
      Run(job);
      std::lock_guard lock(mu_);
      speed_.SetJobsRunning(--running_);
    }
  }

  void Run(const std::shared_ptr<Job>& job) {
    const auto started = std::chrono::steady_clock::now();
    RunOnce(job);
    if (options_.job_ran) {
      options_.job_ran(job->tenant_id,
                       std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    }
  }

  void RunOnce(const std::shared_ptr<Job>& job) {
    auto store = tenants_->Open(job->tenant_id);
    Status s = store.status();
    if (s.ok()) {
      JobContext ctx;
      ctx.tenant_id = job->tenant_id;
      ctx.job_id = job->job_id;
      ctx.request = &job->request;
      ctx.cancel = &job->cancel;
      StepAside aside(options_.requests_waiting);  // without a source it never pauses
      ctx.step_aside = &aside;
      ctx.threads = options_.threads_per_job;
      ctx.update = [this, job](const std::function<void(json::object&)>& change, bool persist) {
        Update(*job, change, persist);
      };
      if (options_.queue) {
        ctx.still_ours = [this, job]() -> Status {
          ASSIGN_OR_RETURN(auto q, options_.queue->Get(job->job_id));
          if (q && q->holder == options_.node) return Status::Ok();
          job->lost = true;
          return Status(StatusCode::kCancelled, "another node took the job over");
        };
      }
      JobEnv env{store->get(), &registry_, deployed_, &speed_, clock_};
      if (options_.enter_experiment) env.enter_experiment = &options_.enter_experiment;
      try {
        s = RunJob(ctx, env);
      } catch (const std::exception& e) {
        s = Status::Internal(std::string("training failed: ") + e.what());
      }
    }
    if (job->lost) {
      // Another node claimed it after this node's lease ran out: its record is that node's now.
      spdlog::warn("tenant {}: training job {} was lost to another node (its lease ran out); this run is dropped",
                   job->tenant_id, job->job_id);
      Forget(job);
    } else if (s.ok()) {
      Finish(job, store::JobStatus::kCompleted, "", "");
    } else if (s.code() == StatusCode::kCancelled && job->interrupted && options_.queue) {
      HandBack(job);
    } else if (s.code() == StatusCode::kCancelled && job->interrupted) {
      Finish(job, store::JobStatus::kFailed, "interrupted", "interrupted: the server stopped during training; submit it again");
    } else if (s.code() == StatusCode::kCancelled) {
      Finish(job, store::JobStatus::kCancelled, "cancelled", "cancelled on request");
    } else {
      spdlog::error("tenant {}: training job {} failed: {}", job->tenant_id, job->job_id,
                    s.ToString());
      std::string why = s.code() == StatusCode::kInternal
                            ? "internal error (see the server log, job " + job->job_id + ")"
                            : s.message();
      if (s.code() == StatusCode::kInternal) why += ": " + s.message();
      Finish(job, store::JobStatus::kFailed, "failed", why);
    }
  }

  // Changes the document, tells watchers, persists when asked or when the
  // status changed (status changes are never lost).
  void Update(Job& job, const std::function<void(json::object&)>& change, bool persist) {
    std::string doc_text;
    bool write = false;
    {
      std::lock_guard lock(job.mu);
      change(job.doc);
      // The document's status is one of ours (job_runner sets it by JobStatusName).
      const store::JobStatus status =
          store::ParseJobStatus(job.doc["status"].as_string()).value_or(store::JobStatus::kFailed);
      write = persist || status != job.record.status;
      job.record.status = status;
      job.record.updated_at_ms = clock_->NowMillis();
      doc_text = JsonText(job.doc);
      job.record.state_json = doc_text;
      const bool final = store::IsFinal(status);
      if (final && write) {
        // Stored before anyone hears of the end: a watcher that sees it, or
        // a client reading the job once it has left memory, reads it back.
        Save(job, job.record);
        write = false;
      }
      for (auto& [id, fn] : job.watchers) fn(doc_text, final);
      if (final) job.watchers.clear();
    }
    if (write) Persist(job);
  }

  void Persist(Job& job) {
    store::JobRecord rec;
    {
      std::lock_guard lock(job.mu);
      rec = job.record;
    }
    Save(job, rec);
  }

  // A record the store could not take for a while (busy: an upload holds
  // the tenant's write lock past the busy timeout) is tried again, a few
  // times: a job's end that is never stored reads "running" once the job
  // has left memory.
  void Save(const Job& job, const store::JobRecord& rec) {
    Status s;
    for (int attempt = 0; attempt < kSaveAttempts; ++attempt) {
      auto store = tenants_->Open(job.tenant_id);
      s = store.ok() ? (*store)->training().PutJob(rec) : store.status();
      if (s.code() != StatusCode::kUnavailable) break;
    }
    if (!s.ok()) spdlog::error("tenant {}: job {} not saved: {}", job.tenant_id, job.job_id, s.ToString());
  }
  static constexpr int kSaveAttempts = 4;

  // `reason`: the error's machine-readable reason (cancelled, interrupted,
  // failed), `why` its message; both unused for a completed job.
  void Finish(const std::shared_ptr<Job>& job, store::JobStatus status, const std::string& reason,
              const std::string& why) {
    Update(*job, [&](json::object& d) {
      if (status != store::JobStatus::kCompleted) {
        d["status"] = store::JobStatusName(status);
        d["error"] = json::object{{"reason", reason}, {"message", why}};
        d["finished_at"] = FormatRfc3339Millis(clock_->NowMillis());
        d.erase("estimated_completion");
      }
    }, true);
    if (options_.queue) {
      Status s = options_.queue->Remove(job->job_id, options_.node);
      if (!s.ok()) spdlog::warn("training job {} left in the queue: {}", job->job_id, s.ToString());
    }
    Forget(job);
  }

  // The job leaves this node's memory.
  void Forget(const std::shared_ptr<Job>& job) {
    {
      std::lock_guard lock(mu_);
      jobs_.erase(job->job_id);
      auto it = active_.find(job->tenant_id);
      if (it != active_.end() && it->second == job) active_.erase(it);
    }
    finished_cv_.notify_all();
    queue_cv_.notify_all();  // a worker is free: claim the next job
  }

  store::TenantStores* tenants_;
  serving::DeployedModels* deployed_;
  const Clock* clock_;
  ServiceOptions options_;
  ModelRegistry registry_;
  SpeedEstimate speed_{options_.threads_per_job};  // after options_
  std::atomic<uint64_t> next_watch_id_{1};

  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable finished_cv_;  // a job left jobs_
  std::condition_variable queue_cv_;  // wakes the queue loop (to stop, or to claim)
  std::deque<std::shared_ptr<Job>> queue_;                   // GUARDED_BY(mu_)
  std::map<std::string, std::shared_ptr<Job>> active_;       // tenant → its job; GUARDED_BY(mu_)
  std::map<std::string, std::shared_ptr<Job>> jobs_;         // job id → queued or running job
  std::set<std::string> reserved_;                           // tenants mid-submit
  std::set<std::string> pending_;  // jobs in the shared queue, not yet in jobs_ (mid-submit)
  std::map<uint64_t, std::shared_ptr<RemoteWatch>> remote_watches_;  // GUARDED_BY(mu_)
  int running_ = 0;                                          // GUARDED_BY(mu_)
  bool stopping_ = false;                                    // GUARDED_BY(mu_)
  std::vector<std::thread> workers_;
  std::thread queue_thread_;  // scale-out only (options_.queue)
};

}  // namespace

std::unique_ptr<TrainingService> NewTrainingService(store::TenantStores* tenants,
                                                    ModelRegistry::OpenBlobs open_blobs,
                                                    serving::DeployedModels* deployed,
                                                    const Clock* clock, ServiceOptions options) {
  return std::make_unique<TrainingServiceImpl>(tenants, std::move(open_blobs), deployed, clock,
                                               options);
}

}  // namespace embedrec::training
