// SQLite backend of one tenant's TenantStore: reads of its catalog, users,
// history, uploads and events; tracking writes go through its TrackCommitter
// (journaled: store/track_journal.h), uploads its import batches'.
#include "store/sqlite/sqlite_tenant_store.h"

#include <algorithm>
#include <map>

#include "store/sqlite/sqlite_experiment_records.h"
#include "store/sqlite/sqlite_import_batch.h"
#include "store/sqlite/sqlite_tenant_schema.h"
#include "store/sqlite/sqlite_track_writer.h"
#include "store/sqlite/sqlite_training_records.h"

namespace embedrec::store {

namespace {

// The first column of a query's first row as an integer (0 without a row).
StatusOr<int64_t> QueryInt(SqliteConn& c, const char* sql) {
  ASSIGN_OR_RETURN(auto st, c.Prepare(sql));
  ASSIGN_OR_RETURN(bool row, st->Step());
  return row ? st->Int(0) : 0;
}

class SqliteTenantStore final : public TenantStore {
 public:
  SqliteTenantStore(std::string id, std::unique_ptr<SqliteDb> db, const Clock* clock,
                    const CallbackRunner* run_callback, int track_commit_ms)
      : id_(std::move(id)), clock_(clock), db_(std::move(db)),
        training_(NewSqliteTrainingRecords(db_.get())), experiments_(NewSqliteExperimentRecords(db_.get())),
        writer_(id_, NewSqliteTrackTransaction(db_.get(), clock), {.path = db_->path() + "-track", .commit_every_ms = track_commit_ms}, run_callback) {
    // Every other use of the database first waits for the tracked events
    // answered so far to be committed (they may be only in the journal).
    db_->SetBeforeUse([this] { writer_.Flush(); });
  }
  ~SqliteTenantStore() override { db_->SetBeforeUse(nullptr); }

  // Applies what the tracking journal holds beyond the last commit.
  Status StartTracking() { return writer_.Start(); }
  TrainingRecords& training() override { return *training_; }
  ExperimentRecords& experiments() override { return *experiments_; }

  StatusOr<InteractionCounts> CountInteractions() override {
    InteractionCounts n;
    RETURN_IF_ERROR(db_->Read([&](SqliteConn& c) -> Status {
      // The primary key's order: a pair's rows are adjacent (one scan, no
      // sort); one row per pair, items counted here.
      ASSIGN_OR_RETURN(auto st, c.Prepare("SELECT item_idx, COUNT(*), user_idx FROM interactions "
                                          "WHERE item_idx >= 0 GROUP BY user_idx, item_idx"));
      std::vector<bool> seen;
      int64_t last_user = -1;
      for (;;) {
        ASSIGN_OR_RETURN(bool row, st->Step());
        if (!row) break;
        const int64_t item = st->Int(0);
        n.events += st->Int(1);
        ++n.pairs;
        if (st->Int(2) != last_user) last_user = st->Int(2), ++n.users;  // a user's pairs are adjacent
        if (item >= static_cast<int64_t>(seen.size())) seen.resize(std::max<int64_t>(item + 1, 2 * seen.size()));
        if (!seen[item]) seen[item] = true, ++n.items;
      }
      ASSIGN_OR_RETURN(auto types, c.Prepare("SELECT COUNT(*) FROM (SELECT DISTINCT type FROM interactions "
                                             "WHERE item_idx >= 0 LIMIT 2)"));
      ASSIGN_OR_RETURN(bool row, types->Step());
      if (row) n.types = types->Int(0);
      return Status::Ok();
    }));
    return n;
  }

  Status ScanInteractions(const std::function<void(const InteractionRow&)>& fn) override {
    return db_->Read([&](SqliteConn& c) -> Status {
      ASSIGN_OR_RETURN(auto st, c.Prepare(
          "SELECT user_idx, item_idx, type, ts_ms, context FROM interactions WHERE item_idx >= 0"));
      InteractionRow r;
      while (true) {
        ASSIGN_OR_RETURN(bool row, st->Step());
        if (!row) return Status::Ok();
        r.user_idx = st->Int(0);
        r.item_idx = st->Int(1);
        r.type = st->Text(2);
        r.ts_ms = st->Int(3);
        r.context_json = st->Text(4);
        fn(r);
      }
    });
  }
  const std::string& tenant_id() const override { return id_; }
  int SchemaVersion() const override { return db_->SchemaVersion(); }
  Status Ping() override {
    return db_->Read([](SqliteConn& c) {
      ASSIGN_OR_RETURN(auto st, c.Prepare("SELECT 1"));
      return st->Run();
    });
  }

  StatusOr<std::vector<TrackResult>> Track(const std::vector<TrackEvent>& events) override {
    return writer_.Track(events);
  }
  void TrackAsync(std::vector<TrackEvent> events, TrackCallback done, TrackDoneOn on) override {
    writer_.TrackAsync(std::move(events), std::move(done), on);
  }

  StatusOr<std::unique_ptr<ImportBatch>> BeginImport() override { return NewSqliteImportBatch(db_->Checkout()); }
  StatusOr<IdMap> LoadItemIndex() override { return ReadIdMap(kItemIndexSql); }
  StatusOr<IdMap> LoadUserIndex() override { return ReadIdMap(kUserIndexSql); }
  StatusOr<IdMap> ReadIdMap(const char* sql) {
    IdMap out;
    RETURN_IF_ERROR(db_->Read([&](SqliteConn& c) -> Status {
      ASSIGN_OR_RETURN(auto st, c.Prepare(sql));
      while (true) {
        ASSIGN_OR_RETURN(bool row, st->Step());
        if (!row) return Status::Ok();
        out.emplace(st->Text(0), st->Int(1));
      }
    }));
    return out;
  }

  static constexpr const char* kItemCols =
      "item_id, name, category, price, description, brand, tags, image_url, available, "
      "properties, item_idx";
  static ItemRecord ReadItem(const SqliteStmt& st) {
    ItemRecord r;
    r.item_id = st.Text(0);
    r.name = st.Text(1);
    r.category = st.Text(2);
    if (!st.IsNull(3)) r.price = st.Double(3);
    r.description = st.Text(4);
    r.brand = st.Text(5);
    r.tags = SplitList(st.Text(6), '|');
    r.image_url = st.Text(7);
    r.available = st.Int(8) != 0;
    r.properties_json = st.Text(9);
    return r;
  }

  StatusOr<ItemRecord> GetItem(const std::string& item_id) override {
    std::optional<ItemRecord> out;
    RETURN_IF_ERROR(db_->Read([&](SqliteConn& c) {
      ASSIGN_OR_RETURN(auto st, c.Prepare(std::string("SELECT ") + kItemCols +
                                          " FROM items WHERE item_id=? AND deleted=0"));
      st->Bind(1, item_id);
      ASSIGN_OR_RETURN(bool row, st->Step());
      if (row) out = ReadItem(*st);
      return Status::Ok();
    }));
    if (!out) return Status::NotFound("item '" + item_id + "' does not exist");
    return std::move(*out);
  }

  StatusOr<std::vector<ItemRecord>> ListItems(int64_t after_idx, int limit,
                                              const std::string& category,
                                              std::vector<int64_t>* idx) override {
    std::vector<ItemRecord> out;
    idx->clear();
    RETURN_IF_ERROR(db_->Read([&](SqliteConn& c) {
      ASSIGN_OR_RETURN(auto st, c.Prepare(
          std::string("SELECT ") + kItemCols +
          " FROM items WHERE deleted=0 AND item_idx > ? AND (?='' OR category=?) "
          "ORDER BY item_idx LIMIT ?"));
      st->Bind(1, after_idx).Bind(2, category).Bind(3, category).Bind(4, limit);
      while (true) {
        ASSIGN_OR_RETURN(bool row, st->Step());
        if (!row) return Status::Ok();
        out.push_back(ReadItem(*st));
        idx->push_back(st->Int(10));
      }
    }));
    return out;
  }

  Status DeleteItem(const std::string& item_id, int64_t now_ms) override {
    return db_->Write([&](SqliteConn& c) {
      ASSIGN_OR_RETURN(auto st, c.Prepare(
          "UPDATE items SET deleted=1, updated_at_ms=? WHERE item_id=? AND deleted=0"));
      st->Bind(1, now_ms).Bind(2, item_id);
      RETURN_IF_ERROR(st->Run());
      if (c.Changes() == 0) return Status::NotFound("item '" + item_id + "' does not exist");
      st.reset();
      return AppendEventRow(c, kItemCatalogUpdated, "{\"deleted_item_id\":" + JsonQuote(item_id) + "}", now_ms);
    });
  }

  StatusOr<std::vector<UserInteraction>> ListUserInteractions(const std::string& user_id,
                                                              int64_t offset, int limit) override {
    std::vector<UserInteraction> out;
    bool known = false;
    RETURN_IF_ERROR(db_->Read([&](SqliteConn& c) {
      ASSIGN_OR_RETURN(auto u, c.Prepare("SELECT user_idx FROM users WHERE user_id=?"));
      u->Bind(1, user_id);
      ASSIGN_OR_RETURN(bool found, u->Step());
      if (!found) return Status::Ok();
      known = true;
      int64_t user_idx = u->Int(0);
      u.reset();
      ASSIGN_OR_RETURN(auto st, c.Prepare(
          // The page first, then its items' ids: a long history is not joined whole.
          "SELECT COALESCE(i.item_id, ''), x.type, x.ts_ms, x.rating, x.value, x.quantity, "
          "COALESCE(x.interaction_id, '') FROM (SELECT item_idx, type, ts_ms, rating, value, quantity, "
          "interaction_id FROM interactions WHERE user_idx=? "
          "ORDER BY ts_ms DESC, item_idx, type LIMIT ? OFFSET ?) x LEFT JOIN items i "
          "ON i.item_idx = x.item_idx ORDER BY x.ts_ms DESC, x.item_idx, x.type"));
      st->Bind(1, user_idx).Bind(2, limit).Bind(3, offset);
      while (true) {
        ASSIGN_OR_RETURN(bool row, st->Step());
        if (!row) return Status::Ok();
        UserInteraction r;
        r.item_id = st->Text(0);
        r.type = st->Text(1);
        r.ts_ms = st->Int(2);
        if (!st->IsNull(3)) r.rating = st->Double(3);
        if (!st->IsNull(4)) r.value = st->Double(4);
        if (!st->IsNull(5)) r.quantity = st->Double(5);
        r.interaction_id = st->Text(6);
        out.push_back(std::move(r));
      }
    }));
    if (!known) return Status::NotFound("user '" + user_id + "' has no interactions");
    return out;
  }

  StatusOr<std::vector<UserItemType>> ListUserItemTypes(const std::string& user_id) override {
    std::vector<UserItemType> out;
    RETURN_IF_ERROR(db_->Read([&](SqliteConn& c) {
      ASSIGN_OR_RETURN(auto st, c.Prepare(
          "SELECT i.item_id, x.type FROM users u JOIN interactions x ON x.user_idx = u.user_idx "
          "JOIN items i ON i.item_idx = x.item_idx WHERE u.user_id=? GROUP BY x.item_idx, x.type"));
      st->Bind(1, user_id);
      while (true) {
        ASSIGN_OR_RETURN(bool row, st->Step());
        if (!row) return Status::Ok();
        out.push_back({st->Text(0), st->Text(1)});
      }
    }));
    return out;
  }

  StatusOr<int64_t> CountItems() override { return ReadInt("SELECT COUNT(*) FROM items WHERE deleted=0"); }

  StatusOr<int64_t> LatestEventSeq() override { return ReadInt("SELECT COALESCE(MAX(seq), 0) FROM events"); }
  StatusOr<int64_t> CountNewInteractions(int64_t after_seq, int64_t limit) override {
    int64_t n = 0;
    RETURN_IF_ERROR(db_->Read([&](SqliteConn& c) -> Status {
      // Each event is at least one interaction: `limit` events are enough.
      ASSIGN_OR_RETURN(auto st, c.Prepare(
          "SELECT COALESCE(SUM(CASE WHEN topic = ? THEN COALESCE(json_extract(payload, '$.rows_accepted'), 0) "
          "ELSE 1 END), 0) FROM (SELECT topic, payload FROM events WHERE seq > ? AND topic IN (?, ?) "
          "ORDER BY seq LIMIT ?)"));
      st->Bind(1, kInteractionsUploaded).Bind(2, after_seq).Bind(3, kInteractionsUploaded);
      st->Bind(4, "user-interactions").Bind(5, std::max<int64_t>(limit, 0));
      ASSIGN_OR_RETURN(bool row, st->Step());
      if (row) n = st->Int(0);
      return Status::Ok();
    }));
    return n;
  }
  StatusOr<bool> DataChangedSince(int64_t seq) override {
    bool changed = false;
    RETURN_IF_ERROR(db_->Read([&](SqliteConn& c) -> Status {
      ASSIGN_OR_RETURN(auto st, c.Prepare(
          "SELECT EXISTS (SELECT 1 FROM events WHERE seq > ? AND topic IN (?, ?))"));
      st->Bind(1, seq).Bind(2, kInteractionsUploaded).Bind(3, kItemCatalogUpdated);
      ASSIGN_OR_RETURN(bool row, st->Step());
      changed = row && st->Int(0) != 0;
      return Status::Ok();
    }));
    return changed;
  }
  StatusOr<bool> CatalogChangedSince(int64_t seq) override {
    bool changed = false;
    RETURN_IF_ERROR(db_->Read([&](SqliteConn& c) -> Status {
      // The topic as a literal: what lets SQLite use the partial index.
      ASSIGN_OR_RETURN(auto st, c.Prepare("SELECT EXISTS (SELECT 1 FROM events WHERE topic = 'item-catalog-updated' "
                                          "AND seq > ?)"));
      st->Bind(1, seq);
      ASSIGN_OR_RETURN(bool row, st->Step());
      changed = row && st->Int(0) != 0;
      return Status::Ok();
    }));
    return changed;
  }
  StatusOr<int64_t> PruneEvents(int64_t before_ms, int64_t through_seq, int64_t limit) override {
    int64_t deleted = 0;
    RETURN_IF_ERROR(db_->Write([&](SqliteConn& c) -> Status {
      // The oldest first (seq grows with time): a bounded walk of the key.
      ASSIGN_OR_RETURN(auto st, c.Prepare("DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE seq <= ? "
                                          "ORDER BY seq LIMIT ?) AND created_at_ms < ?"));
      st->Bind(1, through_seq).Bind(2, limit).Bind(3, before_ms);
      RETURN_IF_ERROR(st->Run());
      deleted = c.Changes();
      return Status::Ok();
    }));
    return deleted;
  }
  StatusOr<int64_t> PruneIdempotencyKeys(int64_t before_ms) override {
    int64_t deleted = 0;
    RETURN_IF_ERROR(db_->Write([&](SqliteConn& c) -> Status {
      ASSIGN_OR_RETURN(auto st, c.Prepare("DELETE FROM idempotency_keys WHERE created_at_ms < ?"));
      st->Bind(1, before_ms);
      RETURN_IF_ERROR(st->Run());
      deleted = c.Changes();
      return Status::Ok();
    }));
    return deleted;
  }

  Status PutSnapshot(const std::string& name, int64_t position, std::string_view bytes, int64_t now_ms) override {
    return db_->Write([&](SqliteConn& c) -> Status {
      ASSIGN_OR_RETURN(auto st, c.Prepare(
          "INSERT OR REPLACE INTO serving_snapshots (name, position, data, created_at_ms) VALUES (?,?,?,?)"));
      st->Bind(1, name).Bind(2, position).BindBlob(3, bytes).Bind(4, now_ms);
      return st->Run();
    });
  }
  StatusOr<Snapshot> GetSnapshot(const std::string& name) override {
    std::optional<Snapshot> out;
    RETURN_IF_ERROR(db_->Read([&](SqliteConn& c) -> Status {
      ASSIGN_OR_RETURN(auto st, c.Prepare(
          "SELECT position, data, created_at_ms FROM serving_snapshots WHERE name=?"));
      st->Bind(1, name);
      ASSIGN_OR_RETURN(bool row, st->Step());
      if (row) out = Snapshot{st->Int(0), st->Blob(1), st->Int(2)};
      return Status::Ok();
    }));
    if (!out) return Status::NotFound("no snapshot '" + name + "'");
    return std::move(*out);
  }

  StatusOr<DataCounts> CountData() override {
    DataCounts c;
    RETURN_IF_ERROR(db_->Read([&](SqliteConn& conn) {
      auto one = [&](const char* sql, int64_t* out) -> Status {
        ASSIGN_OR_RETURN(*out, QueryInt(conn, sql));
        return Status::Ok();
      };
      // One read transaction: the counts agree with each other.
      RETURN_IF_ERROR(conn.Exec("BEGIN"));
      Status s = [&]() -> Status {
        RETURN_IF_ERROR(one("SELECT COUNT(*) FROM items WHERE deleted=0", &c.items));
        RETURN_IF_ERROR(one("SELECT COUNT(*) FROM users", &c.users));
        RETURN_IF_ERROR(one("SELECT COUNT(*) FROM interactions", &c.interactions));
        int64_t interacted = 0;  // the IN list is built once (interactions has no item index)
        RETURN_IF_ERROR(one("SELECT COUNT(*) FROM items WHERE deleted=0 AND item_idx IN "
                            "(SELECT DISTINCT item_idx FROM interactions)",
                            &interacted));
        c.items_without_interactions = c.items - interacted;
        RETURN_IF_ERROR(one("SELECT COUNT(*) FROM (SELECT user_idx FROM interactions "
                            "GROUP BY user_idx HAVING COUNT(*)=1)",
                            &c.users_with_one_interaction));
        RETURN_IF_ERROR(one("SELECT COALESCE(SUM((name!='') + (category!='') + (price IS NOT NULL) "
                            "+ (brand!='') + (description!='') + (image_url!='')), 0) FROM items "
                            "WHERE deleted=0",
                            &c.filled_item_fields));
        RETURN_IF_ERROR(one("SELECT COALESCE(MAX(ts_ms), 0) FROM interactions",
                            &c.latest_interaction_ms));
        RETURN_IF_ERROR(one("SELECT COALESCE(SUM(json_extract(result_json,'$.rows_accepted') + "
                            "json_extract(result_json,'$.rows_rejected') + "
                            "json_extract(result_json,'$.duplicates_removed')), 0) FROM uploads",
                            &c.upload_rows));
        RETURN_IF_ERROR(one("SELECT COALESCE(SUM(json_extract(result_json,'$.rows_rejected')), 0) "
                            "FROM uploads", &c.upload_rejected));
        RETURN_IF_ERROR(one("SELECT COALESCE(SUM(json_extract(result_json,'$.duplicates_removed')), 0) "
                            "FROM uploads", &c.upload_duplicates));
        ASSIGN_OR_RETURN(auto st, conn.Prepare(
            "SELECT type, COUNT(*) FROM interactions GROUP BY type ORDER BY type"));
        while (true) {
          ASSIGN_OR_RETURN(bool row, st->Step());
          if (!row) break;
          c.per_type.emplace_back(st->Text(0), st->Int(1));
        }
        return Status::Ok();
      }();
      (void)conn.Exec("COMMIT");
      return s;
    }));
    return c;
  }

  StatusOr<std::vector<UploadRecord>> ListUploads(int limit) override {
    std::vector<UploadRecord> out;
    RETURN_IF_ERROR(db_->Read([&](SqliteConn& c) {
      ASSIGN_OR_RETURN(auto st, c.Prepare(
          "SELECT id, kind, created_at_ms, storage_location, result_json FROM uploads "
          "ORDER BY created_at_ms DESC, id LIMIT ?"));
      st->Bind(1, limit);
      while (true) {
        ASSIGN_OR_RETURN(bool row, st->Step());
        if (!row) return Status::Ok();
        out.push_back({st->Text(0), st->Text(1), st->Int(2), st->Text(3), st->Text(4)});
      }
    }));
    return out;
  }

  StatusOr<std::vector<Event>> ReadEvents(int64_t after_seq, int limit) override {
    std::vector<Event> out;
    RETURN_IF_ERROR(db_->Read([&](SqliteConn& c) {
      ASSIGN_OR_RETURN(auto st, c.Prepare(
          "SELECT seq, topic, payload, created_at_ms FROM events WHERE seq > ? ORDER BY seq "
          "LIMIT ?"));
      st->Bind(1, after_seq).Bind(2, limit);
      while (true) {
        ASSIGN_OR_RETURN(bool row, st->Step());
        if (!row) return Status::Ok();
        out.push_back({st->Int(0), st->Text(1), st->Text(2), st->Int(3)});
      }
    }));
    return out;
  }

  // Records which tenant this database belongs to; Open checks it, so a
  // misplaced file can never serve another tenant.
  Status Stamp() {
    return db_->Write([&](SqliteConn& c) {
      ASSIGN_OR_RETURN(auto st, c.Prepare("INSERT OR IGNORE INTO meta (key, value) "
                                          "VALUES ('tenant_id', ?)"));
      st->Bind(1, id_);
      return st->Run();
    });
  }
  StatusOr<std::string> StampedId() {
    std::string out;
    RETURN_IF_ERROR(db_->Read([&](SqliteConn& c) {
      ASSIGN_OR_RETURN(auto st, c.Prepare("SELECT value FROM meta WHERE key='tenant_id'"));
      ASSIGN_OR_RETURN(bool row, st->Step());
      if (row) out = st->Text(0);
      return Status::Ok();
    }));
    return out;
  }

 private:
  StatusOr<int64_t> ReadInt(const char* sql) {
    int64_t n = 0;
    RETURN_IF_ERROR(db_->Read([&](SqliteConn& c) {
      ASSIGN_OR_RETURN(n, QueryInt(c, sql));
      return Status::Ok();
    }));
    return n;
  }

  std::string id_;
  const Clock* clock_;
  std::unique_ptr<SqliteDb> db_;
  std::unique_ptr<TrainingRecords> training_;
  std::unique_ptr<ExperimentRecords> experiments_;
  TrackCommitter writer_;  // last: stopped first
};

}  // namespace

StatusOr<std::shared_ptr<TenantStore>> OpenSqliteTenantStore(const std::string& tenant_id,
                                                             std::unique_ptr<SqliteDb> db, bool create,
                                                             const Clock* clock,
                                                             const CallbackRunner* run_callback,
                                                             int track_commit_ms) {
  auto store = std::make_shared<SqliteTenantStore>(tenant_id, std::move(db), clock, run_callback, track_commit_ms);
  if (create) RETURN_IF_ERROR(store->Stamp());
  ASSIGN_OR_RETURN(std::string stamped, store->StampedId());
  if (stamped != tenant_id) {
    return Status::Internal("tenant database of '" + tenant_id + "' belongs to '" + stamped + "'");
  }
  RETURN_IF_ERROR(store->StartTracking());
  return std::shared_ptr<TenantStore>(store);
}

}  // namespace embedrec::store
