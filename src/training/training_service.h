// Training as a service: jobs queued per request, run by a small pool of
// workers (one job per tenant at a time, tenants served in arrival order),
// their progress published as JSON documents (polled, listed or watched
// live), persisted in the tenant's database so a restart neither loses nor
// strands them, and their models registered and deployed (model_registry.h).
//
// Thread safety: safe for concurrent use. Methods block on the tenant's
// store (call from workers, not network threads).
#pragma once

#include <boost/json/object.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "common/thread_priority.h"
#include "serving/deployed_models.h"
#include "store/job_queue.h"
#include "store/tenant_stores.h"
#include "training/job_request.h"
#include "training/job_runner.h"
#include "training/model_registry.h"

namespace embedrec::training {

struct ServiceOptions {
  int workers = 1;           // jobs trained at once, across tenants
  int threads_per_job = 0;   // OpenMP threads of a job (0: one per core)
  // The workers' priority, and so their OpenMP threads' (they inherit it).
  // The server passes EMBEDREC_TRAINING_PRIORITY (idle by default: request
  // handling takes the cores first); unchanged (niceness 0) when not given.
  BackgroundPriority priority{.idle = false, .nice = 0};
  // True while requests wait for a worker: a job's fits then stand aside
  // between batches (common/step_aside.h). Null: they never do.
  std::function<bool()> requests_waiting;
  RegistryOptions registry;
  // Told of every job that ran, however it ended, with the seconds it held
  // a worker (usage records); may be null. Runs on the job's worker thread.
  std::function<void(const std::string& tenant_id, double seconds)> job_ran;
  // The tenant's training minutes per day (tenants/tenant_limits.h; 0: no
  // limit); a job submitted past it is refused (training/training_quota.h).
  // Null: no limit.
  std::function<double(const std::string& tenant_id)> training_minutes_per_day;
  // Offered every version the gate would deploy while the tenant has a
  // deployed one (job_runner.h); null: deployed at once.
  EnterExperiment enter_experiment;
  // Scale-out: the queue every node takes jobs from (store/job_queue.h);
  // null for one process (jobs wait in memory, and every open job found at
  // start-up is this process's). With a queue, a job runs on whichever node
  // with `takes_jobs` claims it (the submitting one when it has a free
  // worker); the node renews its lease every min(lease/4, 1 s), and a job
  // whose node stopped without releasing it is claimed again by another
  // node once the lease runs out, up to `max_attempts` claims. A node that
  // stops gracefully hands its jobs back at once. Cancelling, progress and
  // watching work from any node (a watch of another node's job follows its
  // stored record).
  store::JobQueue* queue = nullptr;
  std::string node;          // this node's name in the queue (unique per process)
  bool takes_jobs = true;    // claims jobs (the ml role); false: only submits them
  int64_t job_lease_ms = 60'000;
  int max_attempts = 3;
};

// What Submit answers.
struct Submitted {
  std::string job_id;
  std::string status;  // "started" when a worker takes it now, else "queued"
  double estimated_seconds = 0;
  boost::json::object estimated_steps;  // seconds by step (the record's estimated_phase_seconds)
  int queue_position = 0;  // jobs ahead of it
  JobRequest request;      // as it runs (a batch size not given made concrete)
};

// A live subscription to a job's progress; destroying it ends the subscription.
class Subscription {
 public:
  virtual ~Subscription() = default;
};

class TrainingService {
 public:
  virtual ~TrainingService() = default;
  // Queues a job. kFailedPrecondition (409, reason job_running, details
  // job_id) when the tenant already has a job queued or running;
  // kUnprocessable when the tenant has too little data, or asks for
  // incremental training without a deployed model.
  virtual StatusOr<Submitted> Submit(const std::string& tenant_id, const JobRequest& request) = 0;
  // The job's progress document (a JSON object). kNotFound for an unknown
  // job (or another tenant's).
  virtual StatusOr<std::string> Progress(const std::string& tenant_id, const std::string& job_id) = 0;
  // The tenant's jobs, newest first, as progress documents.
  virtual StatusOr<std::vector<std::string>> List(const std::string& tenant_id, int limit) = 0;
  // Cancels a queued job at once, a running one within a batch (the answer
  // is the document at the time of the request). kFailedPrecondition for a
  // finished job.
  virtual StatusOr<std::string> Cancel(const std::string& tenant_id, const std::string& job_id) = 0;
  // Calls `fn` with the current document at once, then with every update;
  // the last call has final = true (the job finished). `fn` runs on the
  // job's thread and must not block. kNotFound as Progress.
  using WatchFn = std::function<void(const std::string& doc, bool final)>;
  virtual StatusOr<std::unique_ptr<Subscription>> Watch(const std::string& tenant_id,
                                                        const std::string& job_id, WatchFn fn) = 0;

  // Start-up, per tenant: jobs left running by a stopped process become
  // failed ("interrupted"), queued ones are queued again. With a shared
  // queue, the queue's jobs are left to the nodes' claims and only open jobs
  // it does not hold are failed.
  virtual Status Recover(const std::string& tenant_id) = 0;
  // The tenant is being deleted: its queued job is cancelled, its running
  // one cancelled and waited for (up to a minute), so nothing writes the
  // tenant's files afterwards. kUnavailable if the job did not stop in time.
  virtual Status StopTenant(const std::string& tenant_id) = 0;
  // Stops the workers: running jobs end as failed ("interrupted"), queued
  // ones stay queued for the next start; with a shared queue, both go back
  // to the queue for another node. Idempotent.
  virtual void Shutdown() = 0;

  virtual ModelRegistry& registry() = 0;
};

std::unique_ptr<TrainingService> NewTrainingService(store::TenantStores* tenants,
                                                    ModelRegistry::OpenBlobs open_blobs,
                                                    serving::DeployedModels* deployed,
                                                    const Clock* clock, ServiceOptions options);

}  // namespace embedrec::training
