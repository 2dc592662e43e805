// Retraining without a person (seed step 10): a background thread that looks
// at the tenants every check interval and, for those due (retrain_policy.h),
// submits a training job as the system ("started_by": "system", its
// "trigger" in the job record).
//
// Which tenants a pass looks at: those whose data changed since the last
// pass (DataChanged: tracked events, uploads) for the new-interactions
// trigger, and every watched tenant at most once an hour for the interval
// and metric triggers. At most `max_submitted` scheduled jobs wait or run at
// a time, so a wave of due tenants never stands far ahead of a request's job;
// the rest are taken by later passes.
//
// Nothing is kept but what the stores hold (the jobs, with their trigger and
// the event position of their data; the events; analytics): a restart
// neither misses a due run nor doubles one.
//
// Thread safety: safe for concurrent use. DataChanged is cheap (a set insert).
#pragma once

#include <atomic>
#include <boost/json/object.hpp>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/status.h"
#include "store/tenant_stores.h"
#include "training/retrain_policy.h"
#include "training/training_service.h"

namespace embedrec::training {

struct RetrainDeps {
  TrainingService* training = nullptr;
  store::TenantStores* stores = nullptr;
  const Clock* clock = nullptr;
  // The tenant's settings JSON (an object).
  std::function<StatusOr<std::string>(const std::string& tenant_id)> settings_json;
  // The click-through of a model version over [from_ms, to_ms) (analytics);
  // null: the metric trigger is off.
  std::function<StatusOr<OnlineRate>(const std::string& tenant_id, const std::string& version, int64_t from_ms,
                                     int64_t to_ms)>
      rate;
  // Whether the tenant has an experiment running (no scheduled run then); null: never.
  std::function<bool(const std::string& tenant_id)> experimenting;
};

struct RetrainOptions {
  int64_t check_interval_ms = 60'000;   // a pass this often (a threshold crossed starts its job within it)
  int64_t recheck_all_ms = 3'600'000;   // each watched tenant looked at this often, changed or not
  int max_submitted = 2;                // scheduled jobs queued or running at a time
  int64_t min_gap_ms = kMinRetrainGapMs;  // after a tenant's newest job, none sooner
};

class RetrainScheduler {
 public:
  RetrainScheduler(RetrainDeps deps, RetrainOptions options);
  ~RetrainScheduler();  // stops the thread

  void Start();
  // A tenant to look after (start-up, creation) / no more (deletion).
  void Watch(const std::string& tenant_id);
  void Forget(const std::string& tenant_id);
  // The tenant's data changed: looked at by the next pass (and watched from now on).
  void DataChanged(const std::string& tenant_id);

  // Whether the last look at the tenant found a retraining due (a threshold
  // crossed, no job under way), whether or not the system starts it (the
  // tenant switched it off, or its last job is too recent). Never blocks on I/O.
  bool Recommended(const std::string& tenant_id);

  // What a look at the tenant finds now (the pass's step; tests).
  StatusOr<std::optional<RetrainDecision>> Check(const std::string& tenant_id);
  // Looks at the tenant and submits its job when due; the job id, if any.
  StatusOr<std::optional<std::string>> RunIfDue(const std::string& tenant_id);
  // One pass now (tests; the thread runs them on its own).
  void Pass();
  // Passes run so far (/metrics).
  uint64_t passes() const { return passes_.load(std::memory_order_relaxed); }

 private:
  // One look at a tenant: its settings (JSON text), its deployed version, the
  // decision (none when switched off); records whether a run is recommended.
  struct Look {
    std::string settings;
    std::optional<store::ModelVersionRecord> deployed;
    std::optional<RetrainDecision> decision;
  };
  StatusOr<Look> LookAt(const std::string& tenant_id);
  // The hyperparameters of the request that named the deployed blend
  // (model_type "blend"), when they still make a request; nullopt otherwise.
  std::optional<boost::json::object> NamedBlend(const std::string& tenant_id, const store::ModelVersionRecord& deployed,
                                                const std::string& settings);
  StatusOr<RetrainState> StateOf(const std::string& tenant_id, store::TenantStore& store,
                                 const RetrainSettings& settings, const store::ModelVersionRecord* deployed);
  void Loop();
  int SubmittedActive();

  RetrainDeps deps_;
  RetrainOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, int64_t> watched_;  // GUARDED_BY(mu_): tenant → when last looked at
  std::set<std::string> changed_;           // GUARDED_BY(mu_)
  std::map<std::string, std::string> submitted_;  // GUARDED_BY(mu_): tenant → its scheduled job
  std::map<std::string, bool> recommended_;       // GUARDED_BY(mu_): as the last look found
  bool stop_ = false;                       // GUARDED_BY(mu_)
  std::atomic<uint64_t> passes_{0};
  std::mutex pass_mu_;                      // one pass at a time
  std::thread thread_;
};

}  // namespace embedrec::training
