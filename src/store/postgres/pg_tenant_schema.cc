#include "store/postgres/pg_tenant_schema.h"

namespace embedrec::store {

const std::vector<PgMigration>& PgTenantMigrations() {
  // 1: the SQLite tenant schema's nine steps as one (there was no older
  // PostgreSQL data to migrate).
  static const std::vector<PgMigration> kMigrations = {
      {1, R"sql(
CREATE TABLE {s}.meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE {s}.items (
  item_idx BIGINT PRIMARY KEY,            -- dense: max + 1, under the tenant's write lock
  item_id TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL DEFAULT '',
  category TEXT NOT NULL DEFAULT '',
  price DOUBLE PRECISION,
  description TEXT NOT NULL DEFAULT '',
  brand TEXT NOT NULL DEFAULT '',
  tags TEXT NOT NULL DEFAULT '',
  image_url TEXT NOT NULL DEFAULT '',
  available INTEGER NOT NULL DEFAULT 1,
  properties TEXT NOT NULL DEFAULT '{}',
  deleted INTEGER NOT NULL DEFAULT 0,
  import_mark BIGINT NOT NULL DEFAULT 0,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL
);
CREATE INDEX items_by_category ON {s}.items(category) WHERE deleted = 0;
CREATE TABLE {s}.uploads (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  storage_location TEXT NOT NULL,
  result_json TEXT NOT NULL,
  seq BIGINT UNIQUE
);
CREATE INDEX uploads_by_time ON {s}.uploads(created_at_ms);
CREATE TABLE {s}.events (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  topic TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL
);
CREATE TABLE {s}.users (
  user_idx BIGINT PRIMARY KEY,            -- dense, as item_idx
  user_id TEXT NOT NULL UNIQUE,
  created_at_ms BIGINT NOT NULL
);
CREATE TABLE {s}.interactions (
  user_idx BIGINT NOT NULL,
  item_idx BIGINT NOT NULL,               -- -1 for impressions without an item
  type TEXT NOT NULL,
  ts_ms BIGINT NOT NULL,
  rating DOUBLE PRECISION,
  duration_seconds DOUBLE PRECISION,
  value DOUBLE PRECISION,
  quantity DOUBLE PRECISION,
  context TEXT,
  metadata TEXT,
  recommendation_id TEXT,
  upload_seq BIGINT,
  interaction_id TEXT,
  PRIMARY KEY (user_idx, item_idx, type, ts_ms)
);
CREATE TABLE {s}.idempotency_keys (
  key TEXT PRIMARY KEY,
  interaction_id TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL
);
CREATE TABLE {s}.training_jobs (
  job_id TEXT PRIMARY KEY,
  status TEXT NOT NULL,
  model_type TEXT NOT NULL,
  mode TEXT NOT NULL,
  request_json TEXT NOT NULL,
  state_json TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL
);
CREATE INDEX training_jobs_by_time ON {s}.training_jobs(created_at_ms);
CREATE TABLE {s}.model_versions (
  version TEXT PRIMARY KEY,
  major INTEGER NOT NULL,
  minor INTEGER NOT NULL,
  model_type TEXT NOT NULL,
  status TEXT NOT NULL,
  reason TEXT NOT NULL,
  job_id TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  deployed_at_ms BIGINT NOT NULL,
  size_bytes BIGINT NOT NULL,
  model_key TEXT NOT NULL,
  index_key TEXT NOT NULL,
  metrics_json TEXT NOT NULL,
  params_json TEXT NOT NULL,
  index_json TEXT NOT NULL,
  traffic_weight DOUBLE PRECISION NOT NULL DEFAULT 0
);
CREATE TABLE {s}.serving_snapshots (
  name TEXT PRIMARY KEY,
  position BIGINT NOT NULL,
  data BYTEA NOT NULL,
  created_at_ms BIGINT NOT NULL
);
CREATE TABLE {s}.experiments (
  experiment_id TEXT PRIMARY KEY,
  status TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL,
  doc_json TEXT NOT NULL
);
CREATE INDEX experiments_by_status ON {s}.experiments(status);
)sql"},
      // What the nodes count together: the recommendation log and analytics'
      // rollups (SQLite keeps these in recommendations.db and analytics.db).
      // Ids compare bytewise (COLLATE "C"), as in SQLite: pages and ties
      // come in the same order whatever the database's locale.
      {2, R"sql(
CREATE TABLE {s}.recommendations (
  id TEXT COLLATE "C" PRIMARY KEY,
  ts_ms BIGINT NOT NULL,
  user_id TEXT COLLATE "C" NOT NULL,
  endpoint TEXT NOT NULL,
  model_version TEXT NOT NULL,
  algorithm TEXT NOT NULL,
  items TEXT NOT NULL,
  context TEXT NOT NULL,
  cached BOOLEAN NOT NULL,
  experiment_id TEXT NOT NULL,
  arm TEXT NOT NULL
);
CREATE INDEX recommendations_ts ON {s}.recommendations(ts_ms, id);
CREATE INDEX recommendations_by_user ON {s}.recommendations(user_id, ts_ms) WHERE user_id <> '';
CREATE TABLE {s}.counters_minute (
  start_ms BIGINT NOT NULL,
  metric TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  model_version TEXT NOT NULL,
  key_id TEXT NOT NULL,
  value DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (start_ms, metric, endpoint, model_version, key_id)
);
CREATE TABLE {s}.counters_hour (LIKE {s}.counters_minute INCLUDING ALL);
CREATE TABLE {s}.counters_day (LIKE {s}.counters_minute INCLUDING ALL);
CREATE TABLE {s}.item_days (
  day_ms BIGINT NOT NULL,
  item_id TEXT COLLATE "C" NOT NULL,
  impressions DOUBLE PRECISION NOT NULL,
  clicks DOUBLE PRECISION NOT NULL,
  carts DOUBLE PRECISION NOT NULL,
  purchases DOUBLE PRECISION NOT NULL,
  revenue DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (day_ms, item_id)
);
CREATE TABLE {s}.clicks (
  user_id TEXT NOT NULL,
  item_id TEXT NOT NULL,
  ts_ms BIGINT NOT NULL,
  recommendation_id TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  model_version TEXT NOT NULL,
  source TEXT NOT NULL,
  experiment_id TEXT NOT NULL,
  arm TEXT NOT NULL
);
CREATE INDEX clicks_by_pair ON {s}.clicks(user_id, item_id, ts_ms);
CREATE INDEX clicks_by_time ON {s}.clicks(ts_ms);
CREATE TABLE {s}.item_windows (
  days BIGINT PRIMARY KEY,
  from_day_ms BIGINT NOT NULL,
  to_day_ms BIGINT NOT NULL,
  put_seq BIGINT NOT NULL
);
CREATE TABLE {s}.item_window_sums (
  days BIGINT NOT NULL,
  item_id TEXT COLLATE "C" NOT NULL,
  impressions DOUBLE PRECISION NOT NULL,
  clicks DOUBLE PRECISION NOT NULL,
  carts DOUBLE PRECISION NOT NULL,
  purchases DOUBLE PRECISION NOT NULL,
  revenue DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (days, item_id)
);
CREATE TABLE {s}.experiment_users (
  experiment_id TEXT NOT NULL,
  arm TEXT NOT NULL,
  user_id TEXT NOT NULL,
  impressions DOUBLE PRECISION NOT NULL,
  clicks DOUBLE PRECISION NOT NULL,
  orders DOUBLE PRECISION NOT NULL,
  revenue DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (experiment_id, arm, user_id)
);
)sql"},
      // The catalog's changes among the events (most are tracked
      // interactions): "has the catalog changed since event N" is a probe.
      {3, R"sql(
CREATE INDEX events_catalog ON {s}.events(seq) WHERE topic = 'item-catalog-updated';
)sql"},
  };
  return kMigrations;
}

std::string TenantSchemaName(const std::string& tenant_id) {
  std::string out = "tenant_";
  for (char c : tenant_id) {
    if (c != '-') out += c;
  }
  return out;
}

std::string ChangeMessage(const std::string& node, const RemoteChange& change) {
  std::string m = node + " " + change.tenant_id + " " + std::to_string(static_cast<int>(change.kind));
  if (!change.event.empty()) m += " " + change.event;
  return m;
}

bool ParseChangeMessage(const std::string& message, std::string* node, RemoteChange* change) {
  size_t a = message.find(' '), b = a == std::string::npos ? a : message.find(' ', a + 1);
  if (b == std::string::npos || b + 2 > message.size()) return false;
  const int kind = message[b + 1] - '0';
  if (kind < RemoteChange::kModels || kind > RemoteChange::kCredentials) return false;
  if (b + 2 < message.size() && message[b + 2] != ' ') return false;
  *node = message.substr(0, a);
  change->tenant_id = message.substr(a + 1, b - a - 1);
  change->kind = static_cast<RemoteChange::Kind>(kind);
  change->event = b + 3 < message.size() ? message.substr(b + 3) : std::string();
  return true;
}

Status PgTenantSpace::Notify(PgConn& c, RemoteChange::Kind kind) const {
  return c.Exec("SELECT pg_notify($1, $2)", {kChangesChannel, ChangeMessage(node, {tenant_id, kind})}).status();
}

PgStatement PgTenantSpace::LockWritesStatement(std::optional<int> wait_ms) const {
  const std::string key = "embedrec-writes:" + tenant_id;
  if (!wait_ms) return {"SELECT pg_advisory_xact_lock(hashtext($1))", {key}};
  // The FROM's volatile call runs first (such a subquery is not pulled up).
  return {"SELECT pg_advisory_xact_lock(hashtext($1)) FROM (SELECT set_config('lock_timeout', $2, true)) AS bounded",
          {key, std::to_string(*wait_ms)}};
}

Status PgTenantSpace::LockWrites(PgConn& c) const {
  const PgStatement lock = LockWritesStatement();
  return c.Exec(lock.sql, lock.params).status();
}

Status PgTenantSpace::AppendEvent(PgConn& c, const std::string& topic, const std::string& payload,
                                  int64_t now_ms) const {
  return c.Exec(Sql("INSERT INTO {s}.events (topic, payload, created_at_ms) VALUES ($1,$2,$3)"),
                {topic, payload, std::to_string(now_ms)})
      .status();
}

StatusOr<bool> PgTenantSpace::InsertInteraction(PgConn& c, const InteractionRecord& r,
                                                const std::string& interaction_id, int64_t upload_seq) const {
  auto num = [](const std::optional<double>& v) { return v ? PgParam(PgDouble(*v)) : PgParam(); };
  auto text = [](const std::string& v) -> PgParam { return v.empty() ? PgParam() : PgParam(v); };
  ASSIGN_OR_RETURN(auto rows, c.Exec(Sql("INSERT INTO {s}.interactions (user_idx, item_idx, type, ts_ms, rating, "
                                         "duration_seconds, value, quantity, context, metadata, recommendation_id, "
                                         "upload_seq, interaction_id) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,"
                                         "$12,$13) ON CONFLICT DO NOTHING"),
                                     {std::to_string(r.user_idx), std::to_string(r.item_idx.value_or(-1)), r.type,
                                      std::to_string(r.ts_ms), num(r.rating), num(r.duration_seconds), num(r.value),
                                      num(r.quantity), text(r.context_json), text(r.metadata_json),
                                      text(r.recommendation_id),
                                      upload_seq > 0 ? PgParam(std::to_string(upload_seq)) : std::nullopt,
                                      text(interaction_id)}));
  return rows.changed() > 0;
}

}  // namespace embedrec::store
