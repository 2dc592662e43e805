// The counts behind a tenant's data-quality report (store::TenantStore::
// CountData: a full scan of its catalog and history), scanned again only when
// the data moved on, and never on a dashboard's request once counted.
//
// Counts are kept in memory and in the tenant's database (a snapshot named
// "data-counts", with the event position it reflects), so a restart does not
// scan again. Exact() answers as of the tenant's newest event, scanning when
// the data changed (GET /api/v1/data/quality). Recent() answers what is kept
// at once, however far behind, and rescans in the background when the kept
// counts are behind the data and older than a limit (the dashboard); while
// a tenant's first count runs it answers nothing. Refresh() counts again in
// the background (after an upload), so what is kept is seldom far behind.
//
// Thread safety: safe for concurrent use. A tenant's background rescans run
// one at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "store/tenant_stores.h"

namespace embedrec::ingest {

struct CountedData {
  store::DataCounts counts;
  int64_t position = 0;     // the newest event when counted (TenantStore::LatestEventSeq)
  int64_t counted_ms = 0;   // when
};

class DataQuality {
 public:
  // `background(tenant_id, task)` runs a rescan later on another thread
  // (serving/background.h); without one, Recent() rescans on its caller.
  using Background = std::function<void(const std::string& tenant_id, std::function<void()> task)>;
  DataQuality(store::TenantStores* stores, const Clock* clock, Background background = nullptr);

  StatusOr<CountedData> Exact(const std::string& tenant_id);
  // nullopt: never counted, a first count now runs in the background.
  StatusOr<std::optional<CountedData>> Recent(const std::string& tenant_id, int64_t rescan_after_ms);
  // Items, users and interactions stored, without a scan once counted: the
  // kept counts plus the interactions added since (a lower bound: users a
  // tracked event created since are not in it). A first count scans.
  StatusOr<int64_t> StoredRows(const std::string& tenant_id);
  // The tenant's data changed: counted again in the background (at most one
  // count at a time per tenant; without a background, not at all).
  void Refresh(const std::string& tenant_id);
  // A deleted tenant: its counts are dropped from memory.
  void Forget(const std::string& tenant_id);

  // Serialized counts, as kept in the snapshot (exposed for tests).
  static std::string Encode(const CountedData& c);
  static StatusOr<CountedData> Decode(std::string_view bytes);

 private:
  // From memory, else the tenant's snapshot; kNotFound when never counted.
  StatusOr<CountedData> Kept(const std::string& tenant_id, store::TenantStore& store);
  StatusOr<CountedData> Count(const std::string& tenant_id, store::TenantStore& store);
  void Remember(const std::string& tenant_id, const CountedData& c);
  // Posts a count unless one is queued or running; false when none can run.
  bool CountInBackground(const std::string& tenant_id);

  store::TenantStores* stores_;
  const Clock* clock_;
  Background background_;
  std::mutex mu_;
  std::map<std::string, CountedData> kept_;  // GUARDED_BY(mu_)
  std::set<std::string> rescanning_;         // GUARDED_BY(mu_)
};

}  // namespace embedrec::ingest
