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
    if (o.job_lease_ms > 0) heartbeat_ = std::thread([this] { HeartbeatLoop(); });
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
    if (options_.job_lease_ms > 0) RETURN_IF_ERROR(CheckOtherNodesJobs(tenant_id, *store));
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
    const int64_t items = counts.items;  // what the model learns (the catalog may hold more)
    double estimate = !request.model_type && request.mode != "incremental"
                          ? AutoJobSeconds(request, pairs, items, speed_)
                          : speed_.JobSeconds(request, pairs, items);
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
        {"estimated_completion", FormatRfc3339((now + static_cast<int64_t>(estimate * 1000)) / 1000)},
        {"progress_url", "/api/v1/training/" + job->job_id + "/progress"},
        {"events_url", "/api/v1/training/" + job->job_id + "/events"},
        {"started_by", request.started_by.empty() ? "api" : request.started_by},
        {"trigger", TriggerOf(request)},
        // The data it sees begins after this event (retrain_scheduler.h counts from it).
        {"data_position", data_position}};
    job->record.state_json = JsonText(job->doc);
    RETURN_IF_ERROR(store->training().PutJob(job->record));
    Submitted out;
    out.job_id = job->job_id;
    out.estimated_seconds = estimate;
    out.request = request;
    {
      std::lock_guard lock(mu_);
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
      if (HeldElsewhere(rec)) {
        spdlog::info("tenant {}: training job {} is another node's (touched {} ms ago)", tenant_id, rec.job_id,
                     clock_->NowMillis() - rec.updated_at_ms);
        continue;
      }
      boost::system::error_code ec;
      json::value doc = json::parse(rec.state_json, ec);
      if (ec || !doc.is_object()) doc = json::object{{"job_id", rec.job_id}};
      boost::system::error_code pec;
      json::value req = json::parse(rec.request_json, pec);
      auto parsed = !pec && req.is_object()
                        ? ParseJobRequest(req.as_object(), "{}")
                        : StatusOr<JobRequest>(Status::Internal("unreadable JSON"));
      if (rec.status != store::JobStatus::kQueued || !parsed.ok()) {
        std::string why =
            rec.status != store::JobStatus::kQueued
                ? "the server stopped while the job was " + std::string(store::JobStatusName(rec.status)) +
                      "; nothing was deployed from it; submit the training again"
                : "its stored request cannot be read (" + parsed.status().message() + ")";
        RETURN_IF_ERROR(FailInterrupted(*store, rec, why));
        continue;
      }
      auto job = std::make_shared<Job>();
      job->tenant_id = tenant_id;
      job->job_id = rec.job_id;
      job->record = rec;
      job->doc = std::move(doc.as_object());
      job->request = *parsed;
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
      if (it == active_.end()) return Status::Ok();
      job = it->second;
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
    heartbeat_cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
    if (heartbeat_.joinable()) heartbeat_.join();
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

  // Scale-out: a stored open job that is not ours and was touched less than
  // a lease ago (its node is alive).
  bool HeldElsewhere(const store::JobRecord& rec) {
    if (options_.job_lease_ms <= 0) return false;
    {
      std::lock_guard lock(mu_);
      if (jobs_.count(rec.job_id)) return false;
    }
    return clock_->NowMillis() - rec.updated_at_ms < options_.job_lease_ms;
  }

  // Scale-out, at submit: 409 while another node holds a job of the tenant;
  // the remains of a stopped node's job are failed on the way.
  Status CheckOtherNodesJobs(const std::string& tenant_id, store::TenantStore& store) {
    ASSIGN_OR_RETURN(auto open, store.training().ListJobs(store::OpenJobStatuses(), 100));
    for (const auto& rec : open) {
      if (HeldElsewhere(rec)) {
        const std::string status(store::JobStatusName(rec.status));
        return Status(StatusCode::kFailedPrecondition,
                      "the tenant already has training job " + rec.job_id + " (" + status +
                          ", on another node); wait for it or cancel it",
                      "job_running", {{"job_id", rec.job_id}, {"status", status}});
      }
      bool ours;
      {
        std::lock_guard lock(mu_);
        ours = jobs_.count(rec.job_id) > 0;
      }
      if (!ours) {
        RETURN_IF_ERROR(FailInterrupted(store, rec, "the node that held the job stopped; nothing was deployed from "
                                                     "it; submit the training again"));
      }
    }
    return Status::Ok();
  }

  // Scale-out: touches the record of every job this node holds, every lease/4.
  void HeartbeatLoop() {
    const auto every = std::chrono::milliseconds(std::max<int64_t>(options_.job_lease_ms / 4, 10));
    std::unique_lock lock(mu_);
    while (!heartbeat_cv_.wait_for(lock, every, [&] { return stopping_; })) {
      std::vector<std::shared_ptr<Job>> held;
      for (const auto& [id, job] : jobs_) held.push_back(job);
      lock.unlock();
      for (const auto& job : held) {
        // Under the job's lock: a final record written meanwhile is never
        // overwritten by an older copy.
        std::lock_guard jl(job->mu);
        if (store::IsFinal(job->record.status)) continue;
        job->record.updated_at_ms = clock_->NowMillis();
        Save(*job, job->record);
      }
      lock.lock();
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
    if (!NiceThisThread(5)) {
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
        ++running_;
      }
      Run(job);
      std::lock_guard lock(mu_);
      --running_;
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
      ctx.threads = options_.threads_per_job;
      ctx.update = [this, job](const std::function<void(json::object&)>& change, bool persist) {
        Update(*job, change, persist);
      };
      JobEnv env{store->get(), &registry_, deployed_, &speed_, clock_};
      if (options_.enter_experiment) env.enter_experiment = &options_.enter_experiment;
      try {
        s = RunJob(ctx, env);
      } catch (const std::exception& e) {
        s = Status::Internal(std::string("training failed: ") + e.what());
      }
    }
    if (s.ok()) {
      Finish(job, store::JobStatus::kCompleted, "", "");
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

  void Save(const Job& job, const store::JobRecord& rec) {
    auto store = tenants_->Open(job.tenant_id);
    Status s = store.ok() ? (*store)->training().PutJob(rec) : store.status();
    if (!s.ok()) spdlog::error("tenant {}: job {} not saved: {}", job.tenant_id, job.job_id, s.ToString());
  }

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
    {
      std::lock_guard lock(mu_);
      jobs_.erase(job->job_id);
      auto it = active_.find(job->tenant_id);
      if (it != active_.end() && it->second == job) active_.erase(it);
    }
    finished_cv_.notify_all();
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
  std::condition_variable heartbeat_cv_;  // wakes the heartbeat to stop
  std::deque<std::shared_ptr<Job>> queue_;                   // GUARDED_BY(mu_)
  std::map<std::string, std::shared_ptr<Job>> active_;       // tenant → its job; GUARDED_BY(mu_)
  std::map<std::string, std::shared_ptr<Job>> jobs_;         // job id → queued or running job
  std::set<std::string> reserved_;                           // tenants mid-submit
  int running_ = 0;                                          // GUARDED_BY(mu_)
  bool stopping_ = false;                                    // GUARDED_BY(mu_)
  std::vector<std::thread> workers_;
  std::thread heartbeat_;  // scale-out only (options_.job_lease_ms)
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
