// Training as a service: jobs queued per request, run by a small pool of
// workers (one job per tenant at a time, tenants served in arrival order),
// their progress published as JSON documents (polled, listed or watched
// live), persisted in the tenant's database so a restart neither loses nor
// strands them, and their models registered and deployed (model_registry.h).
//
// Thread safety: safe for concurrent use. Methods block on the tenant's
// store (call from workers, not network threads).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "serving/deployed_models.h"
#include "store/tenant_stores.h"
#include "training/job_request.h"
#include "training/job_runner.h"
#include "training/model_registry.h"

namespace embedrec::training {

struct ServiceOptions {
  int workers = 1;           // jobs trained at once, across tenants
  int threads_per_job = 0;   // OpenMP threads of a job (0: one per core)
  RegistryOptions registry;
  // Told of every job that ran, however it ended, with the seconds it held
  // a worker (usage records); may be null. Runs on the job's worker thread.
  std::function<void(const std::string& tenant_id, double seconds)> job_ran;
  // Offered every version the gate would deploy while the tenant has a
  // deployed one (job_runner.h); null: deployed at once.
  EnterExperiment enter_experiment;
  // Scale-out (nodes share the stores), > 0: a node touches the record of
  // every job it holds (queued or running) every lease/4; a job touched
  // less than a lease ago belongs to a live node: no other node's Recover
  // fails or re-queues it, and no node submits another job for its tenant.
  // An open job not touched for a lease is the remains of a node that
  // stopped: failed as "interrupted" (at start-up, or when its tenant
  // submits again). 0 (one process): every open job at start-up is ours.
  int64_t job_lease_ms = 0;
};

// What Submit answers.
struct Submitted {
  std::string job_id;
  std::string status;  // "started" when a worker takes it now, else "queued"
  double estimated_seconds = 0;
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
  // failed ("interrupted"), queued ones are queued again, and the deployed
  // model is loaded for serving.
  virtual Status Recover(const std::string& tenant_id) = 0;
  // The tenant is being deleted: its queued job is cancelled, its running
  // one cancelled and waited for (up to a minute), so nothing writes the
  // tenant's files afterwards. kUnavailable if the job did not stop in time.
  virtual Status StopTenant(const std::string& tenant_id) = 0;
  // Stops the workers: running jobs end as failed ("interrupted"), queued
  // ones stay queued for the next start. Idempotent.
  virtual void Shutdown() = 0;

  virtual ModelRegistry& registry() = 0;
};

std::unique_ptr<TrainingService> NewTrainingService(store::TenantStores* tenants,
                                                    ModelRegistry::OpenBlobs open_blobs,
                                                    serving::DeployedModels* deployed,
                                                    const Clock* clock, ServiceOptions options);

}  // namespace embedrec::training
