// An upload's writes to a tenant's schema, in one transaction on a leased
// connection, under the tenant's write lock.
#include "store/postgres/pg_import_batch.h"

#include "store/postgres/pg_training_records.h"

namespace embedrec::store {
namespace {

std::string JoinTags(const std::vector<std::string>& tags) {
  std::string out;
  for (const auto& t : tags) {
    if (!out.empty()) out.push_back('|');
    out += t;
  }
  return out;
}

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

  Status UpsertItem(const ItemRecord& it, int64_t now_ms) override {
    const std::string now = std::to_string(now_ms);
    return c().Exec(t_.Sql("INSERT INTO {s}.items (item_idx, item_id, name, category, price, description, brand, "
                           "tags, image_url, available, properties, deleted, import_mark, created_at_ms, updated_at_ms) "
                           "VALUES ((SELECT COALESCE(MAX(item_idx), 0) + 1 FROM {s}.items),"
                           "$1,$2,$3,$4,$5,$6,$7,$8,$9,$10,0,$11,$12,$12) ON CONFLICT (item_id) DO UPDATE SET "
                           "name=excluded.name, category=excluded.category, price=excluded.price, "
                           "description=excluded.description, brand=excluded.brand, tags=excluded.tags, "
                           "image_url=excluded.image_url, available=excluded.available, "
                           "properties=excluded.properties, deleted=0, import_mark=excluded.import_mark, "
                           "updated_at_ms=excluded.updated_at_ms"),
                    {it.item_id, it.name, it.category, it.price ? PgParam(PgDouble(*it.price)) : std::nullopt,
                     it.description, it.brand, JoinTags(it.tags), it.image_url, it.available ? "1" : "0",
                     it.properties_json, std::to_string(seq_), now})
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
    if (r.size() > 0) return r.Int(0, 0);
    // Created since the caller's snapshot (a tracked event): use that one.
    ASSIGN_OR_RETURN(auto q, c().Exec(t_.Sql("SELECT user_idx FROM {s}.users WHERE user_id=$1"), {user_id}));
    if (q.size() == 0) return Status::Internal("user '" + user_id + "' vanished during an upload");
    return q.Int(0, 0);
  }

  StatusOr<bool> InsertInteraction(const InteractionRecord& r) override {
    return t_.InsertInteraction(c(), r, "", seq_);
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
    RETURN_IF_ERROR(t_.Notify(c(), RemoteChange::kData));
    RETURN_IF_ERROR(c().Exec("COMMIT").status());
    open_ = false;
    return Status::Ok();
  }

 private:
  PgConn& c() { return lease_.conn(); }

  PgTenantSpace t_;
  PgDb::Lease lease_;
  int64_t seq_ = 0;  // this upload's number (uploads.seq), ≥ 1
  bool open_ = false;
};

}  // namespace

StatusOr<std::unique_ptr<ImportBatch>> NewPgImportBatch(const PgTenantSpace& space) {
  ASSIGN_OR_RETURN(auto lease, space.db->Checkout());
  auto batch = std::make_unique<PgImportBatch>(space, std::move(lease));
  RETURN_IF_ERROR(batch->Begin());
  return std::unique_ptr<ImportBatch>(std::move(batch));
}

}  // namespace embedrec::store
