// The steps of one training job, in order: loading_data → training →
// evaluating → building_index → deploying. Each step reports into the job's
// progress document through JobContext::update; the caller (the training
// service) owns the job's lifecycle, persistence and watchers.
#pragma once

#include <atomic>
#include <boost/json/object.hpp>
#include <functional>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "serving/deployed_models.h"
#include "store/tenant_stores.h"
#include "training/deploy_policy.h"
#include "training/job_request.h"
#include "training/model_registry.h"
#include "training/speed_estimate.h"

namespace embedrec::training {

struct JobContext {
  std::string tenant_id, job_id;
  const JobRequest* request = nullptr;
  const std::atomic<bool>* cancel = nullptr;
  StepAside* step_aside = nullptr;  // the job's fits ask it between batches (null: never step aside)
  int threads = 0;  // OpenMP threads (0: default)
  // Changes the progress document; `persist` asks for it to be written to
  // the store now (status changes, validations), otherwise it may wait.
  std::function<void(const std::function<void(boost::json::object&)>& change, bool persist)> update;
  // Scale-out: Ok while this node still holds the job, checked before the
  // model is stored and deployed (another node may have taken the job over
  // after this one's lease ran out); null: always.
  std::function<Status()> still_ours;
};

// A version the gate would deploy, offered to an experiment instead (an
// experiment waiting for the tenant's next version, or a scheduled run's):
// the experiment's id when it took the version as its challenger.
using EnterExperiment = std::function<StatusOr<std::optional<std::string>>(
    const std::string& tenant_id, const std::string& version, bool scheduled)>;

struct JobEnv {
  store::TenantStore* store = nullptr;
  ModelRegistry* registry = nullptr;
  serving::DeployedModels* deployed = nullptr;
  SpeedEstimate* speed = nullptr;
  const Clock* clock = nullptr;
  const DeployPolicy* policy = nullptr;  // null: the default gate (training/deploy_policy.h)
  const EnterExperiment* enter_experiment = nullptr;  // null: versions the gate passes are deployed
};

// Runs the job to its end. On success the document holds the completed
// fields (model_version, final_metrics, deployment_status, ...). Errors:
// kCancelled when the cancel flag was seen, kUnprocessable for data or
// requests that cannot train, others for I/O failures.
Status RunJob(const JobContext& ctx, const JobEnv& env);

}  // namespace embedrec::training
