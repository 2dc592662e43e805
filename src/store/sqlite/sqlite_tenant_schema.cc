#include "store/sqlite/sqlite_tenant_schema.h"

namespace embedrec::store {

const std::vector<Migration>& TenantMigrations() {
  static const std::vector<Migration> kMigrations = {
      {1, R"sql(
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
)sql"},
      {2, R"sql(
CREATE TABLE items (
  item_idx INTEGER PRIMARY KEY,          -- dense integer id used by interactions and models
  item_id TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL DEFAULT '',
  category TEXT NOT NULL DEFAULT '',
  price REAL,
  description TEXT NOT NULL DEFAULT '',
  brand TEXT NOT NULL DEFAULT '',
  tags TEXT NOT NULL DEFAULT '',         -- '|'-separated
  image_url TEXT NOT NULL DEFAULT '',
  available INTEGER NOT NULL DEFAULT 1,
  properties TEXT NOT NULL DEFAULT '{}', -- JSON object of extra columns
  deleted INTEGER NOT NULL DEFAULT 0,
  import_mark INTEGER NOT NULL DEFAULT 0,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
);
CREATE INDEX items_by_category ON items(category) WHERE deleted = 0;
CREATE TABLE uploads (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  storage_location TEXT NOT NULL,
  result_json TEXT NOT NULL
);
CREATE INDEX uploads_by_time ON uploads(created_at_ms);
CREATE TABLE events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  topic TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL
);
)sql"},
      {3, R"sql(
CREATE TABLE users (
  user_idx INTEGER PRIMARY KEY,          -- dense integer id used by models
  user_id TEXT NOT NULL UNIQUE,
  created_at_ms INTEGER NOT NULL
);
-- Clustered by (user, item, type, time): the primary key is both the storage
-- order (a user's history is contiguous) and the exact-duplicate rule, in
-- one B-tree instead of a table plus a unique index.
CREATE TABLE interactions (
  user_idx INTEGER NOT NULL,
  item_idx INTEGER NOT NULL,             -- -1 for impressions without an item
  type TEXT NOT NULL,
  ts_ms INTEGER NOT NULL,
  rating REAL,
  duration_seconds REAL,
  value REAL,
  quantity REAL,
  context TEXT,
  metadata TEXT,
  recommendation_id TEXT,
  upload_id TEXT,
  PRIMARY KEY (user_idx, item_idx, type, ts_ms)
) WITHOUT ROWID;
)sql"},
      {4, R"sql(
ALTER TABLE interactions ADD COLUMN interaction_id TEXT;
CREATE TABLE idempotency_keys (
  key TEXT PRIMARY KEY,
  interaction_id TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL
);
)sql"},
      {5, R"sql(
-- An upload's rows name it by a small number (1-2 bytes a row) instead of
-- its 26-byte id string.
ALTER TABLE uploads ADD COLUMN seq INTEGER;
CREATE UNIQUE INDEX uploads_by_seq ON uploads(seq);
ALTER TABLE interactions ADD COLUMN upload_seq INTEGER;
)sql"},
      {6, R"sql(
CREATE TABLE training_jobs (
  job_id TEXT PRIMARY KEY,
  status TEXT NOT NULL,
  model_type TEXT NOT NULL,
  mode TEXT NOT NULL,
  request_json TEXT NOT NULL,
  state_json TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
);
CREATE INDEX training_jobs_by_time ON training_jobs(created_at_ms);
CREATE TABLE model_versions (
  version TEXT PRIMARY KEY,
  major INTEGER NOT NULL,
  minor INTEGER NOT NULL,
  model_type TEXT NOT NULL,
  status TEXT NOT NULL,                  -- deployed | standby | archived
  reason TEXT NOT NULL,
  job_id TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  deployed_at_ms INTEGER NOT NULL,
  size_bytes INTEGER NOT NULL,
  model_key TEXT NOT NULL,
  index_key TEXT NOT NULL,
  metrics_json TEXT NOT NULL,
  params_json TEXT NOT NULL,
  index_json TEXT NOT NULL
);
)sql"},
      {7, R"sql(
ALTER TABLE model_versions ADD COLUMN traffic_weight REAL NOT NULL DEFAULT 0;
UPDATE model_versions SET traffic_weight = 1 WHERE status = 'deployed';
)sql"},
      {8, R"sql(
-- What serving derives from the data and keeps across restarts (popularity):
-- by name, with the event position (events.seq) it reflects.
CREATE TABLE serving_snapshots (
  name TEXT PRIMARY KEY,
  position INTEGER NOT NULL,
  data BLOB NOT NULL,
  created_at_ms INTEGER NOT NULL
);
)sql"},
      {9, R"sql(
-- Experiments between model versions (store/experiment_records.h).
CREATE TABLE experiments (
  experiment_id TEXT PRIMARY KEY,
  status TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  doc_json TEXT NOT NULL
);
CREATE INDEX experiments_by_status ON experiments(status);
)sql"},
      {10, R"sql(
-- The catalog's changes among the events (most are tracked interactions):
-- "has the catalog changed since event N" is a probe, not a scan.
CREATE INDEX events_catalog ON events(seq) WHERE topic = 'item-catalog-updated';
)sql"},
  };
  return kMigrations;
}

const char* const kInsertInteractionSql =
    "INSERT OR IGNORE INTO interactions (user_idx, item_idx, type, ts_ms, rating, "
    "duration_seconds, value, quantity, context, metadata, recommendation_id, upload_seq, "
    "interaction_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)";

StatusOr<bool> InsertInteractionRow(SqliteConn& c, SqliteStmt& st, const InteractionRecord& r,
                                    const std::string& interaction_id, int64_t upload_seq) {
  auto opt = [&](int i, const std::optional<double>& v) {
    if (v) st.Bind(i, *v); else st.BindNull(i);
  };
  auto text = [&](int i, const std::string& v) {
    if (v.empty()) st.BindNull(i); else st.Bind(i, v);
  };
  st.Bind(1, r.user_idx).Bind(2, r.item_idx.value_or(-1)).Bind(3, r.type).Bind(4, r.ts_ms);
  opt(5, r.rating);
  opt(6, r.duration_seconds);
  opt(7, r.value);
  opt(8, r.quantity);
  text(9, r.context_json);
  text(10, r.metadata_json);
  text(11, r.recommendation_id);
  if (upload_seq > 0) st.Bind(12, upload_seq); else st.BindNull(12);
  text(13, interaction_id);
  Status s = st.Run();
  st.Reset();
  RETURN_IF_ERROR(s);
  return c.Changes() > 0;
}

Status AppendEventRow(SqliteConn& c, const std::string& topic, const std::string& payload, int64_t now_ms) {
  ASSIGN_OR_RETURN(auto st, c.Prepare("INSERT INTO events (topic, payload, created_at_ms) VALUES (?,?,?)"));
  st->Bind(1, topic).Bind(2, payload).Bind(3, now_ms);
  return st->Run();
}

const char* const kItemIndexSql = "SELECT item_id, item_idx FROM items WHERE deleted=0";
const char* const kUserIndexSql = "SELECT user_id, user_idx FROM users";

}  // namespace embedrec::store
