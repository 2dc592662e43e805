// Experiments between model versions (issue 16): creating, assigning users
// to arms on the hot path, watching the arms' figures (analytics) and
// deciding — rollout step by step, rollback, promotion — with a sequential
// test (sequential_test.h) checked every check interval by a background
// thread, and guardrails (error rate, latency p95) per arm. One open
// experiment per tenant at a time.
//
//   Create → split(control, challenger, share) → running
//   Recommend → Assign(tenant, user): the arm by a stable hash of
//     (experiment, user) below the challenger's share; the answer and its log
//     record name the experiment and the arm (analytics sums them per user)
//   Check (every interval) → figures per arm → test, guardrails → advance a
//     rollout step (split), promote (deploy), roll back (split to control) or
//     nothing; the record saved each look, so a restart resumes at its step
//
// Everything lives in the tenant's store (store/experiment_records.h) and
// the serving split (model_versions' traffic weights); guardrail counts are
// in memory (since start).
//
// Thread safety: safe for concurrent use. Assign and Observe never block
// on I/O; the rest do.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/id_source.h"
#include "experiments/experiment.h"
#include "store/analytics_store.h"
#include "store/tenant_stores.h"

namespace embedrec::experiments {

// Guardrail counts of an experiment's arms (control, challenger), since start.
struct ArmHealth {
  struct Arm {
    std::atomic<uint64_t> requests{0}, errors{0};
    std::array<std::atomic<uint64_t>, 44> latency{};  // analytics::LatencyBucket
  };
  std::array<Arm, 2> arms;
};

struct ExperimentDeps {
  store::TenantStores* stores = nullptr;
  const Clock* clock = nullptr;
  IdSource* ids = nullptr;
  // The experiment's figures per arm ("control", "challenger"), as flushed.
  std::function<StatusOr<std::map<std::string, store::ArmSums>>(const std::string& tenant_id,
                                                                 const std::string& experiment_id)>
      arms;
  // Serves `control` to a share 1 − `share` of the users and `challenger` to
  // the rest (share 0: the control alone, challenger ignored).
  std::function<Status(const std::string& tenant_id, const std::string& control, const std::string& challenger,
                       double share)>
      split;
  // Deploys `version` (it then serves everybody).
  std::function<Status(const std::string& tenant_id, const std::string& version, const std::string& reason)> deploy;
  // Makes a promoted strategy arm's settings the tenant's (keys replace).
  std::function<Status(const std::string& tenant_id, const boost::json::object& settings)> apply_settings;
};

struct ExperimentOptions {
  int64_t check_interval_ms = 60'000;
  int64_t guardrail_requests = 200;  // answers per arm before a guardrail is judged
};

// The arm a user is in: the experiment's id, "control" or "challenger", and
// the arm's model version; `health`: where Observe counts its answers.
// `merchandising`: the arm's rules when it is a strategy arm (null: the
// tenant's; empty: none).
struct Assignment {
  std::string experiment_id, arm, model_version;
  std::shared_ptr<ArmHealth> health;
  std::shared_ptr<const serving::Merchandising> merchandising;
};

class ExperimentService {
 public:
  ExperimentService(ExperimentDeps deps, ExperimentOptions options);
  ~ExperimentService();  // stops the thread

  void Start();
  // Reads the tenant's open experiment (start-up) / forgets the tenant (deletion).
  Status Recover(const std::string& tenant_id);
  void Forget(const std::string& tenant_id);

  // ---- API. Create: kFailedPrecondition when the tenant has an open
  // experiment, no deployed model, or `control` is not the deployed version;
  // kNotFound for an unknown challenger; kUnprocessable for a bad spec.
  StatusOr<Experiment> Create(const std::string& tenant_id, ExperimentSpec spec);
  // Newest first.
  StatusOr<std::vector<Experiment>> List(const std::string& tenant_id, int limit);
  // With the arms' figures and the test as they stand now (for a running one).
  StatusOr<Experiment> Get(const std::string& tenant_id, const std::string& experiment_id);
  // kFailedPrecondition unless running (promote) or open (abort).
  StatusOr<Experiment> Promote(const std::string& tenant_id, const std::string& experiment_id,
                               const std::string& who);
  StatusOr<Experiment> Abort(const std::string& tenant_id, const std::string& experiment_id,
                             const std::string& who);

  // ---- Hot path. The user's arm while an experiment runs.
  std::optional<Assignment> Assign(const std::string& tenant_id, const std::string& user_id) const;
  // An answer of an arm (guardrails): its latency, and whether it failed.
  static void Observe(const Assignment& a, double ms, bool error);
  // Whether the tenant has a running experiment.
  bool Running(const std::string& tenant_id) const;

  // ---- Training. A new version the gate would deploy: when the tenant has
  // an experiment waiting for its next version, or `scheduled` (a retrain
  // the system started, with a deployed model to compare against), the
  // version enters an experiment as challenger instead: its id.
  StatusOr<std::optional<std::string>> EnterChallenger(const std::string& tenant_id, const std::string& version,
                                                       bool scheduled);

  // ---- Decisions. One look at the tenant's running experiment (the thread
  // runs it every check interval for every tenant with one; tests call it).
  Status Check(const std::string& tenant_id);
  void CheckAll();

 private:
  // Guardrail counts of both arms, shared by every snapshot of an experiment.
  using Health = ArmHealth;
  // What Assign reads: the running experiment of a tenant.
  struct Active {
    std::string experiment_id, control, challenger;
    double share = 0;
    std::shared_ptr<Health> health;
    std::shared_ptr<const serving::Merchandising> challenger_merchandising;
  };

  // The tenant's open experiment from the store, if any.
  StatusOr<std::optional<Experiment>> OpenOf(store::TenantStore& store);
  // A stored experiment; kNotFound for an unknown id.
  StatusOr<Experiment> Load(store::TenantStore& store, const std::string& experiment_id);
  Status Save(store::TenantStore& store, Experiment& e);
  // Makes Assign follow `e` (none once it is not running), keeping its guardrail counts.
  void Follow(const std::string& tenant_id, const Experiment& e);
  // Saves, then follows.
  Status Publish(const std::string& tenant_id, store::TenantStore& store, Experiment& e);
  // Moves a running experiment to its next rollout step (or promotes it).
  Status Advance(const std::string& tenant_id, store::TenantStore& store, Experiment& e,
                 const store::ArmSums& control, const store::ArmSums& challenger);
  // Closes it with `status` and the decision; serving goes back to the
  // control (`restore`), to the challenger (promote), or is left as it is.
  enum class Serve { kControl, kChallenger, kAsIs };
  Status Close(const std::string& tenant_id, store::TenantStore& store, Experiment& e, const char* status,
               const std::string& outcome, const std::string& reason, Serve serve);
  // Starts a created or waiting experiment with its challenger.
  Status Begin(const std::string& tenant_id, store::TenantStore& store, Experiment& e);
  // The figures and the test now; updates e.p_value and e.statistics.
  StatusOr<TestResult> Look(const std::string& tenant_id, Experiment& e, store::ArmSums* control,
                            store::ArmSums* challenger);
  std::shared_ptr<Health> HealthOf(const std::string& tenant_id, const std::string& experiment_id) const;
  void Loop();

  ExperimentDeps deps_;
  ExperimentOptions options_;
  std::mutex ops_mu_;  // one change at a time (creation, looks, promotion, abort)
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const Active>> active_;  // GUARDED_BY(mu_)
  std::condition_variable cv_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

// Whether a user falls in the challenger's share: a stable hash of
// (experiment, user) mapped to [0, 1), below `share`. Growing the share
// keeps everybody who was in the challenger's arm there.
bool InChallengerArm(const std::string& experiment_id, const std::string& user_id, double share);

}  // namespace embedrec::experiments
