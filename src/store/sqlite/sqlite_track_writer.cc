#include "store/sqlite/sqlite_track_writer.h"
#include "store/track_committer.h"

#include <algorithm>
#include <optional>

#include "common/json_text.h"
#include "common/random.h"
#include "store/sqlite/sqlite_tenant_schema.h"

namespace embedrec::store {

namespace {

StatusOr<std::optional<int64_t>> Lookup(SqliteConn& c, const char* sql, const std::string& key) {
  ASSIGN_OR_RETURN(auto st, c.Prepare(sql));
  st->Bind(1, key);
  ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) return std::optional<int64_t>();
  return std::optional<int64_t>(st->Int(0));
}

StatusOr<TrackResult> WriteOne(SqliteConn& c, const Clock* clock, const TrackEvent& ev) {
  TrackResult r;
  r.processed_at_ms = ev.replay_processed_at_ms > 0 ? ev.replay_processed_at_ms : clock->NowMillis();
  if (!ev.idempotency_key.empty()) {
    ASSIGN_OR_RETURN(auto st, c.Prepare("SELECT interaction_id FROM idempotency_keys WHERE key=?"));
    st->Bind(1, ev.idempotency_key);
    ASSIGN_OR_RETURN(bool row, st->Step());
    if (row) {
      r.interaction_id = st->Text(0);
      r.replayed = true;
      return r;
    }
  }
  std::optional<int64_t> item_idx;
  if (!ev.item_id.empty()) {
    ASSIGN_OR_RETURN(item_idx, Lookup(c, "SELECT item_idx FROM items WHERE item_id=? AND deleted=0",
                                      ev.item_id));
    if (!item_idx) {
      if (!ev.create_missing_item) {
        r.status = Status::NotFound("item '" + ev.item_id +
                                    "' is not in the catalog; upload it first or enable "
                                    "settings.auto_create_items")
                       .WithReason("unknown_item");
        return r;
      }
      ASSIGN_OR_RETURN(auto ins, c.Prepare(
          "INSERT INTO items (item_id, created_at_ms, updated_at_ms) VALUES (?,?,?) "
          "ON CONFLICT(item_id) DO UPDATE SET deleted=0, updated_at_ms=excluded.updated_at_ms"));
      ins->Bind(1, ev.item_id).Bind(2, r.processed_at_ms).Bind(3, r.processed_at_ms);
      RETURN_IF_ERROR(ins->Run());
      ins.reset();
      ASSIGN_OR_RETURN(item_idx, Lookup(c, "SELECT item_idx FROM items WHERE item_id=?", ev.item_id));
      // The catalog changed: serving reads it again (CatalogChangedSince).
      RETURN_IF_ERROR(AppendEventRow(c, TenantStore::kItemCatalogUpdated,
                                     "{\"created_item_id\":" + JsonQuote(ev.item_id) + "}", r.processed_at_ms));
    }
  }
  ASSIGN_OR_RETURN(auto user_idx, Lookup(c, "SELECT user_idx FROM users WHERE user_id=?", ev.user_id));
  if (!user_idx) {
    ASSIGN_OR_RETURN(auto ins, c.Prepare("INSERT INTO users (user_id, created_at_ms) VALUES (?,?)"));
    ins->Bind(1, ev.user_id).Bind(2, r.processed_at_ms);
    RETURN_IF_ERROR(ins->Run());
    user_idx = static_cast<int64_t>(sqlite3_last_insert_rowid(c.raw()));
  }
  r.interaction_id = ev.replay_interaction_id.empty() ? NewId("int") : ev.replay_interaction_id;
  InteractionRecord row;
  row.user_idx = *user_idx;
  row.item_idx = item_idx;
  row.type = ev.type;
  row.ts_ms = ev.ts_ms;
  row.rating = ev.rating;
  row.value = ev.value;
  row.quantity = ev.quantity;
  row.context_json = ev.context_json;
  row.metadata_json = ev.metadata_json;
  row.recommendation_id = ev.recommendation_id;
  ASSIGN_OR_RETURN(auto insert, c.Prepare(kInsertInteractionSql));
  ASSIGN_OR_RETURN(bool inserted, InsertInteractionRow(c, *insert, row, r.interaction_id));
  insert.reset();
  if (!inserted) {
    // The same interaction is stored already: answer with its id.
    ASSIGN_OR_RETURN(auto q, c.Prepare(
        "SELECT COALESCE(interaction_id, '') FROM interactions WHERE user_idx=? AND item_idx=? "
        "AND type=? AND ts_ms=?"));
    q->Bind(1, *user_idx).Bind(2, item_idx.value_or(-1)).Bind(3, ev.type).Bind(4, ev.ts_ms);
    ASSIGN_OR_RETURN(bool row, q->Step());
    r.interaction_id = row ? q->Text(0) : std::string();
    r.duplicate = true;
  } else {
    const std::string payload = TrackedEventPayload(r.interaction_id, ev, *user_idx, item_idx.value_or(-1));
    ASSIGN_OR_RETURN(auto e, c.Prepare(
        "INSERT INTO events (topic, payload, created_at_ms) VALUES ('user-interactions',?,?)"));
    e->Bind(1, payload).Bind(2, r.processed_at_ms);
    RETURN_IF_ERROR(e->Run());
  }
  if (!ev.idempotency_key.empty()) {
    ASSIGN_OR_RETURN(auto k, c.Prepare(
        "INSERT OR IGNORE INTO idempotency_keys (key, interaction_id, created_at_ms) VALUES (?,?,?)"));
    k->Bind(1, ev.idempotency_key).Bind(2, r.interaction_id).Bind(3, r.processed_at_ms);
    RETURN_IF_ERROR(k->Run());
  }
  return r;
}

Status WriteBatches(SqliteConn& c, const Clock* clock, const std::vector<TrackBatch*>& batches) {
  for (TrackBatch* b : batches) {
    for (const auto& ev : b->events) {
      ASSIGN_OR_RETURN(TrackResult r, WriteOne(c, clock, ev));
      b->results.push_back(std::move(r));
    }
  }
  return Status::Ok();
}

// The meta key of the last journal round a commit applied.
constexpr const char* kAppliedKey = "track_journal_applied_seq";

class SqliteTrackTransaction final : public TrackTransaction {
 public:
  SqliteTrackTransaction(SqliteDb* db, const Clock* clock) : db_(db), clock_(clock) {}
  ~SqliteTrackTransaction() override { Rollback(); }

  StatusOr<uint64_t> AppliedSeq() override {
    std::optional<SqliteDb::Lease> own;
    SqliteConn* c = lease_ ? &lease_->conn() : &own.emplace(db_->CheckoutUnsynced()).conn();
    ASSIGN_OR_RETURN(auto st, c->Prepare("SELECT value FROM meta WHERE key=?"));
    st->Bind(1, std::string_view(kAppliedKey));
    ASSIGN_OR_RETURN(bool row, st->Step());
    return row ? static_cast<uint64_t>(std::stoull(st->Text(0))) : uint64_t{0};
  }

  Status Write(const std::vector<TrackBatch*>& batches) override {
    if (!lease_) {
      lease_.emplace(db_->CheckoutUnsynced());
      // Tracked events meeting an upload's write lock give up after a
      // moment (refused as busy, nothing stored or journaled), rather than
      // holding every reader that waits for their commit as long as another
      // write may wait.
      lease_->conn().SetBusyTimeout(std::min(TenantStore::kTrackLockWaitMs, db_->busy_timeout_ms()));
      Status s = lease_->conn().Exec("BEGIN IMMEDIATE");
      lease_->conn().SetBusyTimeout(db_->busy_timeout_ms());
      if (!s.ok()) {
        lease_.reset();
        return s;
      }
      rounds_ = 0;
    }
    SqliteConn& c = lease_->conn();
    RETURN_IF_ERROR(c.Exec("SAVEPOINT track_round"));
    round_open_ = true;
    Status s = WriteBatches(c, clock_, batches);
    if (!s.ok()) EndRound(false);
    return s;
  }

  void EndRound(bool keep) override {
    if (round_open_) {
      SqliteConn& c = lease_->conn();
      if (keep && c.Exec("RELEASE track_round").ok()) {
        ++rounds_;
      } else {
        (void)c.Exec("ROLLBACK TO track_round");
        (void)c.Exec("RELEASE track_round");
      }
      round_open_ = false;
    }
    if (lease_ && rounds_ == 0) Rollback();  // nothing kept: no write lock held for nothing
  }

  Status Commit(uint64_t seq) override {
    if (!lease_) return Status::Ok();
    SqliteConn& c = lease_->conn();
    Status s = [&]() -> Status {
      ASSIGN_OR_RETURN(auto st, c.Prepare("INSERT INTO meta (key, value) VALUES (?, ?) "
                                          "ON CONFLICT(key) DO UPDATE SET value=excluded.value"));
      st->Bind(1, std::string_view(kAppliedKey)).Bind(2, std::to_string(seq));
      RETURN_IF_ERROR(st->Run());
      return c.Exec("COMMIT");
    }();
    if (!s.ok()) (void)c.Exec("ROLLBACK");
    lease_.reset();
    return s;
  }

  bool open() const override { return lease_.has_value(); }

  void Rollback() override {
    if (!lease_) return;
    (void)lease_->conn().Exec("ROLLBACK");
    lease_.reset();
    round_open_ = false;
  }

 private:
  SqliteDb* const db_;
  const Clock* const clock_;
  std::optional<SqliteDb::Lease> lease_;  // while a transaction is open
  int rounds_ = 0;                        // kept in the open transaction
  bool round_open_ = false;
};

}  // namespace

WriteTrackBatches SqliteTrackWrites(SqliteDb* db, const Clock* clock) {
  return [db, clock](const std::vector<TrackBatch*>& batches) {
    return db->Write([&](SqliteConn& c) -> Status { return WriteBatches(c, clock, batches); });
  };
}

std::unique_ptr<TrackTransaction> NewSqliteTrackTransaction(SqliteDb* db, const Clock* clock) {
  return std::make_unique<SqliteTrackTransaction>(db, clock);
}

}  // namespace embedrec::store
