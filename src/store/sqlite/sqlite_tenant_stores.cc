// SQLite backend of TenantStores: one database file per tenant directory.
#include <unistd.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <atomic>
#include <chrono>

#include "common/clock.h"
#include "common/random.h"
#include "common/strings.h"
#include <condition_variable>
#include <future>
#include <thread>

#include <spdlog/spdlog.h>

#include "store/sqlite/sqlite_db.h"
#include "store/sqlite/sqlite_import_batch.h"
#include "store/sqlite/sqlite_tenant_schema.h"
#include "store/sqlite/sqlite_training_records.h"
#include "store/tenant_stores.h"

namespace embedrec::store {
namespace fs = std::filesystem;

bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

namespace {

class SqliteTenantStore final : public TenantStore {
 public:
  SqliteTenantStore(std::string id, std::unique_ptr<SqliteDb> db, const Clock* clock,
                    const CallbackRunner* run_callback)
      : id_(std::move(id)), clock_(clock), run_callback_(run_callback), db_(std::move(db)),
        training_(NewSqliteTrainingRecords(db_.get())) {}
  TrainingRecords& training() override { return *training_; }

  StatusOr<InteractionCounts> CountInteractions() override {
    InteractionCounts n;
    RETURN_IF_ERROR(db_->Read([&](SqliteConn& c) -> Status {
      // The primary key's order: a pair's rows are adjacent (one scan, no
      // sort); one row per pair, items counted here.
      ASSIGN_OR_RETURN(auto st, c.Prepare("SELECT item_idx, COUNT(*) FROM interactions WHERE item_idx >= 0 "
                                          "GROUP BY user_idx, item_idx"));
      std::vector<bool> seen;
      for (;;) {
        ASSIGN_OR_RETURN(bool row, st->Step());
        if (!row) break;
        const int64_t item = st->Int(0);
        n.events += st->Int(1);
        ++n.pairs;
        if (item >= static_cast<int64_t>(seen.size())) seen.resize(std::max<int64_t>(item + 1, 2 * seen.size()));
        if (!seen[item]) seen[item] = true, ++n.items;
      }
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
    std::promise<StatusOr<std::vector<TrackResult>>> answer;
    auto future = answer.get_future();
    // Answered on the writing thread itself: a caller waiting on a pool must
    // not wait for that pool to run its answer.
    Enqueue(events, [&answer](StatusOr<std::vector<TrackResult>> r) { answer.set_value(std::move(r)); },
            /*hand_back=*/false);
    return future.get();
  }

  void TrackAsync(std::vector<TrackEvent> events, TrackCallback done) override {
    Enqueue(std::move(events), std::move(done), /*hand_back=*/true);
  }

  void Enqueue(std::vector<TrackEvent> events, TrackCallback done, bool hand_back) {
    // Group commit on a committer thread of the tenant's own: callers queue
    // their events and return at once; the committer writes everything
    // queued in one transaction, answers those callers, and takes what has
    // queued meanwhile. It exits after a second without work.
    auto job = std::make_shared<TrackJob>();
    job->events = std::move(events);
    job->done = std::move(done);
    job->hand_back = hand_back;
    {
      std::lock_guard lock(track_mu_);
      track_queue_.push_back(std::move(job));
      if (!committer_running_) {
        if (committer_.joinable()) committer_.join();  // it has returned already
        committer_running_ = true;
        committer_ = std::thread([this] { CommitLoop(); });
      }
    }
    track_cv_.notify_one();
  }

  void CommitLoop() {
    std::vector<std::shared_ptr<TrackJob>> jobs;
    std::unique_lock lock(track_mu_);
    while (true) {
      if (!track_cv_.wait_for(lock, std::chrono::seconds(1),
                              [&] { return !track_queue_.empty() || stop_; }) ||
          track_queue_.empty()) {
        committer_running_ = false;  // idle or stopping
        return;
      }
      jobs.swap(track_queue_);
      lock.unlock();
      Status s = WriteJobs(jobs);
      for (auto& j : jobs) {
        auto answer = [j, s, id = id_]() mutable {
          try {
            if (s.ok()) j->done(std::move(j->results));
            else j->done(s);
          } catch (const std::exception& e) {
            spdlog::error("tenant {}: track callback failed: {}", id, e.what());
          }
        };
        // Handed back: this thread only writes (no API or serving code on it).
        if (j->hand_back && *run_callback_) (*run_callback_)(id_, std::move(answer));
        else answer();
      }
      jobs.clear();
      lock.lock();
    }
  }

  ~SqliteTenantStore() override {
    {
      std::lock_guard lock(track_mu_);
      stop_ = true;
    }
    track_cv_.notify_all();
    if (committer_.joinable()) committer_.join();
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
    std::string tags = st.Text(6);
    if (!tags.empty()) {
      for (auto t : Split(tags, '|')) r.tags.emplace_back(t);
    }
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
      ASSIGN_OR_RETURN(auto ev, c.Prepare(
          "INSERT INTO events (topic, payload, created_at_ms) VALUES ('item-catalog-updated',?,?)"));
      ev->Bind(1, "{\"deleted_item_id\":" + JsonQuote(item_id) + "}").Bind(2, now_ms);
      return ev->Run();
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
          "SELECT COALESCE(i.item_id, ''), x.type, x.ts_ms, x.rating, x.value, x.quantity, "
          "COALESCE(x.interaction_id, '') FROM interactions x LEFT JOIN items i "
          "ON i.item_idx = x.item_idx WHERE x.user_idx=? "
          "ORDER BY x.ts_ms DESC, x.item_idx, x.type LIMIT ? OFFSET ?"));
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

  StatusOr<int64_t> CountItems() override {
    int64_t n = 0;
    RETURN_IF_ERROR(db_->Read([&](SqliteConn& c) {
      ASSIGN_OR_RETURN(auto st, c.Prepare("SELECT COUNT(*) FROM items WHERE deleted=0"));
      ASSIGN_OR_RETURN(bool row, st->Step());
      if (row) n = st->Int(0);
      return Status::Ok();
    }));
    return n;
  }

  StatusOr<int64_t> LatestEventSeq() override {
    int64_t seq = 0;
    RETURN_IF_ERROR(db_->Read([&](SqliteConn& c) {
      ASSIGN_OR_RETURN(auto st, c.Prepare("SELECT COALESCE(MAX(seq), 0) FROM events"));
      ASSIGN_OR_RETURN(bool row, st->Step());
      if (row) seq = st->Int(0);
      return Status::Ok();
    }));
    return seq;
  }

  StatusOr<DataCounts> CountData() override {
    DataCounts c;
    RETURN_IF_ERROR(db_->Read([&](SqliteConn& conn) {
      auto one = [&](const char* sql, int64_t* out) -> Status {
        ASSIGN_OR_RETURN(auto st, conn.Prepare(sql));
        ASSIGN_OR_RETURN(bool row, st->Step());
        *out = row ? st->Int(0) : 0;
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
  std::string id_;
  const Clock* clock_;
  const CallbackRunner* run_callback_;  // the stores'; may hold a null function
  std::unique_ptr<SqliteDb> db_;
  std::unique_ptr<TrainingRecords> training_;
  struct TrackJob {
    std::vector<TrackEvent> events;
    std::vector<TrackResult> results;
    TrackCallback done;
    bool hand_back = true;  // to run_callback_, when there is one
  };

  Status WriteJobs(const std::vector<std::shared_ptr<TrackJob>>& jobs) {
    return db_->Write([&](SqliteConn& c) -> Status {
      for (auto& job : jobs) {
        job->results.clear();
        for (const auto& ev : job->events) {
          ASSIGN_OR_RETURN(TrackResult r, WriteOne(c, ev));
          job->results.push_back(std::move(r));
        }
      }
      return Status::Ok();
    });
  }

  StatusOr<std::optional<int64_t>> Lookup(SqliteConn& c, const char* sql, const std::string& key) {
    ASSIGN_OR_RETURN(auto st, c.Prepare(sql));
    st->Bind(1, key);
    ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) return std::optional<int64_t>();
    return std::optional<int64_t>(st->Int(0));
  }

  StatusOr<TrackResult> WriteOne(SqliteConn& c, const TrackEvent& ev) {
    TrackResult r;
    r.processed_at_ms = clock_->NowMillis();
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
      }
    }
    ASSIGN_OR_RETURN(auto user_idx, Lookup(c, "SELECT user_idx FROM users WHERE user_id=?", ev.user_id));
    if (!user_idx) {
      ASSIGN_OR_RETURN(auto ins, c.Prepare("INSERT INTO users (user_id, created_at_ms) VALUES (?,?)"));
      ins->Bind(1, ev.user_id).Bind(2, r.processed_at_ms);
      RETURN_IF_ERROR(ins->Run());
      user_idx = static_cast<int64_t>(sqlite3_last_insert_rowid(c.raw()));
    }
    r.interaction_id = NewId("int");
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
      std::string payload = "{\"interaction_id\":\"" + r.interaction_id + "\",\"user_idx\":" +
                            std::to_string(*user_idx) + ",\"item_idx\":" +
                            std::to_string(item_idx.value_or(-1)) + ",\"type\":\"" + ev.type +
                            "\",\"ts_ms\":" + std::to_string(ev.ts_ms) + "}";
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

  std::mutex track_mu_;
  std::vector<std::shared_ptr<TrackJob>> track_queue_;  // GUARDED_BY(track_mu_)
  std::condition_variable track_cv_;
  bool stop_ = false;                                   // GUARDED_BY(track_mu_)
  bool committer_running_ = false;                      // GUARDED_BY(track_mu_)
  std::thread committer_;
};

class SqliteTenantStores final : public TenantStores {
 public:
  SqliteTenantStores(std::string root, const Clock* clock, CallbackRunner run_callback)
      : root_(std::move(root)), clock_(clock), run_callback_(std::move(run_callback)) {}

  Status Ping() override {
    if (::access(root_.c_str(), W_OK) != 0) return Status::Unavailable(root_ + " is not writable");
    return Status::Ok();
  }

  Status Create(const std::string& tenant_id) override {
    if (!IsUuid(tenant_id)) return Status::InvalidArgument("tenant id must be a UUID");
    std::error_code ec;
    fs::create_directories(Dir(tenant_id) / "blobs", ec);
    if (ec) return Status::Internal("cannot create tenant directory: " + ec.message());
    ASSIGN_OR_RETURN(auto store, OpenLocked(tenant_id, /*create=*/true));
    return Status::Ok();
  }

  StatusOr<std::shared_ptr<TenantStore>> Open(const std::string& tenant_id) override {
    if (!IsUuid(tenant_id)) return Status::NotFound("tenant '" + tenant_id + "' does not exist");
    return OpenLocked(tenant_id, /*create=*/false);
  }

  bool IsOpen(const std::string& tenant_id) override {
    std::lock_guard lock(mu_);
    return open_.count(tenant_id) > 0;
  }

  Status Drop(const std::string& tenant_id) override {
    if (!IsUuid(tenant_id)) return Status::InvalidArgument("tenant id must be a UUID");
    {
      std::lock_guard lock(mu_);
      open_.erase(tenant_id);
    }
    std::error_code ec;
    fs::remove_all(Dir(tenant_id), ec);
    if (ec) return Status::Internal("cannot delete tenant directory: " + ec.message());
    return Status::Ok();
  }

 private:
  fs::path Dir(const std::string& tenant_id) const { return fs::path(root_) / tenant_id; }

  StatusOr<std::shared_ptr<TenantStore>> OpenLocked(const std::string& tenant_id, bool create) {
    std::lock_guard lock(mu_);
    auto it = open_.find(tenant_id);
    if (it != open_.end()) return std::shared_ptr<TenantStore>(it->second);
    fs::path db_path = Dir(tenant_id) / "tenant.db";
    std::error_code ec;
    if (!create && !fs::exists(db_path, ec)) {
      return Status::NotFound("tenant '" + tenant_id + "' has no data space");
    }
    ASSIGN_OR_RETURN(auto db, SqliteDb::Open({.path = db_path.string(), .pool_size = 4},
                                             TenantMigrations()));
    auto store = std::make_shared<SqliteTenantStore>(tenant_id, std::move(db), clock_, &run_callback_);
    if (create) RETURN_IF_ERROR(store->Stamp());
    ASSIGN_OR_RETURN(std::string stamped, store->StampedId());
    if (stamped != tenant_id) {
      return Status::Internal("tenant database " + db_path.string() + " belongs to '" + stamped +
                              "', not '" + tenant_id + "'");
    }
    open_[tenant_id] = store;
    return std::shared_ptr<TenantStore>(store);
  }

  std::string root_;
  const Clock* clock_;
  const CallbackRunner run_callback_;  // outlives the stores: they are closed with this
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<SqliteTenantStore>> open_;
};

}  // namespace

std::unique_ptr<TenantStores> NewSqliteTenantStores(const std::string& root, const Clock* clock,
                                                    CallbackRunner run_callback) {
  return std::make_unique<SqliteTenantStores>(root, clock, std::move(run_callback));
}

}  // namespace embedrec::store
