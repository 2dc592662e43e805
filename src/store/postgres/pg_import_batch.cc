// An upload's writes to a tenant's schema, in one transaction on a leased
// connection, under the tenant's write lock.
#include "store/postgres/pg_import_batch.h"

#include <spdlog/spdlog.h>

#include <set>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "common/strings.h"
#include "store/postgres/pg_training_records.h"

namespace embedrec::store {
namespace {

// Interactions go in with COPY, in chunks: a row is new when its user is new
// to the tenant (made by this batch) or its key is not among the user's
// stored ones, read once when the user's rows begin (the rows come grouped
// by user); the write lock keeps tracking out meanwhile.
constexpr size_t kCopyRows = 20000;

class PgImportBatch final : public ImportBatch {
 public:
  PgImportBatch(PgTenantSpace space, PgDb::Lease lease) : t_(std::move(space)), lease_(std::move(lease)) {}
  ~PgImportBatch() override {
    if (open_) (void)lease_.conn().Exec("ROLLBACK");
  }

  Status Begin() {
    RETURN_IF_ERROR(c().Exec("BEGIN").status());
    open_ = true;
    RETURN_IF_ERROR(t_.LockWrites(c()));
    // Under the write lock, so no other upload takes the same number.
    ASSIGN_OR_RETURN(auto r, c().Exec(t_.Sql("SELECT COALESCE(MAX(seq), 0) + 1 FROM {s}.uploads")));
    seq_ = r.Int(0, 0);
    return Status::Ok();
  }

  // One item: the same statement as a chunk's.
  Status UpsertItem(const ItemRecord& it, int64_t now_ms) override { return UpsertItems({it}, now_ms); }

  Status UpsertItems(const std::vector<ItemRecord>& items, int64_t now_ms) override {
    // One row per item_id (ON CONFLICT cannot touch a row twice): at its
    // first place, with its last values, as one upsert after another would.
    std::unordered_map<std::string_view, size_t> slot;
    std::vector<const ItemRecord*> rows;
    for (const ItemRecord& it : items) {
      auto [p, fresh] = slot.emplace(it.item_id, rows.size());
      if (fresh) rows.push_back(&it);
      else rows[p->second] = &it;
    }
    std::vector<PgParam> ids, names, categories, prices, descriptions, brands, tags, images, available, properties;
    for (const ItemRecord* row : rows) {
      const ItemRecord& it = *row;
      ids.emplace_back(it.item_id), names.emplace_back(it.name), categories.emplace_back(it.category);
      prices.push_back(it.price ? PgParam(PgDouble(*it.price)) : std::nullopt);
      descriptions.emplace_back(it.description), brands.emplace_back(it.brand);
      tags.emplace_back(JoinList(it.tags, '|')), images.emplace_back(it.image_url);
      available.emplace_back(it.available ? "1" : "0"), properties.emplace_back(it.properties_json);
    }
    if (ids.empty()) return Status::Ok();
    items_ += static_cast<int64_t>(ids.size());
    // New items numbered on from the largest in the order given (under the
    // write lock); stored ones keep theirs.
    return c().Exec(t_.Sql("WITH input AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], "
                           "$4::float8[], $5::text[], $6::text[], $7::text[], $8::text[], $9::int[], $10::text[]) "
                           "WITH ORDINALITY AS t(item_id, name, category, price, description, brand, tags, "
                           "image_url, available, properties, ord)), "
                           "fresh AS (SELECT i.item_id, m.n + row_number() OVER (ORDER BY i.ord) AS item_idx "
                           "FROM input i, (SELECT COALESCE(MAX(item_idx), 0) AS n FROM {s}.items) m "
                           "WHERE NOT EXISTS (SELECT 1 FROM {s}.items x WHERE x.item_id = i.item_id)) "
                           "INSERT INTO {s}.items (item_idx, item_id, name, category, price, description, brand, "
                           "tags, image_url, available, properties, deleted, import_mark, created_at_ms, "
                           "updated_at_ms) "
                           "SELECT COALESCE(f.item_idx, (SELECT x.item_idx FROM {s}.items x WHERE x.item_id = "
                           "i.item_id)), i.item_id, i.name, i.category, i.price, i.description, i.brand, i.tags, "
                           "i.image_url, i.available, i.properties, 0, $11, $12, $12 "
                           "FROM input i LEFT JOIN fresh f USING (item_id) ORDER BY i.ord "
                           "ON CONFLICT (item_id) DO UPDATE SET "
                           "name=excluded.name, category=excluded.category, price=excluded.price, "
                           "description=excluded.description, brand=excluded.brand, tags=excluded.tags, "
                           "image_url=excluded.image_url, available=excluded.available, "
                           "properties=excluded.properties, deleted=0, import_mark=excluded.import_mark, "
                           "updated_at_ms=excluded.updated_at_ms"),
                    {PgArray(ids), PgArray(names), PgArray(categories), PgArray(prices), PgArray(descriptions),
                     PgArray(brands), PgArray(tags), PgArray(images), PgArray(available), PgArray(properties),
                     std::to_string(seq_), std::to_string(now_ms)})
        .status();
  }

  StatusOr<int64_t> DeleteItemsNotUpserted(int64_t now_ms) override {
    ASSIGN_OR_RETURN(auto r, c().Exec(t_.Sql("UPDATE {s}.items SET deleted=1, updated_at_ms=$1 "
                                             "WHERE deleted=0 AND import_mark <> $2"),
                                      {std::to_string(now_ms), std::to_string(seq_)}));
    return r.changed();
  }

  StatusOr<int64_t> EnsureUser(const std::string& user_id, int64_t now_ms) override {
    ASSIGN_OR_RETURN(auto r, c().Exec(t_.Sql("INSERT INTO {s}.users (user_idx, user_id, created_at_ms) VALUES "
                                             "((SELECT COALESCE(MAX(user_idx), 0) + 1 FROM {s}.users), $1, $2) "
                                             "ON CONFLICT (user_id) DO NOTHING RETURNING user_idx"),
                                      {user_id, std::to_string(now_ms)}));
    if (r.size() > 0) {
      new_users_.insert(r.Int(0, 0));  // no stored interactions to compare with
      return r.Int(0, 0);
    }
    // Created since the caller's snapshot (a tracked event): use that one.
    ASSIGN_OR_RETURN(auto q, c().Exec(t_.Sql("SELECT user_idx FROM {s}.users WHERE user_id=$1"), {user_id}));
    if (q.size() == 0) return Status::Internal("user '" + user_id + "' vanished during an upload");
    return q.Int(0, 0);
  }

  StatusOr<std::vector<int64_t>> EnsureUsers(const std::vector<std::string>& user_ids, int64_t now_ms) override {
    std::vector<PgParam> ids(user_ids.begin(), user_ids.end());
    ASSIGN_OR_RETURN(auto known, c().Exec(t_.Sql("SELECT user_id, user_idx FROM {s}.users WHERE user_id = ANY($1::text[])"),
                                          {PgArray(ids)}));
    std::unordered_map<std::string, int64_t> idx;
    for (int i = 0; i < known.size(); ++i) idx[known.Text(i, 0)] = known.Int(i, 1);
    std::vector<PgParam> fresh;
    for (const auto& id : user_ids) {
      if (!idx.count(id) && idx.emplace(id, -1).second) fresh.emplace_back(id);
    }
    if (!fresh.empty()) {
      // Under the write lock: numbered on from the largest, in the order given.
      ASSIGN_OR_RETURN(auto made, c().Exec(t_.Sql("INSERT INTO {s}.users (user_idx, user_id, created_at_ms) "
                                                  "SELECT m.n + u.ord, u.id, $2 FROM unnest($1::text[]) WITH ORDINALITY "
                                                  "AS u(id, ord), (SELECT COALESCE(MAX(user_idx), 0) AS n FROM "
                                                  "{s}.users) m RETURNING user_id, user_idx"),
                                           {PgArray(fresh), std::to_string(now_ms)}));
      for (int i = 0; i < made.size(); ++i) {
        idx[made.Text(i, 0)] = made.Int(i, 1);
        new_users_.insert(made.Int(i, 1));  // no stored interactions to compare with
      }
    }
    std::vector<int64_t> out;
    out.reserve(user_ids.size());
    for (const auto& id : user_ids) out.push_back(idx[id]);
    return out;
  }

  void ExpectStoredUsers(std::vector<int64_t> user_idx) override {
    expected_ = std::move(user_idx);
    next_expected_ = 0;
  }

  StatusOr<bool> InsertInteraction(const InteractionRecord& r) override {
    if (r.user_idx != user_) {
      user_ = r.user_idx;
      keys_.clear();
      if (!new_users_.count(user_)) RETURN_IF_ERROR(ReadStoredKeys(user_));
    }
    if (!keys_.emplace(r.item_idx.value_or(-1), r.type, r.ts_ms).second) return false;  // stored (or repeated)
    auto num = [&](const std::optional<double>& v) { copy_ += v ? PgDouble(*v) : "\\N"; };
    auto text = [&](const std::string& v) {
      if (v.empty()) copy_ += "\\N";
      else AppendCopyText(v, &copy_);
    };
    copy_ += std::to_string(r.user_idx) + '\t' + std::to_string(r.item_idx.value_or(-1)) + '\t';
    AppendCopyText(r.type, &copy_);
    copy_ += '\t' + std::to_string(r.ts_ms) + '\t';
    num(r.rating), copy_ += '\t', num(r.duration_seconds), copy_ += '\t', num(r.value), copy_ += '\t';
    num(r.quantity), copy_ += '\t', text(r.context_json), copy_ += '\t', text(r.metadata_json), copy_ += '\t';
    text(r.recommendation_id);
    copy_ += '\t' + std::to_string(seq_) + "\t\\N\n";
    ++rows_;
    if (++buffered_ >= kCopyRows) RETURN_IF_ERROR(Flush());
    return true;
  }

  Status RecordUpload(const UploadRecord& u) override {
    return c().Exec(t_.Sql("INSERT INTO {s}.uploads (id, kind, created_at_ms, storage_location, result_json, seq) "
                           "VALUES ($1,$2,$3,$4,$5,$6)"),
                    {u.id, u.kind, std::to_string(u.created_at_ms), u.storage_location, u.result_json,
                     std::to_string(seq_)})
        .status();
  }

  Status AppendEvent(const std::string& topic, const std::string& payload, int64_t now_ms) override {
    return t_.AppendEvent(c(), topic, payload, now_ms);
  }

  Status Commit() override {
    RETURN_IF_ERROR(Flush());
    RETURN_IF_ERROR(t_.Notify(c(), RemoteChange::kData));
    RETURN_IF_ERROR(c().Exec("COMMIT").status());
    open_ = false;
    // Fresh statistics for the tables this upload grew: without them the
    // planner guesses a user's rows by the table's size and reads a
    // cold user's profile with hash joins over whole tables (measured on one
    // node: 433-633 first requests/s without, 2,379 with). Autovacuum's own
    // ANALYZE comes later, and for a big table only after a big change.
    std::string tables;
    for (const auto& [changed, table] : {std::pair{rows_, "interactions"}, std::pair{items_, "items"},
                                         std::pair{static_cast<int64_t>(new_users_.size()), "users"}}) {
      if (changed < kAnalyzeRows) continue;
      tables += (tables.empty() ? "" : ", ") + t_.Sql(std::string("{s}.") + table);
    }
    if (!tables.empty()) {
      Status analyzed = c().Exec("ANALYZE " + tables).status();
      if (!analyzed.ok()) spdlog::warn("tenant {}: ANALYZE after an upload: {}", t_.tenant_id, analyzed.ToString());
    }
    return Status::Ok();
  }

 private:
  PgConn& c() { return lease_.conn(); }

  // keys_ = the stored keys of `user`: with the users the upload said would
  // come (ExpectStoredUsers), read kUsersPerRead of them per round trip.
  Status ReadStoredKeys(int64_t user) {
    if (auto it = ahead_.find(user); it != ahead_.end()) {
      keys_ = std::move(it->second);
      ahead_.erase(it);
      return Status::Ok();
    }
    while (next_expected_ < expected_.size() && expected_[next_expected_] < user) ++next_expected_;
    std::vector<PgParam> users;
    if (next_expected_ < expected_.size() && expected_[next_expected_] == user) {
      ahead_.clear();  // users passed over
      for (; next_expected_ < expected_.size() && users.size() < kUsersPerRead; ++next_expected_) {
        users.emplace_back(std::to_string(expected_[next_expected_]));
        ahead_[expected_[next_expected_]];
      }
    } else {
      users.emplace_back(std::to_string(user));
      ahead_[user];
    }
    ASSIGN_OR_RETURN(auto stored, c().Exec(t_.Sql("SELECT user_idx, item_idx, type, ts_ms FROM {s}.interactions "
                                                  "WHERE user_idx = ANY($1::bigint[])"),
                                           {PgArray(users)}));
    for (int i = 0; i < stored.size(); ++i) {
      ahead_[stored.Int(i, 0)].emplace(stored.Int(i, 1), stored.Text(i, 2), stored.Int(i, 3));
    }
    keys_ = std::move(ahead_[user]);
    ahead_.erase(user);
    return Status::Ok();
  }

  Status Flush() {
    if (buffered_ == 0) return Status::Ok();
    RETURN_IF_ERROR(c().CopyIn(t_.Sql("COPY {s}.interactions (user_idx, item_idx, type, ts_ms, rating, "
                                      "duration_seconds, value, quantity, context, metadata, recommendation_id, "
                                      "upload_seq, interaction_id) FROM STDIN"),
                               copy_));
    copy_.clear();
    buffered_ = 0;
    return Status::Ok();
  }

  PgTenantSpace t_;
  PgDb::Lease lease_;
  int64_t seq_ = 0;  // this upload's number (uploads.seq), ≥ 1
  bool open_ = false;
  std::unordered_set<int64_t> new_users_;                  // made by this batch
  using Keys = std::set<std::tuple<int64_t, std::string, int64_t>>;
  static constexpr size_t kUsersPerRead = 512;
  int64_t user_ = -1;  // whose rows are coming
  Keys keys_;          // its stored and added keys
  std::vector<int64_t> expected_;  // stored users with rows in the upload, increasing
  size_t next_expected_ = 0;       // the first of them not read yet
  std::unordered_map<int64_t, Keys> ahead_;  // stored keys read ahead, by user
  std::string copy_;                                       // rows not yet sent
  size_t buffered_ = 0;
  int64_t rows_ = 0, items_ = 0;  // interactions sent, items upserted
  static constexpr int64_t kAnalyzeRows = 1000;
};

}  // namespace

StatusOr<std::unique_ptr<ImportBatch>> NewPgImportBatch(const PgTenantSpace& space) {
  ASSIGN_OR_RETURN(auto lease, space.db->Checkout());
  auto batch = std::make_unique<PgImportBatch>(space, std::move(lease));
  RETURN_IF_ERROR(batch->Begin());
  return std::unique_ptr<ImportBatch>(std::move(batch));
}

}  // namespace embedrec::store
