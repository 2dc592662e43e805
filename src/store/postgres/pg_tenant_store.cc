// PostgreSQL backend of one tenant's TenantStore: reads of its catalog,
// users, history, uploads and events in its schema; tracking through a
// TrackCommitter (one transaction per group, under the tenant's write lock);
// uploads through PgImportBatch.
#include "store/postgres/pg_tenant_store.h"

#include <mutex>
#include <optional>
#include <unordered_map>

#include "common/json_text.h"
#include "common/random.h"
#include "common/strings.h"
#include "store/postgres/pg_import_batch.h"
#include "store/postgres/pg_track_writes.h"
#include "store/postgres/pg_training_records.h"
#include "store/track_committer.h"

namespace embedrec::store {
namespace {

std::string Hex(std::string_view bytes) { return "\\x" + HexEncode(bytes); }

// A user's interaction from the columns item_id, type, ts_ms, rating, value,
// quantity, interaction_id starting at `first`.
// An interaction from the columns type, ts_ms, rating, value, quantity,
// interaction_id starting at `first`, for the item named `item_id`.
TenantStore::UserInteraction InteractionAt(const PgRows& r, int row, int first, std::string item_id) {
  TenantStore::UserInteraction x;
  x.item_id = std::move(item_id);
  x.type = r.Text(row, first);
  x.ts_ms = r.Int(row, first + 1);
  if (!r.IsNull(row, first + 2)) x.rating = r.Double(row, first + 2);
  if (!r.IsNull(row, first + 3)) x.value = r.Double(row, first + 3);
  if (!r.IsNull(row, first + 4)) x.quantity = r.Double(row, first + 4);
  x.interaction_id = r.Text(row, first + 5);
  return x;
}

std::string Unhex(const std::string& text) {  // bytea's text form "\x…"
  std::string out;
  if (text.size() < 2) return out;
  auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  out.reserve((text.size() - 2) / 2);
  for (size_t i = 2; i + 1 < text.size(); i += 2) out += static_cast<char>(nibble(text[i]) << 4 | nibble(text[i + 1]));
  return out;
}

class PgTenantStore final : public TenantStore {
 public:
  PgTenantStore(PgTenantSpace space, const Clock* clock, const CallbackRunner* run_callback)
      : t_(std::move(space)),
        training_(NewPgTrainingRecords(t_)),
        experiments_(NewPgExperimentRecords(t_)),
        writer_(t_.tenant_id, PgTrackWrites(t_, clock), run_callback) {}

  const std::string& tenant_id() const override { return t_.tenant_id; }
  int SchemaVersion() const override { return PgTenantMigrations().back().version; }
  Status Ping() override { return t_.db->Exec("SELECT 1").status(); }
  TrainingRecords& training() override { return *training_; }
  ExperimentRecords& experiments() override { return *experiments_; }

  StatusOr<std::vector<TrackResult>> Track(const std::vector<TrackEvent>& events) override {
    return writer_.Track(events);
  }
  void TrackAsync(std::vector<TrackEvent> events, TrackCallback done, TrackDoneOn on) override {
    writer_.TrackAsync(std::move(events), std::move(done), on);
  }

  StatusOr<std::unique_ptr<ImportBatch>> BeginImport() override { return NewPgImportBatch(t_); }
  StatusOr<IdMap> LoadItemIndex() override { return ReadIdMap("SELECT item_id, item_idx FROM {s}.items WHERE deleted=0"); }
  StatusOr<IdMap> LoadUserIndex() override { return ReadIdMap("SELECT user_id, user_idx FROM {s}.users"); }

  static constexpr const char* kItemCols =
      "item_id, name, category, price, description, brand, tags, image_url, available, properties, item_idx";
  static ItemRecord ReadItem(const PgRows& r, int i) {
    ItemRecord it;
    it.item_id = r.Text(i, 0);
    it.name = r.Text(i, 1);
    it.category = r.Text(i, 2);
    if (!r.IsNull(i, 3)) it.price = r.Double(i, 3);
    it.description = r.Text(i, 4);
    it.brand = r.Text(i, 5);
    it.tags = SplitList(r.Text(i, 6), '|');
    it.image_url = r.Text(i, 7);
    it.available = r.Int(i, 8) != 0;
    it.properties_json = r.Text(i, 9);
    return it;
  }

  StatusOr<ItemRecord> GetItem(const std::string& item_id) override {
    ASSIGN_OR_RETURN(auto r, Q(std::string("SELECT ") + kItemCols + " FROM {s}.items WHERE item_id=$1 AND deleted=0",
                               {item_id}));
    if (r.size() == 0) return Status::NotFound("item '" + item_id + "' does not exist");
    return ReadItem(r, 0);
  }

  StatusOr<int64_t> CountItems() override { return One("SELECT COUNT(*) FROM {s}.items WHERE deleted=0"); }

  StatusOr<std::vector<ItemRecord>> ListItems(int64_t after_idx, int limit, const std::string& category,
                                              std::vector<int64_t>* idx) override {
    idx->clear();
    ASSIGN_OR_RETURN(auto r, Q(std::string("SELECT ") + kItemCols +
                                   " FROM {s}.items WHERE deleted=0 AND item_idx > $1 AND ($2='' OR category=$2) "
                                   "ORDER BY item_idx LIMIT $3",
                               {std::to_string(after_idx), category, std::to_string(limit)}));
    std::vector<ItemRecord> out;
    for (int i = 0; i < r.size(); ++i) {
      out.push_back(ReadItem(r, i));
      idx->push_back(r.Int(i, 10));
    }
    return out;
  }

  Status DeleteItem(const std::string& item_id, int64_t now_ms) override {
    return t_.db->Transaction([&](PgConn& c) -> Status {
      RETURN_IF_ERROR(t_.LockWrites(c));
      ASSIGN_OR_RETURN(auto r, c.Exec(t_.Sql("UPDATE {s}.items SET deleted=1, updated_at_ms=$1 WHERE item_id=$2 "
                                             "AND deleted=0"),
                                      {std::to_string(now_ms), item_id}));
      if (r.changed() == 0) return Status::NotFound("item '" + item_id + "' does not exist");
      RETURN_IF_ERROR(t_.Notify(c, RemoteChange::kData));
      return t_.AppendEvent(c, kItemCatalogUpdated, "{\"deleted_item_id\":" + JsonQuote(item_id) + "}", now_ms);
    });
  }

  StatusOr<std::vector<UserInteraction>> ListUserInteractions(const std::string& user_id, int64_t offset,
                                                              int limit) override {
    ASSIGN_OR_RETURN(auto u, Q("SELECT user_idx FROM {s}.users WHERE user_id=$1", {user_id}));
    if (u.size() == 0) return Status::NotFound("user '" + user_id + "' has no interactions");
    ASSIGN_OR_RETURN(auto r, Q("SELECT COALESCE(i.item_id, ''), x.type, x.ts_ms, x.rating, x.value, x.quantity, "
                               "COALESCE(x.interaction_id, '') FROM (SELECT item_idx, type, ts_ms, rating, value, "
                               "quantity, interaction_id FROM {s}.interactions WHERE user_idx=$1 "
                               "ORDER BY ts_ms DESC, item_idx, type LIMIT $2 OFFSET $3) x LEFT JOIN {s}.items i "
                               "ON i.item_idx = x.item_idx ORDER BY x.ts_ms DESC, x.item_idx, x.type",
                               {u.Text(0, 0), std::to_string(limit), std::to_string(offset)}));
    std::vector<UserInteraction> out;
    for (int i = 0; i < r.size(); ++i) out.push_back(InteractionAt(r, i, 1, r.Text(i, 0)));
    return out;
  }

  StatusOr<std::vector<UserItemType>> ListUserItemTypes(const std::string& user_id) override {
    ASSIGN_OR_RETURN(auto r, Q("SELECT i.item_id, x.type FROM {s}.users u JOIN {s}.interactions x ON "
                               "x.user_idx = u.user_idx JOIN {s}.items i ON i.item_idx = x.item_idx WHERE u.user_id=$1 "
                               "GROUP BY i.item_id, x.item_idx, x.type ORDER BY x.item_idx, x.type",
                               {user_id}));
    std::vector<UserItemType> out;
    for (int i = 0; i < r.size(); ++i) out.push_back({r.Text(i, 0), r.Text(i, 1)});
    return out;
  }

  // One statement: the user's (item, type) pairs (part 0) and newest rows
  // (part 1), by item number, named by ItemIds (the catalog not joined).
  StatusOr<UserState> LoadUserState(const std::string& user_id, int recent) override {
    ASSIGN_OR_RETURN(auto r, Q("WITH u AS (SELECT user_idx FROM {s}.users WHERE user_id=$1) "
                               "SELECT 0, item_idx, type, 0::bigint, NULL::float8, NULL::float8, NULL::float8, '' "
                               "FROM {s}.interactions WHERE user_idx = (SELECT user_idx FROM u) AND item_idx >= 0 "
                               "GROUP BY item_idx, type "
                               "UNION ALL (SELECT 1, item_idx, type, ts_ms, rating, value, quantity, "
                               "COALESCE(interaction_id, '') FROM {s}.interactions WHERE user_idx = (SELECT user_idx "
                               "FROM u) ORDER BY ts_ms DESC, item_idx, type LIMIT $2) ORDER BY 1, 4 DESC, 2, 3",
                               {user_id, std::to_string(recent)}));
    std::vector<int64_t> numbers;
    numbers.reserve(static_cast<size_t>(r.size()));
    for (int i = 0; i < r.size(); ++i) numbers.push_back(r.Int(i, 1));
    ASSIGN_OR_RETURN(auto names, ItemIds(numbers));
    UserState out;
    for (int i = 0; i < r.size(); ++i) {
      std::optional<std::string>& name = names[static_cast<size_t>(i)];
      if (r.Int(i, 0) == 0) {
        if (name) out.item_types.push_back({std::move(*name), r.Text(i, 2)});
        continue;
      }
      out.recent.push_back(InteractionAt(r, i, 2, name ? std::move(*name) : std::string()));
    }
    return out;
  }

  StatusOr<int64_t> DatabaseBytes() override {
    ASSIGN_OR_RETURN(auto r, Q("SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c JOIN "
                               "pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'",
                               {TenantSchemaName(t_.tenant_id)}));
    return r.Int(0, 0);
  }

  StatusOr<DataCounts> CountData() override {
    DataCounts d;
    // One snapshot: the counts agree with each other.
    RETURN_IF_ERROR(t_.db->With([&](PgConn& c) -> Status {
      return c.Transaction([&](PgConn& c) -> Status {
        RETURN_IF_ERROR(c.Exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY").status());
        auto one = [&](const char* sql, int64_t* out) -> Status {
          ASSIGN_OR_RETURN(auto r, c.Exec(t_.Sql(sql)));
          *out = r.size() > 0 && !r.IsNull(0, 0) ? r.Int(0, 0) : 0;
          return Status::Ok();
        };
        RETURN_IF_ERROR(one("SELECT COUNT(*) FROM {s}.items WHERE deleted=0", &d.items));
        RETURN_IF_ERROR(one("SELECT COUNT(*) FROM {s}.users", &d.users));
        RETURN_IF_ERROR(one("SELECT COUNT(*) FROM {s}.interactions", &d.interactions));
        int64_t interacted = 0;
        RETURN_IF_ERROR(one("SELECT COUNT(*) FROM {s}.items WHERE deleted=0 AND item_idx IN "
                            "(SELECT DISTINCT item_idx FROM {s}.interactions)",
                            &interacted));
        d.items_without_interactions = d.items - interacted;
        RETURN_IF_ERROR(one("SELECT COUNT(*) FROM (SELECT user_idx FROM {s}.interactions GROUP BY user_idx "
                            "HAVING COUNT(*)=1) x",
                            &d.users_with_one_interaction));
        RETURN_IF_ERROR(one("SELECT COALESCE(SUM((name<>'')::int + (category<>'')::int + (price IS NOT NULL)::int "
                            "+ (brand<>'')::int + (description<>'')::int + (image_url<>'')::int), 0) FROM {s}.items "
                            "WHERE deleted=0",
                            &d.filled_item_fields));
        RETURN_IF_ERROR(one("SELECT COALESCE(MAX(ts_ms), 0) FROM {s}.interactions", &d.latest_interaction_ms));
        auto field = [](const char* name) {
          return std::string("COALESCE((result_json::jsonb->>'") + name + "')::bigint, 0)";
        };
        const std::string rows = "SELECT COALESCE(SUM(" + field("rows_accepted") + " + " + field("rows_rejected") +
                                 " + " + field("duplicates_removed") + "), 0) FROM {s}.uploads";
        RETURN_IF_ERROR(one(rows.c_str(), &d.upload_rows));
        const std::string rejected = "SELECT COALESCE(SUM(" + field("rows_rejected") + "), 0) FROM {s}.uploads";
        RETURN_IF_ERROR(one(rejected.c_str(), &d.upload_rejected));
        const std::string dups = "SELECT COALESCE(SUM(" + field("duplicates_removed") + "), 0) FROM {s}.uploads";
        RETURN_IF_ERROR(one(dups.c_str(), &d.upload_duplicates));
        ASSIGN_OR_RETURN(auto types, c.Exec(t_.Sql("SELECT type, COUNT(*) FROM {s}.interactions GROUP BY type "
                                                   "ORDER BY type")));
        for (int i = 0; i < types.size(); ++i) d.per_type.emplace_back(types.Text(i, 0), types.Int(i, 1));
        return Status::Ok();
      });
    }));
    return d;
  }

  StatusOr<std::vector<UploadRecord>> ListUploads(int limit) override {
    ASSIGN_OR_RETURN(auto r, Q("SELECT id, kind, created_at_ms, storage_location, result_json FROM {s}.uploads "
                               "ORDER BY created_at_ms DESC, id LIMIT $1",
                               {std::to_string(limit)}));
    std::vector<UploadRecord> out;
    for (int i = 0; i < r.size(); ++i) out.push_back({r.Text(i, 0), r.Text(i, 1), r.Int(i, 2), r.Text(i, 3), r.Text(i, 4)});
    return out;
  }

  StatusOr<std::vector<Event>> ReadEvents(int64_t after_seq, int limit) override {
    ASSIGN_OR_RETURN(auto r, Q("SELECT seq, topic, payload, created_at_ms FROM {s}.events WHERE seq > $1 "
                               "ORDER BY seq LIMIT $2",
                               {std::to_string(after_seq), std::to_string(limit)}));
    std::vector<Event> out;
    for (int i = 0; i < r.size(); ++i) out.push_back({r.Int(i, 0), r.Text(i, 1), r.Text(i, 2), r.Int(i, 3)});
    return out;
  }

  StatusOr<int64_t> LatestEventSeq() override { return One("SELECT COALESCE(MAX(seq), 0) FROM {s}.events"); }

  StatusOr<bool> DataChangedSince(int64_t seq) override {
    ASSIGN_OR_RETURN(auto r, Q("SELECT EXISTS (SELECT 1 FROM {s}.events WHERE seq > $1 AND topic IN ($2, $3))",
                               {std::to_string(seq), kInteractionsUploaded, kItemCatalogUpdated}));
    return r.Bool(0, 0);
  }

  StatusOr<bool> CatalogChangedSince(int64_t seq) override {
    ASSIGN_OR_RETURN(auto r, Q("SELECT EXISTS (SELECT 1 FROM {s}.events WHERE topic = 'item-catalog-updated' "
                               "AND seq > $1)",
                               {std::to_string(seq)}));
    return r.Bool(0, 0);
  }

  StatusOr<int64_t> CountNewInteractions(int64_t after_seq, int64_t limit) override {
    // Each event is at least one interaction: `limit` events are enough.
    ASSIGN_OR_RETURN(auto r, Q("SELECT COALESCE(SUM(CASE WHEN topic = $1 THEN "
                               "COALESCE((payload::jsonb->>'rows_accepted')::bigint, 0) ELSE 1 END), 0) FROM "
                               "(SELECT topic, payload FROM {s}.events WHERE seq > $2 AND topic IN ($1, $3) "
                               "ORDER BY seq LIMIT $4) x",
                               {kInteractionsUploaded, std::to_string(after_seq), "user-interactions",
                                std::to_string(std::max<int64_t>(limit, 0))}));
    return r.Int(0, 0);
  }

  StatusOr<int64_t> PruneEvents(int64_t before_ms, int64_t through_seq, int64_t limit) override {
    ASSIGN_OR_RETURN(auto r, Q("DELETE FROM {s}.events WHERE seq IN (SELECT seq FROM {s}.events WHERE seq <= $1 "
                               "ORDER BY seq LIMIT $2) AND created_at_ms < $3",
                               {std::to_string(through_seq), std::to_string(limit), std::to_string(before_ms)}));
    return r.changed();
  }
  StatusOr<int64_t> PruneIdempotencyKeys(int64_t before_ms) override {
    ASSIGN_OR_RETURN(auto r, Q("DELETE FROM {s}.idempotency_keys WHERE created_at_ms < $1", {std::to_string(before_ms)}));
    return r.changed();
  }

  Status PutSnapshot(const std::string& name, int64_t position, std::string_view bytes, int64_t now_ms) override {
    return Q("INSERT INTO {s}.serving_snapshots (name, position, data, created_at_ms) VALUES ($1,$2,$3::bytea,$4) "
             "ON CONFLICT (name) DO UPDATE SET position=excluded.position, data=excluded.data, "
             "created_at_ms=excluded.created_at_ms",
             {name, std::to_string(position), Hex(bytes), std::to_string(now_ms)})
        .status();
  }

  StatusOr<Snapshot> GetSnapshot(const std::string& name) override {
    ASSIGN_OR_RETURN(auto r, Q("SELECT position, data, created_at_ms FROM {s}.serving_snapshots WHERE name=$1", {name}));
    if (r.size() == 0) return Status::NotFound("no snapshot '" + name + "'");
    return Snapshot{r.Int(0, 0), Unhex(r.Text(0, 1)), r.Int(0, 2)};
  }

  StatusOr<InteractionCounts> CountInteractions() override {
    ASSIGN_OR_RETURN(auto r, Q("SELECT COALESCE(SUM(n), 0), COUNT(*), COUNT(DISTINCT item_idx), "
                               "COUNT(DISTINCT user_idx), (SELECT COUNT(*) FROM (SELECT DISTINCT type FROM "
                               "{s}.interactions WHERE item_idx >= 0 LIMIT 2) t) FROM (SELECT user_idx, item_idx, "
                               "COUNT(*) AS n FROM {s}.interactions WHERE item_idx >= 0 GROUP BY user_idx, item_idx) p"));
    return InteractionCounts{r.Int(0, 0), r.Int(0, 1), r.Int(0, 2), r.Int(0, 3), r.Int(0, 4)};
  }

  Status ScanInteractions(const std::function<void(const InteractionRow&)>& fn) override {
    // A cursor in one read-only snapshot: the rows come in pages, never all
    // in memory at once.
    return t_.db->With([&](PgConn& c) -> Status {
      return c.Transaction([&](PgConn& c) -> Status {
        RETURN_IF_ERROR(c.Exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY").status());
        RETURN_IF_ERROR(c.Exec(t_.Sql("DECLARE scan NO SCROLL CURSOR FOR SELECT user_idx, item_idx, type, ts_ms, "
                                      "COALESCE(context, '') FROM {s}.interactions WHERE item_idx >= 0 "
                                      "ORDER BY user_idx, item_idx, type, ts_ms"))
                            .status());
        InteractionRow row;
        while (true) {
          ASSIGN_OR_RETURN(auto r, c.Exec("FETCH FORWARD 20000 FROM scan"));
          if (r.size() == 0) break;
          for (int i = 0; i < r.size(); ++i) {
            row.user_idx = r.Int(i, 0);
            row.item_idx = r.Int(i, 1);
            row.type = r.Text(i, 2);
            row.ts_ms = r.Int(i, 3);
            row.context_json = r.Text(i, 4);
            fn(row);
          }
        }
        return c.Exec("CLOSE scan").status();
      });
    });
  }

  // Records which tenant this schema belongs to; Open checks it.
  Status Stamp() {
    return Q("INSERT INTO {s}.meta (key, value) VALUES ('tenant_id', $1) ON CONFLICT DO NOTHING", {t_.tenant_id})
        .status();
  }
  StatusOr<std::string> StampedId() {
    ASSIGN_OR_RETURN(auto r, Q("SELECT value FROM {s}.meta WHERE key='tenant_id'"));
    return r.size() > 0 ? r.Text(0, 0) : std::string();
  }

 private:
  // The item id of each number (none for −1, an impression without an item,
  // nor for a number no item has), from the numbers seen before or read in
  // one round trip. A number names one item for ever (items are never
  // renumbered nor removed, only marked deleted), so what is kept never goes
  // stale. Read so, a user's state made PostgreSQL fetch 31 % fewer tuples
  // over a first pass of 4,000 users (docs/benchmarks.md: the first pass).
  StatusOr<std::vector<std::optional<std::string>>> ItemIds(const std::vector<int64_t>& numbers) {
    std::vector<std::optional<std::string>> out(numbers.size());
    std::vector<PgParam> missing;
    {
      std::lock_guard lock(item_ids_mu_);
      for (size_t i = 0; i < numbers.size(); ++i) {
        if (numbers[i] < 0) continue;
        if (auto it = item_ids_.find(numbers[i]); it != item_ids_.end()) out[i] = it->second;
        else missing.emplace_back(std::to_string(numbers[i]));
      }
    }
    if (missing.empty()) return out;
    ASSIGN_OR_RETURN(auto r, Q("SELECT item_idx, item_id FROM {s}.items WHERE item_idx = ANY($1::bigint[])",
                               {PgArray(missing)}));
    std::unordered_map<int64_t, std::string> read;
    for (int i = 0; i < r.size(); ++i) read.emplace(r.Int(i, 0), r.Text(i, 1));
    for (size_t i = 0; i < numbers.size(); ++i) {
      if (auto it = read.find(numbers[i]); !out[i] && it != read.end()) out[i] = it->second;
    }
    std::lock_guard lock(item_ids_mu_);
    if (item_ids_.size() + read.size() > kMaxItemIds) item_ids_.clear();  // bounded
    item_ids_.merge(read);
    return out;
  }

  StatusOr<PgRows> Q(const std::string& sql, const std::vector<PgParam>& params = {}) {
    return t_.db->Exec(t_.Sql(sql), params);
  }
  StatusOr<int64_t> One(const std::string& sql) {
    ASSIGN_OR_RETURN(auto r, Q(sql));
    return r.size() > 0 ? r.Int(0, 0) : 0;
  }
  StatusOr<IdMap> ReadIdMap(const std::string& sql) {
    ASSIGN_OR_RETURN(auto r, Q(sql));
    IdMap out;
    out.reserve(r.size());
    for (int i = 0; i < r.size(); ++i) out.emplace(r.Text(i, 0), r.Int(i, 1));
    return out;
  }

  // ItemIds' numbers seen, at most kMaxItemIds (then forgotten and read again).
  static constexpr size_t kMaxItemIds = 100000;
  std::mutex item_ids_mu_;
  std::unordered_map<int64_t, std::string> item_ids_;
  PgTenantSpace t_;
  std::unique_ptr<TrainingRecords> training_;
  std::unique_ptr<ExperimentRecords> experiments_;
  TrackCommitter writer_;  // last: stopped first
};

}  // namespace

StatusOr<std::shared_ptr<TenantStore>> OpenPgTenantStore(PgTenantSpace space, bool create, const Clock* clock,
                                                         const CallbackRunner* run_callback) {
  const std::string id = space.tenant_id;
  auto store = std::make_shared<PgTenantStore>(std::move(space), clock, run_callback);
  if (create) RETURN_IF_ERROR(store->Stamp());
  ASSIGN_OR_RETURN(std::string stamped, store->StampedId());
  if (stamped != id) return Status::Internal("tenant schema of '" + id + "' belongs to '" + stamped + "'");
  return std::shared_ptr<TenantStore>(store);
}

}  // namespace embedrec::store
