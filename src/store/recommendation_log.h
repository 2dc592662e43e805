// What was recommended to whom: one record per answer a shop's page showed
// (its recommendation_id, the items in the order shown with their scores,
// the model version, the context), so analytics can attribute later views,
// carts and purchases that carry the id, and compare model versions.
//
// Appending never blocks the answer: records are queued and written in the
// background, in batches. A record is readable by Find and Read once Flush
// has returned, or a moment after Append. When the queue is full (a store
// that cannot keep up) records are dropped and counted, never the answer.
//
// Backends: SQLite (embedded: one log database per tenant, beside its
// tenant database) and PostgreSQL (scale-out: a table in the tenant's
// schema, shared by every node), both behind the same queue
// (store/recommendation_rows.h); every backend passes
// tests/store/recommendation_log_test.cc.
//
// Thread safety: safe for concurrent use. Find, Read, Flush and DropTenant
// block on I/O: call them from workers; Append never does.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace embedrec::store {

struct ShownItem {
  std::string item_id;
  double score = 0;  // as answered; position is the index in `items` + 1
};

struct RecommendationRecord {
  std::string id;         // recommendation_id, unique per answer
  std::string tenant_id;
  std::string user_id;    // empty for answers that are not about a user (similar items)
  std::string endpoint;   // "recommendations", "similar"
  std::string model_version;  // empty when no model answered
  std::string algorithm;
  std::vector<ShownItem> items;
  std::string context_json = "{}";  // the request's context (page, device, current_item, …)
  int64_t ts_ms = 0;
  bool cached = false;    // answered from the result cache
  // The experiment arm the user is in ("control" | "challenger"), when an
  // experiment chose the answering version; empty otherwise.
  std::string experiment_id, arm;
};

class RecommendationLog {
 public:
  virtual ~RecommendationLog() = default;

  // Queues the record (copied); never blocks on I/O.
  virtual void Append(RecommendationRecord record) = 0;
  // Returns once every record appended before the call is written (or
  // dropped because its tenant was dropped or its space is gone).
  virtual Status Flush() = 0;

  // The tenant's record with this id; nullopt when there is none (another
  // tenant's id included).
  virtual StatusOr<std::optional<RecommendationRecord>> Find(const std::string& tenant_id,
                                                             const std::string& id) = 0;
  // The tenant's records with from_ms <= ts_ms < to_ms, oldest first (ties
  // by id), at most `limit`, after the record (after_ts_ms, after_id) when
  // after_id is set: a page, and the next page starts after its last record.
  struct Range {
    int64_t from_ms = 0, to_ms = INT64_MAX;
    int limit = 1000;
    int64_t after_ts_ms = 0;
    std::string after_id;
  };
  virtual StatusOr<std::vector<RecommendationRecord>> Read(const std::string& tenant_id,
                                                           const Range& range) = 0;

  // The user's records with from_ms <= ts_ms < to_ms, newest first, at most
  // `limit` (answers not about a user are never returned), with what
  // attribution reads: id, ts_ms, user_id, endpoint, model_version, items,
  // experiment_id and arm (a backend may leave algorithm, context_json and
  // cached unset). Reads what is written: call Flush first to see every
  // append before it (a caller reading many users flushes once).
  virtual StatusOr<std::vector<RecommendationRecord>> ReadUser(const std::string& tenant_id,
                                                               const std::string& user_id, int64_t from_ms,
                                                               int64_t to_ms, int limit) = 0;

  // The distinct users of the tenant's written records with ts_ms >= from_ms,
  // at most `limit` of them.
  virtual StatusOr<std::vector<std::string>> UsersSince(const std::string& tenant_id, int64_t from_ms,
                                                        size_t limit) = 0;

  // Forgets the tenant (its queued records, its open handles) before its
  // space is deleted; later appends for it are dropped. The stored records
  // go with the tenant's space.
  virtual Status DropTenant(const std::string& tenant_id) = 0;
  // Closes the tenant's open handles (an idle tenant); its records stay and
  // later appends and reads open them again.
  virtual void CloseTenant(const std::string& tenant_id) = 0;

  // Records dropped because the queue was full or the write failed.
  virtual uint64_t dropped() const = 0;
  // Memory the backend holds to find users' recent answers (estimated; 0
  // for one that keeps none).
  virtual int64_t resident_bytes() const = 0;
  // Where a tenant's share of resident_bytes() is told as it changes (from
  // the writer's thread after a batch, or a reader's after it filled the
  // tenant's index; with no lock of the log held, so the callee may close
  // tenants): counted with serving's memory under its budget. A change of
  // at most a sixteenth of what was last told (and at most 64 KiB) is not
  // told; a closed tenant's share goes without a word (the wiring forgets
  // the tenant whole when it closes it). Set once, before use.
  using ResidentReport = std::function<void(const std::string& tenant_id, int64_t bytes)>;
  virtual void SetResidentReport(ResidentReport report) = 0;
};

struct RecommendationLogOptions {
  size_t max_queued = 100000;      // records waiting to be written; more are dropped
  // A batch is written at least this often: small batches keep the writer's
  // bursts short (at ~25k answers/s, 200 ms batches left the 8-connection
  // p99 at twice the unlogged one; with 50 ms it was 2.1–2.3 ms against
  // 1.6–2.0 ms for a build without the log, in the same run).
  int64_t flush_interval_ms = 50;
  int64_t retention_days = 90;      // older records are deleted (checked hourly per tenant)
};

// Embedded backend: `root`/<tenant_id>/recommendations.db, written by one
// background thread; a tenant whose directory does not exist gets nothing
// written (its records are dropped).
std::unique_ptr<RecommendationLog> NewSqliteRecommendationLog(const std::string& root,
                                                              const Clock* clock = RealClock(),
                                                              RecommendationLogOptions options = {});

// Scale-out backend: the table `recommendations` in each tenant's schema of
// the PostgreSQL database at `url` (made by NewPostgresTenantStores), over a
// pool of its own. kUnavailable when the database cannot be reached.
StatusOr<std::unique_ptr<RecommendationLog>> NewPostgresRecommendationLog(const std::string& url,
                                                                          const Clock* clock = RealClock(),
                                                                          RecommendationLogOptions options = {},
                                                                          int pool_size = 4);

}  // namespace embedrec::store
