// Per-tenant storage spaces: each tenant's data lives in a database (SQLite)
// or a schema (PostgreSQL) of its own, and a blob area, so isolation holds
// by construction: a
// handler holding tenant A's store cannot read tenant B's rows, whatever its
// WHERE clauses say. A tenant's space can be exported or deleted as a unit.
//
// Thread safety: all classes here are safe for concurrent use. Methods block
// on I/O: call from worker threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "common/strings.h"
#include "store/experiment_records.h"
#include "store/training_records.h"

namespace embedrec::store {

struct ItemRecord {
  std::string item_id;
  std::string name, category, description, brand, image_url;
  std::optional<double> price;
  std::vector<std::string> tags;
  bool available = true;
  std::string properties_json = "{}";  // extra columns, as a JSON object
};

struct InteractionRecord {
  int64_t user_idx = 0;
  std::optional<int64_t> item_idx;  // absent for impressions without an item (stored as -1)
  std::string type;
  int64_t ts_ms = 0;
  std::optional<double> rating, duration_seconds, value, quantity;
  std::string context_json, metadata_json;  // empty: none
  std::string recommendation_id;
};

struct UploadRecord {
  std::string id;
  std::string kind;              // "items" | "interactions"
  int64_t created_at_ms = 0;
  std::string storage_location;
  std::string result_json;       // the upload's answer
};

// Writes of one upload, in one transaction: Commit makes them all visible;
// destroying the batch without Commit leaves the tenant's data as it was.
// Not thread safe: one upload, one thread.
class ImportBatch {
 public:
  virtual ~ImportBatch() = default;
  // Inserts or replaces the item (by item_id); an item replaced is undeleted.
  virtual Status UpsertItem(const ItemRecord& item, int64_t now_ms) = 0;
  // UpsertItem of each, in order (of items with the same item_id the last
  // wins; new items get increasing item_idx in the order given): one round
  // trip on a server, where one per item kept the tenant's writers waiting
  // through a catalog's upload.
  virtual Status UpsertItems(const std::vector<ItemRecord>& items, int64_t now_ms) {
    for (const auto& it : items) RETURN_IF_ERROR(UpsertItem(it, now_ms));
    return Status::Ok();
  }
  // With mode=replace: soft-deletes every item this batch did not upsert.
  virtual StatusOr<int64_t> DeleteItemsNotUpserted(int64_t now_ms) = 0;
  // The user's user_idx; the user is added when unknown (a user created
  // since an IdMap snapshot is found, not added twice). Users added one after
  // another get increasing user_idx.
  virtual StatusOr<int64_t> EnsureUser(const std::string& user_id, int64_t now_ms) = 0;
  // EnsureUser of each, in order (one round trip on a server).
  virtual StatusOr<std::vector<int64_t>> EnsureUsers(const std::vector<std::string>& user_ids, int64_t now_ms) {
    std::vector<int64_t> out;
    out.reserve(user_ids.size());
    for (const auto& id : user_ids) {
      ASSIGN_OR_RETURN(int64_t idx, EnsureUser(id, now_ms));
      out.push_back(idx);
    }
    return out;
  }
  // A hint before the rows: the stored users (user_idx, increasing) whose
  // rows will come, so that a server reads their stored rows many users per
  // round trip (one per user kept an upload to a known tenant waiting).
  virtual void ExpectStoredUsers(std::vector<int64_t> user_idx) { (void)user_idx; }
  // False when an identical interaction (user, item, type, timestamp) exists.
  // The row is marked as this upload's. Fastest when called in key order
  // (user_idx, item_idx, type, ts_ms).
  virtual StatusOr<bool> InsertInteraction(const InteractionRecord& r) = 0;
  virtual Status RecordUpload(const UploadRecord& upload) = 0;
  // Appends to the tenant's durable event log (see events issue notes).
  virtual Status AppendEvent(const std::string& topic, const std::string& payload_json,
                             int64_t now_ms) = 0;
  virtual Status Commit() = 0;
};

// One real-time interaction to record.
struct TrackEvent {
  std::string user_id, item_id, type;
  int64_t ts_ms = 0;
  std::optional<double> rating, value, quantity;
  std::string context_json, metadata_json, recommendation_id;
  std::string idempotency_key;      // empty: none
  bool create_missing_item = false;  // else an unknown item is kNotFound
  // Set only when a journal is replayed (store/track_journal.h): the id and
  // time the event was given when it was first written and acknowledged.
  std::string replay_interaction_id;
  int64_t replay_processed_at_ms = 0;
};

struct TrackResult {
  Status status;                // kNotFound for an unknown item
  std::string interaction_id;
  int64_t processed_at_ms = 0;
  bool duplicate = false;       // identical interaction already stored
  bool replayed = false;        // idempotency key seen before: the first answer's id
};

// Raw counts behind the data-quality report.
struct DataCounts {
  int64_t items = 0, users = 0, interactions = 0;
  int64_t items_without_interactions = 0;
  int64_t users_with_one_interaction = 0;
  std::vector<std::pair<std::string, int64_t>> per_type;
  int64_t filled_item_fields = 0;   // non-empty name, category, price, brand, description, image_url
  int64_t latest_interaction_ms = 0;  // 0 when none
  int64_t upload_rows = 0, upload_rejected = 0, upload_duplicates = 0;  // over all uploads
};

// One tenant's database: catalog, users, interactions, uploads, events.
class TenantStore {
 public:
  virtual ~TenantStore() = default;
  virtual const std::string& tenant_id() const = 0;
  virtual Status Ping() = 0;
  virtual int SchemaVersion() const = 0;

  // Records real-time interactions durably before returning (committed, or
  // in the embedded mode written to the tenant's tracking journal and its
  // open transaction: a killed process loses none, and every later use of
  // the store sees them): users are created on demand, a user-interactions
  // event is appended per new interaction. Concurrent calls may share one
  // commit (group commit). One result per event, in order; the call itself
  // fails only on I/O errors, and with kUnavailable (reason "busy", retry
  // after 5 s) when the tenant's write lock stayed taken kTrackLockWaitMs
  // (an upload's write: the event is not stored).
  static constexpr int kTrackLockWaitMs = 5000;
  virtual StatusOr<std::vector<TrackResult>> Track(const std::vector<TrackEvent>& events) = 0;
  // The same without blocking the caller: `done` is called once, when the
  // events are durable as above: on the caller's thread when they could be
  // written at once (the embedded mode, a transaction open and the writer
  // free: no waiting, no hand-off), else as `on` says. `done` must not call
  // Track (it would wait for itself).
  using TrackCallback = std::function<void(StatusOr<std::vector<TrackResult>>)>;
  enum class TrackDoneOn {
    kCallbackRunner,  // handed to the stores' CallbackRunner (the writing thread only goes on
                      // writing), or without one called by the thread that wrote them
    kWriter,          // called by the thread that wrote them: `done` only hands its work on
                      // (e.g. to the request's network thread), so no other thread is woken for it
  };
  virtual void TrackAsync(std::vector<TrackEvent> events, TrackCallback done, TrackDoneOn on) = 0;

  // Starts an upload's transaction. It holds the tenant's write lock until
  // it commits or is dropped: read and validate a file before, not inside it.
  virtual StatusOr<std::unique_ptr<ImportBatch>> BeginImport() = 0;
  // Snapshots (no lock held) for validating an upload in memory:
  // item_id → item_idx of live items, and user_id → user_idx of every user.
  virtual StatusOr<IdMap> LoadItemIndex() = 0;
  virtual StatusOr<IdMap> LoadUserIndex() = 0;
  // kNotFound for an unknown or deleted item.
  virtual StatusOr<ItemRecord> GetItem(const std::string& item_id) = 0;
  // Live (not deleted) items.
  virtual StatusOr<int64_t> CountItems() = 0;
  // Live items after `after_idx` in catalog order, optionally of one category.
  // Each item's item_idx is returned in `idx` (the next page's after_idx).
  virtual StatusOr<std::vector<ItemRecord>> ListItems(int64_t after_idx, int limit,
                                                      const std::string& category,
                                                      std::vector<int64_t>* idx) = 0;
  // Soft-deletes an item (kept for history). kNotFound for an unknown item.
  virtual Status DeleteItem(const std::string& item_id, int64_t now_ms) = 0;
  // A user's interactions, newest first, skipping `offset`. kNotFound for an unknown user.
  struct UserInteraction {
    std::string item_id;  // empty for impressions without an item
    std::string type;
    int64_t ts_ms = 0;
    std::optional<double> rating, value, quantity;
    std::string interaction_id;
  };
  virtual StatusOr<std::vector<UserInteraction>> ListUserInteractions(const std::string& user_id,
                                                                       int64_t offset,
                                                                       int limit) = 0;
  // Each distinct (item, type) of a user's whole history, at any length
  // (an index range, not a scan of the user's events): what exclusions need.
  // Empty for an unknown user.
  struct UserItemType {
    std::string item_id, type;
  };
  virtual StatusOr<std::vector<UserItemType>> ListUserItemTypes(const std::string& user_id) = 0;
  // What serving reads of a user on first use: ListUserItemTypes and the
  // `recent` newest interactions (ListUserInteractions), both empty for an
  // unknown user. A backend whose reads are round trips does it in one.
  struct UserState {
    std::vector<UserItemType> item_types;
    std::vector<UserInteraction> recent;  // newest first
  };
  virtual StatusOr<UserState> LoadUserState(const std::string& user_id, int recent) {
    UserState out;
    ASSIGN_OR_RETURN(out.item_types, ListUserItemTypes(user_id));
    auto history = ListUserInteractions(user_id, 0, recent);
    if (history.ok()) out.recent = std::move(history).value();
    else if (history.status().code() != StatusCode::kNotFound) return history.status();
    return out;
  }
  // Aggregates over the whole tenant (scans: call after uploads, not per request).
  virtual StatusOr<DataCounts> CountData() = 0;
  // What the tenant's tables take in a database server (indexes included);
  // kFailedPrecondition for a backend whose files say it (SQLite: the directory).
  virtual StatusOr<int64_t> DatabaseBytes() { return Status::FailedPrecondition("the tenant's files say it"); }
  // Uploads, newest first.
  virtual StatusOr<std::vector<UploadRecord>> ListUploads(int limit) = 0;
  // Events with seq > after_seq, oldest first: {seq, topic, payload_json}.
  struct Event {
    int64_t seq;
    std::string topic;
    std::string payload_json;
    int64_t created_at_ms;
  };
  virtual StatusOr<std::vector<Event>> ReadEvents(int64_t after_seq, int limit) = 0;
  // The newest event's sequence number (0 when none): a version of the data.
  virtual StatusOr<int64_t> LatestEventSeq() = 0;
  // The topics of events that change the data other than by tracking (an
  // interactions upload; an item upload, change or delete).
  static constexpr const char* kInteractionsUploaded = "interactions-uploaded";
  static constexpr const char* kItemCatalogUpdated = "item-catalog-updated";
  // Whether an event of those topics came after event `seq`.
  virtual StatusOr<bool> DataChangedSince(int64_t seq) = 0;
  // Whether the catalog changed after event `seq` (an item uploaded,
  // written, deleted, or created by a tracked interaction): an index probe.
  virtual StatusOr<bool> CatalogChangedSince(int64_t seq) = 0;
  // Interactions that arrived after event `after_seq`: one per tracked
  // interaction, the accepted rows of each interactions upload. Counting
  // stops once `limit` is reached (the answer is then at least `limit`).
  virtual StatusOr<int64_t> CountNewInteractions(int64_t after_seq, int64_t limit) = 0;

  // What serving derives from the data and keeps across restarts, by name
  // (e.g. popularity): its bytes and the event position (LatestEventSeq) it
  // reflects. Put replaces; Get is kNotFound when there is none.
  struct Snapshot {
    int64_t position = 0;
    std::string bytes;
    int64_t created_at_ms = 0;  // as Put was given it
  };
  // Retention. Deletes up to `limit` of the oldest log events created
  // before `before_ms` with seq <= `through_seq` (events not yet published
  // are kept); the number deleted.
  virtual StatusOr<int64_t> PruneEvents(int64_t before_ms, int64_t through_seq, int64_t limit) = 0;
  // Deletes idempotency keys recorded before `before_ms` (a replay after
  // that is a new event); the number deleted.
  virtual StatusOr<int64_t> PruneIdempotencyKeys(int64_t before_ms) = 0;
  virtual Status PutSnapshot(const std::string& name, int64_t position, std::string_view bytes, int64_t now_ms) = 0;
  virtual StatusOr<Snapshot> GetSnapshot(const std::string& name) = 0;

  // Every interaction that names an item, in storage order (user, item,
  // type, time), for training. `fn` runs while a read snapshot is held.
  struct InteractionRow {
    int64_t user_idx = 0, item_idx = 0;
    std::string type;
    int64_t ts_ms = 0;
    std::string context_json;  // empty: none
  };
  // Stored interactions that name an item, their distinct (user, item)
  // pairs, distinct items and distinct users (one full scan: call per
  // training request, not per tracked event).
  struct InteractionCounts {
    int64_t events = 0, pairs = 0, items = 0, users = 0;
    int64_t types = 0;  // distinct interaction types, counted up to 2 (1: one type only)
  };
  virtual StatusOr<InteractionCounts> CountInteractions() = 0;
  virtual Status ScanInteractions(const std::function<void(const InteractionRow&)>& fn) = 0;
  // The tenant's training jobs and model versions.
  virtual TrainingRecords& training() = 0;
  // The tenant's experiments.
  virtual ExperimentRecords& experiments() = 0;
};

// What another node changed of a tenant (scale-out: nodes share the stores
// and keep their own caches).
struct RemoteChange {
  enum Kind {
    kModels,  // a deploy or traffic split: its served models are stale
    kData,    // an upload or catalog change: its catalog and history are stale
    kTenant,  // its settings, status or existence changed (control data)
    kTracked, // an interaction was tracked: `event` holds it
    kCredentials,  // a key, user or session changed (any tenant: tenant_id "*")
  };
  std::string tenant_id;
  Kind kind;
  // kTracked: the event as JSON {"user_id","item_id","type","ts_ms","context"}.
  std::string event;
};

// The set of tenant spaces.
class TenantStores {
 public:
  virtual ~TenantStores() = default;
  // Called (on a thread of the stores') for each change another node made,
  // as soon as it is committed; set once, before use. Backends that only
  // one process uses never call it.
  virtual void OnRemoteChange(std::function<void(const RemoteChange&)> fn) {}
  // Tells the other nodes of a change this node made outside the stores'
  // own writes (kTenant: control data). Nothing for a one-process backend.
  virtual void Broadcast(const RemoteChange& change) {}
  // Creates the space of a new tenant (idempotent). kInvalidArgument for an id
  // that is not a lowercase UUID (ids become directory names).
  virtual Status Create(const std::string& tenant_id) = 0;
  // The tenant's store, opened once and shared. kNotFound when the space does not exist.
  virtual StatusOr<std::shared_ptr<TenantStore>> Open(const std::string& tenant_id) = 0;
  // True when Open(tenant_id) would answer without I/O (the store is open).
  virtual bool IsOpen(const std::string& tenant_id) = 0;
  // Stores open now (an idle one may be closed, and opened again on use).
  virtual size_t OpenCount() = 0;
  // Closes the tenant's store now if nobody holds it (it opens again on use).
  virtual void CloseIfUnused(const std::string& tenant_id) = 0;
  // Called (outside any lock of the stores) once per sweep with the ids of the
  // tenants whose stores it closed for being idle: what others keep of an
  // idle tenant in memory can go too. Set once, before use.
  virtual void OnIdleClose(std::function<void(const std::vector<std::string>& tenant_ids)> fn) = 0;
  // OK when new tenant spaces can be created and written now (readiness).
  virtual Status Ping() = 0;
  // Closes and deletes the tenant's whole space. Holders of the store keep a
  // usable handle until they drop it. OK when already absent.
  virtual Status Drop(const std::string& tenant_id) = 0;
};

// Runs a store's callback (TrackAsync's `done`) for tenant `tenant_id`
// elsewhere: e.g. on the app's worker pool, in the tenant's queue.
using CallbackRunner = std::function<void(const std::string& tenant_id, std::function<void()> callback)>;

// Embedded backend: `root`/<tenant_id>/tenant.db and `root`/<tenant_id>/blobs/.
// `clock` stamps what the stores record (processed_at of tracked events);
// `run_callback` (null: the writing thread calls them) receives callbacks.
// A store that nobody holds and nobody opened for `idle_close_ms` (0: never)
// is closed: an idle tenant keeps no database open. Tracked events are
// journaled and committed at most `track_commit_ms` after the first of them
// (store/track_committer.h).
inline constexpr int64_t kDefaultIdleCloseMs = 10 * 60 * 1000;
inline constexpr int kDefaultTrackCommitMs = 20;
std::unique_ptr<TenantStores> NewSqliteTenantStores(const std::string& root, const Clock* clock = RealClock(),
                                                    CallbackRunner run_callback = nullptr,
                                                    int64_t idle_close_ms = kDefaultIdleCloseMs,
                                                    int track_commit_ms = kDefaultTrackCommitMs);

// Scale-out backend: a schema per tenant ("tenant_<uuid hex>") in the
// PostgreSQL database at `url`, shared by every node, over one pool of
// `pool_size` connections. kUnavailable when the server cannot be reached.
struct PgNodeOptions {
  std::string node;  // this process among the nodes ("": a random name)
  // Tracked events reach the other nodes by NOTIFY; false when they read
  // them from the published events instead (Kafka).
  bool notify_tracked = true;
};
StatusOr<std::unique_ptr<TenantStores>> NewPostgresTenantStores(const std::string& url,
                                                                const Clock* clock = RealClock(),
                                                                CallbackRunner run_callback = nullptr,
                                                                int pool_size = 16, PgNodeOptions node = {});

// True for a lowercase RFC 4122 UUID string.
bool IsUuid(std::string_view s);

}  // namespace embedrec::store
