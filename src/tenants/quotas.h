// Admission of what a tenant adds to its data against its limits
// (tenants/tenant_limits.h): uploads (how many run at once, the rows and
// bytes its space already holds, how many bytes one upload may still add)
// and tracked events (the rows stored). Training time is checked by the
// training service (training/training_quota.h).
//
// Counts of uploads in progress are this process's (a cluster admits up to
// max_concurrent_uploads per node); stored rows and bytes are the tenant's
// own, read at most once per `cache_ms` per tenant, and only when a limit
// checks them. Tracked events are admitted against the figures last read
// plus the events admitted since, and a stale figure is read again in the
// background; while a tenant's figures are unknown (never read since start,
// or its data changed) its events are admitted up to a thousandth of its row
// limit (kUnknownAllowance: at most that far past a full space), and beyond
// it wait, off the caller, for the read that makes them known.
//
// Thread safety: safe for concurrent use.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "tenants/tenant_limits.h"

namespace embedrec::tenants {

class DataQuotas {
 public:
  struct Options {
    // What the tenant's space holds on disk, and its stored rows (items,
    // users and interactions). Either may be null: not checked.
    std::function<StatusOr<int64_t>(const std::string& tenant_id)> storage_bytes;
    std::function<StatusOr<int64_t>(const std::string& tenant_id)> rows;
    const Clock* clock = nullptr;
    int64_t cache_ms = 60'000;
    // Runs a read of the figures later, on another thread (tracked events'
    // admission); null: on the caller.
    std::function<void(const std::string& tenant_id, std::function<void()> task)> background;
  };
  explicit DataQuotas(Options o) : o_(std::move(o)) {}
  // Unknown figures admit tracked rows up to max_rows / this without waiting.
  static constexpr int64_t kUnknownAllowance = 1000;

  // An admitted upload: counts as running until destroyed.
  class Slot {
   public:
    Slot(DataQuotas* q, std::string tenant, int64_t max_bytes)
        : q_(q), tenant_(std::move(tenant)), max_bytes_(max_bytes) {}
    ~Slot();
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    // The most bytes this upload's body may have (0: no limit beyond the route's).
    int64_t max_bytes() const { return max_bytes_; }

   private:
    DataQuotas* q_;
    std::string tenant_;
    int64_t max_bytes_;
  };

  // 429 too_many_uploads (retry_after_seconds 1) while the tenant has
  // max_concurrent_uploads running; 403 row_quota_exceeded or
  // storage_quota_exceeded when its space is full.
  StatusOr<std::unique_ptr<Slot>> Admit(const std::string& tenant_id, const TenantLimits& limits);
  // `rows` tracked rows (events): `then` gets OK, or 403 row_quota_exceeded
  // or storage_quota_exceeded when the space is full. Called on the caller
  // when the figures are known; when they are unknown, once the read that
  // makes them known ends, on the background's thread (the caller never
  // reads when a background is given), in the order the events came.
  void AdmitTracked(const std::string& tenant_id, const TenantLimits& limits, int64_t rows,
                    std::function<void(Status)> then);
  // The same, deciding at once where it can (known figures, or within the
  // allowance): the verdict; nullopt when the event must wait for the read
  // — then, with `then` given, it waits (taken from *then) as above, and
  // without, nothing is counted. The caller's fast path: no callback made
  // while the figures are known.
  std::optional<Status> TryAdmitTracked(const std::string& tenant_id, const TenantLimits& limits, int64_t rows,
                                        std::function<void(Status)>* then = nullptr);
  // The same, waiting: unknown figures are read on the caller.
  Status AdmitTracked(const std::string& tenant_id, const TenantLimits& limits, int64_t rows);
  // The tenant's data changed (an upload ended): its figures are read again.
  void Changed(const std::string& tenant_id);

 private:
  struct Figures {
    int64_t read_at_ms = -1;
    int64_t storage_bytes = -1, rows = -1;  // -1: unknown (not checked)
    int64_t tracked = 0;                    // rows of tracked events admitted since the read
    bool rows_tried = false, bytes_tried = false;  // read (a failed read leaves its figure -1)
  };
  struct Waiting {
    TenantLimits limits;
    int64_t rows;
    std::function<void(Status)> then;
  };
  // Whether `limits` check the rows / the bytes (a limit set, and a way to read it).
  bool ChecksRows(const TenantLimits& l) const { return l.max_rows > 0 && o_.rows != nullptr; }
  bool ChecksBytes(const TenantLimits& l) const { return l.max_storage_bytes > 0 && o_.storage_bytes != nullptr; }
  // The figures `limits` check (the others stay -1), from the cache unless
  // `fresh`; kept unless the tenant's data changed while they were read
  // (`*current` says which).
  Figures Read(const std::string& tenant_id, const TenantLimits& limits, bool fresh = false,
               bool* current = nullptr);
  // Admits `rows` from the known figures in `f`; `*stale` when a read is due.
  Status AdmitKnown(Figures& f, const TenantLimits& limits, int64_t rows, bool* stale) const;
  // 403 when the figures say the space is full for `adding` more rows.
  static Status Full(const Figures& f, const TenantLimits& limits, int64_t adding);
  // Whether `f` lacks a figure `limits` check.
  bool Unknown(const Figures& f, const TenantLimits& limits) const;
  // Reads the tenant's figures afresh (again if its data changed meanwhile),
  // then admits the events that waited for them.
  void ReadAndAdmitWaiting(const std::string& tenant_id, const TenantLimits& limits);

  Options o_;
  std::mutex mu_;
  std::map<std::string, int> running_;
  std::map<std::string, Figures> figures_;
  std::map<std::string, int64_t> changes_;  // Changed() calls per tenant: a read older than one is read again
  std::set<std::string> reading_;           // tenants whose background read is posted and not finished
  std::map<std::string, std::vector<Waiting>> waiting_;  // events waiting for unknown figures, in order
};

}  // namespace embedrec::tenants
