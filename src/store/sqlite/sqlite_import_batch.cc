#include "store/sqlite/sqlite_import_batch.h"

#include "store/sqlite/sqlite_tenant_schema.h"

namespace embedrec::store {
namespace {

class SqliteImportBatch final : public ImportBatch {
 public:
  explicit SqliteImportBatch(SqliteDb::Lease lease) : lease_(std::move(lease)) {}
  ~SqliteImportBatch() override {
    insert_.reset();
    if (open_) (void)lease_.conn().Exec("ROLLBACK");
  }
  Status Begin() {
    RETURN_IF_ERROR(lease_.conn().Exec("BEGIN IMMEDIATE"));
    open_ = true;
    // Under the write lock, so no other upload takes the same number. It also
    // marks the items this batch upserts (replace mode deletes the others):
    // committed uploads' numbers only grow, and items outside uploads keep 0.
    ASSIGN_OR_RETURN(auto st, lease_.conn().Prepare("SELECT COALESCE(MAX(seq), 0) + 1 FROM uploads"));
    ASSIGN_OR_RETURN(bool row, st->Step());
    if (row) seq_ = st->Int(0);
    return Status::Ok();
  }

  Status UpsertItem(const ItemRecord& it, int64_t now_ms) override {
    ASSIGN_OR_RETURN(auto st, lease_.conn().Prepare(
        "INSERT INTO items (item_id, name, category, price, description, brand, tags, image_url, "
        "available, properties, deleted, import_mark, created_at_ms, updated_at_ms) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,0,?,?,?) ON CONFLICT(item_id) DO UPDATE SET "
        "name=excluded.name, category=excluded.category, price=excluded.price, "
        "description=excluded.description, brand=excluded.brand, tags=excluded.tags, "
        "image_url=excluded.image_url, available=excluded.available, "
        "properties=excluded.properties, deleted=0, import_mark=excluded.import_mark, "
        "updated_at_ms=excluded.updated_at_ms"));
    st->Bind(1, it.item_id).Bind(2, it.name).Bind(3, it.category);
    if (it.price) st->Bind(4, *it.price); else st->BindNull(4);
    st->Bind(5, it.description).Bind(6, it.brand).Bind(7, JoinList(it.tags, '|')).Bind(8, it.image_url)
        .Bind(9, int64_t{it.available}).Bind(10, it.properties_json).Bind(11, seq_)
        .Bind(12, now_ms).Bind(13, now_ms);
    return st->Run();
  }

  StatusOr<int64_t> DeleteItemsNotUpserted(int64_t now_ms) override {
    ASSIGN_OR_RETURN(auto st, lease_.conn().Prepare(
        "UPDATE items SET deleted=1, updated_at_ms=? WHERE deleted=0 AND import_mark != ?"));
    st->Bind(1, now_ms).Bind(2, seq_);
    RETURN_IF_ERROR(st->Run());
    return lease_.conn().Changes();
  }

  StatusOr<int64_t> EnsureUser(const std::string& user_id, int64_t now_ms) override {
    ASSIGN_OR_RETURN(auto st, lease_.conn().Prepare(
        "INSERT INTO users (user_id, created_at_ms) VALUES (?,?) ON CONFLICT(user_id) DO NOTHING "
        "RETURNING user_idx"));
    st->Bind(1, user_id).Bind(2, now_ms);
    ASSIGN_OR_RETURN(bool row, st->Step());
    if (row) return st->Int(0);
    st.reset();
    // Created since the caller's snapshot (a tracked event): use that one.
    ASSIGN_OR_RETURN(auto q, lease_.conn().Prepare("SELECT user_idx FROM users WHERE user_id=?"));
    q->Bind(1, user_id);
    ASSIGN_OR_RETURN(bool found, q->Step());
    if (!found) return Status::Internal("user '" + user_id + "' vanished during an upload");
    return q->Int(0);
  }

  StatusOr<bool> InsertInteraction(const InteractionRecord& r) override {
    if (!insert_) {
      ASSIGN_OR_RETURN(insert_, lease_.conn().Prepare(kInsertInteractionSql));
    }
    return InsertInteractionRow(lease_.conn(), *insert_, r, no_id_, seq_);
  }

  Status RecordUpload(const UploadRecord& u) override {
    ASSIGN_OR_RETURN(auto st, lease_.conn().Prepare(
        "INSERT INTO uploads (id, kind, created_at_ms, storage_location, result_json, seq) "
        "VALUES (?,?,?,?,?,?)"));
    st->Bind(1, u.id).Bind(2, u.kind).Bind(3, u.created_at_ms).Bind(4, u.storage_location)
        .Bind(5, u.result_json).Bind(6, seq_);
    return st->Run();
  }

  Status AppendEvent(const std::string& topic, const std::string& payload, int64_t now_ms) override {
    return AppendEventRow(lease_.conn(), topic, payload, now_ms);
  }

  Status Commit() override {
    insert_.reset();
    RETURN_IF_ERROR(lease_.conn().Exec("COMMIT"));
    open_ = false;
    return Status::Ok();
  }

 private:
  SqliteDb::Lease lease_;
  int64_t seq_ = 0;                     // this upload's number (uploads.seq), ≥ 1
  std::unique_ptr<SqliteStmt> insert_;  // reused for every row
  const std::string no_id_;
  bool open_ = false;
};

}  // namespace

StatusOr<std::unique_ptr<ImportBatch>> NewSqliteImportBatch(SqliteDb::Lease lease) {
  auto batch = std::make_unique<SqliteImportBatch>(std::move(lease));
  RETURN_IF_ERROR(batch->Begin());
  return std::unique_ptr<ImportBatch>(std::move(batch));
}

}  // namespace embedrec::store
