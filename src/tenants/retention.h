// Retention of what grows with every request: each tenant's event log
// (events older than `event_days`, once published when a relay publishes
// them), its idempotency keys (older than `idempotency_hours`) and its
// uploads' archived files (older than `archive_days`, by the day in their
// name; the imported rows stay), and what writers killed mid-write left in
// the blob areas (S3's unfinished multipart uploads, files never renamed),
// pruned by a background thread every `interval_ms`, in bounded batches.
// (The recommendation log prunes itself: store/recommendation_log.h.)
//
// Thread safety: Start/Stop from one thread; RunOnce may run concurrently
// with requests (the stores serialise their writes).
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "blob/blob_store.h"
#include "common/clock.h"
#include "common/status.h"
#include "store/control_store.h"
#include "store/tenant_stores.h"

namespace embedrec::tenants {

struct RetentionOptions {
  int64_t event_days = 30;          // 0: events are kept
  int64_t idempotency_hours = 168;  // 0: keys are kept
  int64_t archive_days = 90;        // uploads' archived files (uploads/<kind>_<yyyymmdd>_…); 0: kept
  // The tenant's blob area (archives); null: archives are not pruned.
  std::function<StatusOr<std::unique_ptr<blob::BlobStore>>(const std::string& tenant_id)> open_blobs;
  // Removes what writers stopped mid-write (a killed process) left in the
  // blob areas, started before the given time (blob::TenantBlobStores::
  // RemoveAbandoned); null: not done.
  std::function<StatusOr<int64_t>(int64_t started_before_ms)> remove_abandoned_blobs;
  int64_t abandoned_after_ms = 86'400'000;  // a write this old is not running any more
  int64_t interval_ms = 3'600'000;
  // Whether this node takes this pass (scale-out: one node at a time, by a
  // lease in the control store); null: every pass runs. RunOnce itself
  // always runs.
  std::function<bool()> take_turn;
  int64_t batch = 10'000;           // events deleted per statement
  // The last event seq published for a tenant (the relay's position); null
  // when nothing publishes (every event may go).
  std::function<StatusOr<int64_t>(store::TenantStore&)> published_through;
};

class Retention {
 public:
  Retention(store::ControlStore* control, store::TenantStores* stores, const Clock* clock, RetentionOptions options);
  ~Retention();  // stops

  void Start();
  void Stop();
  // One pass over every tenant; the rows deleted.
  StatusOr<int64_t> RunOnce();

 private:
  StatusOr<int64_t> PruneTenant(const std::string& tenant_id, int64_t now_ms);
  StatusOr<int64_t> PruneArchives(const std::string& tenant_id, int64_t before_ms);

  store::ControlStore* control_;
  store::TenantStores* stores_;
  const Clock* clock_;
  const RetentionOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace embedrec::tenants
