// The embedded analytics store: one SQLite database per tenant
// (`root`/<tenant>/analytics.db), rows summed in place by upserts.
#include <map>

#include "store/analytics_store.h"
#include "store/sqlite/sqlite_db.h"
#include "store/sqlite/tenant_db_set.h"

namespace embedrec::store {
namespace {

const std::vector<Migration> kAnalyticsMigrations = {
    {1, R"sql(
CREATE TABLE counters (
  hour_ms INTEGER NOT NULL,
  metric TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  model_version TEXT NOT NULL,
  key_id TEXT NOT NULL,
  value REAL NOT NULL,
  PRIMARY KEY (hour_ms, metric, endpoint, model_version, key_id)
) WITHOUT ROWID;
CREATE TABLE item_days (
  day_ms INTEGER NOT NULL,
  item_id TEXT NOT NULL,
  impressions REAL NOT NULL,
  clicks REAL NOT NULL,
  carts REAL NOT NULL,
  purchases REAL NOT NULL,
  revenue REAL NOT NULL,
  PRIMARY KEY (day_ms, item_id)
) WITHOUT ROWID;
CREATE TABLE clicks (
  user_id TEXT NOT NULL,
  item_id TEXT NOT NULL,
  ts_ms INTEGER NOT NULL,
  recommendation_id TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  model_version TEXT NOT NULL
);
CREATE INDEX clicks_by_pair ON clicks(user_id, item_id, ts_ms);
CREATE INDEX clicks_by_time ON clicks(ts_ms);
)sql"},
    // The day rollup of the counters: a month's dashboard reads days, not hours.
    {2, R"sql(
CREATE TABLE counters_day (
  day_ms INTEGER NOT NULL,
  metric TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  model_version TEXT NOT NULL,
  key_id TEXT NOT NULL,
  value REAL NOT NULL,
  PRIMARY KEY (day_ms, metric, endpoint, model_version, key_id)
) WITHOUT ROWID;
INSERT INTO counters_day SELECT hour_ms / 86400000 * 86400000, metric, endpoint, model_version, key_id,
  CASE WHEN metric = 'storage_bytes' THEN MAX(value) ELSE SUM(value) END
  FROM counters GROUP BY 1, 2, 3, 4, 5;
)sql"},
    // Where the page showed what was clicked (context.source).
    {3, R"sql(
ALTER TABLE clicks ADD COLUMN source TEXT NOT NULL DEFAULT '';
)sql"},
    // Per-item sums over runs of past days, one run per length (the dashboard's top items).
    {4, R"sql(
CREATE TABLE item_windows (
  days INTEGER PRIMARY KEY,
  from_day_ms INTEGER NOT NULL,
  to_day_ms INTEGER NOT NULL,
  put_seq INTEGER NOT NULL
);
CREATE TABLE item_window_sums (
  days INTEGER NOT NULL,
  item_id TEXT NOT NULL,
  impressions REAL NOT NULL,
  clicks REAL NOT NULL,
  carts REAL NOT NULL,
  purchases REAL NOT NULL,
  revenue REAL NOT NULL,
  PRIMARY KEY (days, item_id)
) WITHOUT ROWID;
)sql"},
    // Counters by the minute (the last hours: pruned), beside the hours and days.
    {5, R"sql(
CREATE TABLE counters_minute (
  minute_ms INTEGER NOT NULL,
  metric TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  model_version TEXT NOT NULL,
  key_id TEXT NOT NULL,
  value REAL NOT NULL,
  PRIMARY KEY (minute_ms, metric, endpoint, model_version, key_id)
) WITHOUT ROWID;
)sql"},
    // Experiments: the arm of a click, and each user's figures per arm.
    {6, R"sql(
ALTER TABLE clicks ADD COLUMN experiment_id TEXT NOT NULL DEFAULT '';
ALTER TABLE clicks ADD COLUMN arm TEXT NOT NULL DEFAULT '';
CREATE TABLE experiment_users (
  experiment_id TEXT NOT NULL,
  arm TEXT NOT NULL,
  user_id TEXT NOT NULL,
  impressions REAL NOT NULL,
  clicks REAL NOT NULL,
  orders REAL NOT NULL,
  revenue REAL NOT NULL,
  PRIMARY KEY (experiment_id, arm, user_id)
) WITHOUT ROWID;
)sql"},
};

constexpr int64_t kHourMs = 3'600'000, kDayMs = 86'400'000;

int64_t FloorTo(int64_t ms, int64_t step) { return ms >= 0 ? ms / step * step : (ms - step + 1) / step * step; }

// The table of a grain's counters and its time column.
struct CounterTable {
  const char* table;
  const char* start;
};
CounterTable TableOf(AnalyticsStore::Grain grain) {
  switch (grain) {
    case AnalyticsStore::Grain::kMinute: return {"counters_minute", "minute_ms"};
    case AnalyticsStore::Grain::kHour: return {"counters", "hour_ms"};
    case AnalyticsStore::Grain::kDay: break;
  }
  return {"counters_day", "day_ms"};
}

// A counter row added to (sum) or replaced (a gauge), in a grain's table.
std::string UpsertSql(AnalyticsStore::Grain grain, bool sum) {
  const CounterTable t = TableOf(grain);
  return std::string("INSERT INTO ") + t.table + " (" + t.start +
         ", metric, endpoint, model_version, key_id, value) VALUES (?, ?, ?, ?, ?, ?) "
         "ON CONFLICT DO UPDATE SET value = " + (sum ? "value + excluded.value" : "excluded.value");
}

class SqliteAnalyticsStore final : public AnalyticsStore {
 public:
  explicit SqliteAnalyticsStore(std::string root)
      : dbs_(std::move(root), "analytics.db", &kAnalyticsMigrations) {}

  Status Add(const std::string& tenant_id, const AnalyticsBatch& batch) override {
    if (batch.empty()) return Status::Ok();
    ASSIGN_OR_RETURN(auto db, dbs_.Get(tenant_id, /*create=*/true));
    if (!db) return Status::NotFound("tenant " + tenant_id + " has no space");
    return db->Write([&](SqliteConn& c) -> Status {
      ASSIGN_OR_RETURN(auto add_minute, c.Prepare(UpsertSql(Grain::kMinute, /*sum=*/true)));
      ASSIGN_OR_RETURN(auto add, c.Prepare(UpsertSql(Grain::kHour, /*sum=*/true)));
      ASSIGN_OR_RETURN(auto add_day, c.Prepare(UpsertSql(Grain::kDay, /*sum=*/true)));
      auto put = [](SqliteStmt& st, int64_t t, const CounterKey& k, double v) -> Status {
        st.Bind(1, t).Bind(2, k.metric).Bind(3, k.endpoint).Bind(4, k.model_version).Bind(5, k.key_id).Bind(6, v);
        RETURN_IF_ERROR(st.Run());
        st.Reset();
        return Status::Ok();
      };
      std::map<CounterKey, double> hours, days;
      for (const auto& [k, v] : batch.counters) {
        RETURN_IF_ERROR(put(*add_minute, FloorTo(k.start_ms, 60'000), k, v));
        CounterKey up = k;
        up.start_ms = FloorTo(k.start_ms, kHourMs);
        hours[up] += v;
        up.start_ms = FloorTo(k.start_ms, kDayMs);
        days[up] += v;
      }
      for (const auto& [k, v] : hours) RETURN_IF_ERROR(put(*add, k.start_ms, k, v));
      for (const auto& [k, v] : days) RETURN_IF_ERROR(put(*add_day, k.start_ms, k, v));
      ASSIGN_OR_RETURN(auto set_minute, c.Prepare(UpsertSql(Grain::kMinute, /*sum=*/false)));
      ASSIGN_OR_RETURN(auto set, c.Prepare(UpsertSql(Grain::kHour, /*sum=*/false)));
      ASSIGN_OR_RETURN(auto set_day, c.Prepare(UpsertSql(Grain::kDay, /*sum=*/false)));
      for (const auto& [k, v] : batch.gauges) {
        RETURN_IF_ERROR(put(*set_minute, FloorTo(k.start_ms, 60'000), k, v));
        RETURN_IF_ERROR(put(*set, FloorTo(k.start_ms, kHourMs), k, v));
        RETURN_IF_ERROR(put(*set_day, FloorTo(k.start_ms, kDayMs), k, v));
      }
      ASSIGN_OR_RETURN(auto item, c.Prepare(
          "INSERT INTO item_days (day_ms, item_id, impressions, clicks, carts, purchases, revenue) "
          "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET impressions = impressions + "
          "excluded.impressions, clicks = clicks + excluded.clicks, carts = carts + excluded.carts, "
          "purchases = purchases + excluded.purchases, revenue = revenue + excluded.revenue"));
      for (const auto& [k, v] : batch.items) {
        item->Bind(1, k.day_ms).Bind(2, k.item_id).Bind(3, v.impressions).Bind(4, v.clicks);
        item->Bind(5, v.carts).Bind(6, v.purchases).Bind(7, v.revenue);
        RETURN_IF_ERROR(item->Run());
        item->Reset();
      }
      ASSIGN_OR_RETURN(auto click, c.Prepare(
          "INSERT INTO clicks (user_id, item_id, ts_ms, recommendation_id, endpoint, model_version, source, "
          "experiment_id, arm) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"));
      for (const auto& k : batch.clicks) {
        click->Bind(1, k.user_id).Bind(2, k.item_id).Bind(3, k.ts_ms).Bind(4, k.recommendation_id);
        click->Bind(5, k.endpoint).Bind(6, k.model_version).Bind(7, k.source);
        click->Bind(8, k.experiment_id).Bind(9, k.arm);
        RETURN_IF_ERROR(click->Run());
        click->Reset();
      }
      if (batch.arm_users.empty()) return Status::Ok();
      ASSIGN_OR_RETURN(auto arm, c.Prepare(
          "INSERT INTO experiment_users (experiment_id, arm, user_id, impressions, clicks, orders, revenue) "
          "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET impressions = impressions + "
          "excluded.impressions, clicks = clicks + excluded.clicks, orders = orders + excluded.orders, "
          "revenue = revenue + excluded.revenue"));
      for (const auto& [k, v] : batch.arm_users) {
        arm->Bind(1, k.experiment_id).Bind(2, k.arm).Bind(3, k.user_id).Bind(4, v.impressions);
        arm->Bind(5, v.clicks).Bind(6, v.orders).Bind(7, v.revenue);
        RETURN_IF_ERROR(arm->Run());
        arm->Reset();
      }
      return Status::Ok();
    });
  }

  StatusOr<std::vector<CounterRow>> Counters(const std::string& tenant_id, Grain grain, int64_t from_ms,
                                             int64_t to_ms, const std::vector<std::string>& prefixes) override {
    std::vector<CounterRow> out;
    ASSIGN_OR_RETURN(auto db, dbs_.Get(tenant_id, /*create=*/false));
    if (!db || from_ms >= to_ms) return out;
    RETURN_IF_ERROR(db->Read([&](SqliteConn& c) -> Status {
      const CounterTable t = TableOf(grain);
      std::string sql = std::string("SELECT ") + t.start + ", metric, endpoint, model_version, key_id, value FROM " +
                        t.table + " WHERE " + t.start + " >= ? AND " + t.start + " < ?";
      // Prefixes compared as substrings (no LIKE escaping to get wrong).
      for (size_t i = 0; i < prefixes.size(); ++i) {
        sql += i == 0 ? " AND (" : " OR ";
        sql += "substr(metric, 1, " + std::to_string(prefixes[i].size()) + ") = ?";
      }
      if (!prefixes.empty()) sql += ")";
      ASSIGN_OR_RETURN(auto s, c.Prepare(sql));
      s->Bind(1, from_ms).Bind(2, to_ms);
      for (size_t i = 0; i < prefixes.size(); ++i) s->Bind(static_cast<int>(i) + 3, prefixes[i]);
      while (true) {
        ASSIGN_OR_RETURN(bool row, s->Step());
        if (!row) break;
        out.push_back({{s->Int(0), s->Text(1), s->Text(2), s->Text(3), s->Text(4)}, s->Double(5)});
      }
      return Status::Ok();
    }));
    return out;
  }

  StatusOr<std::vector<std::pair<std::string, ItemCounts>>> TopItems(const std::string& tenant_id,
                                                                     int64_t from_ms, int64_t to_ms,
                                                                     int limit) override {
    std::vector<std::pair<std::string, ItemCounts>> out;
    ASSIGN_OR_RETURN(auto db, dbs_.Get(tenant_id, /*create=*/false));
    if (!db || limit <= 0) return out;
    RETURN_IF_ERROR(db->Read([&](SqliteConn& c) -> Status {
      ASSIGN_OR_RETURN(auto s, c.Prepare(
          "SELECT item_id, SUM(impressions) AS shown, SUM(clicks), SUM(carts), SUM(purchases), SUM(revenue) "
          "FROM item_days WHERE day_ms >= ? AND day_ms < ? GROUP BY item_id "
          "ORDER BY shown DESC, item_id LIMIT ?"));
      s->Bind(1, from_ms).Bind(2, to_ms).Bind(3, static_cast<int64_t>(limit));
      while (true) {
        ASSIGN_OR_RETURN(bool row, s->Step());
        if (!row) break;
        out.push_back({s->Text(0), {s->Double(1), s->Double(2), s->Double(3), s->Double(4), s->Double(5)}});
      }
      return Status::Ok();
    }));
    return out;
  }

  StatusOr<std::optional<ItemWindow>> KeptItemWindow(const std::string& tenant_id, int64_t days) override {
    std::optional<ItemWindow> out;
    ASSIGN_OR_RETURN(auto db, dbs_.Get(tenant_id, /*create=*/false));
    if (!db) return out;
    RETURN_IF_ERROR(db->Read([&](SqliteConn& c) -> Status {
      ASSIGN_OR_RETURN(auto w, c.Prepare("SELECT from_day_ms, to_day_ms FROM item_windows WHERE days = ?"));
      w->Bind(1, days);
      ASSIGN_OR_RETURN(bool found, w->Step());
      if (!found) return Status::Ok();
      out.emplace();
      out->from_day_ms = w->Int(0);
      out->to_day_ms = w->Int(1);
      ASSIGN_OR_RETURN(auto s, c.Prepare(
          "SELECT item_id, impressions, clicks, carts, purchases, revenue FROM item_window_sums WHERE days = ?"));
      s->Bind(1, days);
      while (true) {
        ASSIGN_OR_RETURN(bool row, s->Step());
        if (!row) break;
        out->items.push_back({s->Text(0), {s->Double(1), s->Double(2), s->Double(3), s->Double(4), s->Double(5)}});
      }
      return Status::Ok();
    }));
    return out;
  }

  Status KeepItemWindow(const std::string& tenant_id, const ItemWindow& window) override {
    const int64_t days = (window.to_day_ms - window.from_day_ms) / kDayMs;
    if (days <= 0) return Status::InvalidArgument("an item window spans at least a day");
    ASSIGN_OR_RETURN(auto db, dbs_.Get(tenant_id, /*create=*/true));
    if (!db) return Status::NotFound("tenant " + tenant_id + " has no space");
    return db->Write([&](SqliteConn& c) -> Status {
      RETURN_IF_ERROR(c.Exec("DELETE FROM item_window_sums WHERE days = " + std::to_string(days)));
      ASSIGN_OR_RETURN(auto w, c.Prepare(
          "INSERT INTO item_windows (days, from_day_ms, to_day_ms, put_seq) "
          "VALUES (?, ?, ?, (SELECT COALESCE(MAX(put_seq), 0) + 1 FROM item_windows)) "
          "ON CONFLICT DO UPDATE SET from_day_ms = excluded.from_day_ms, to_day_ms = excluded.to_day_ms, "
          "put_seq = excluded.put_seq"));
      w->Bind(1, days).Bind(2, window.from_day_ms).Bind(3, window.to_day_ms);
      RETURN_IF_ERROR(w->Run());
      ASSIGN_OR_RETURN(auto s, c.Prepare(
          "INSERT INTO item_window_sums (days, item_id, impressions, clicks, carts, purchases, revenue) "
          "VALUES (?, ?, ?, ?, ?, ?, ?)"));
      for (const auto& [item, v] : window.items) {
        s->Bind(1, days).Bind(2, item).Bind(3, v.impressions).Bind(4, v.clicks).Bind(5, v.carts);
        s->Bind(6, v.purchases).Bind(7, v.revenue);
        RETURN_IF_ERROR(s->Run());
        s->Reset();
      }
      // Lengths beyond the last kItemWindowsKept put go.
      const std::string older = "SELECT days FROM item_windows ORDER BY put_seq DESC LIMIT -1 OFFSET " +
                                std::to_string(kItemWindowsKept);
      RETURN_IF_ERROR(c.Exec("DELETE FROM item_window_sums WHERE days IN (" + older + ")"));
      return c.Exec("DELETE FROM item_windows WHERE days IN (" + older + ")");
    });
  }

  StatusOr<std::optional<AttributedClick>> LastClick(const std::string& tenant_id, const std::string& user_id,
                                                     const std::string& item_id, int64_t from_ms,
                                                     int64_t to_ms) override {
    std::optional<AttributedClick> out;
    ASSIGN_OR_RETURN(auto db, dbs_.Get(tenant_id, /*create=*/false));
    if (!db) return out;
    RETURN_IF_ERROR(db->Read([&](SqliteConn& c) -> Status {
      ASSIGN_OR_RETURN(auto s, c.Prepare(
          "SELECT recommendation_id, endpoint, model_version, ts_ms, source, experiment_id, arm FROM clicks "
          "WHERE user_id = ? AND item_id = ? AND ts_ms >= ? AND ts_ms <= ? ORDER BY ts_ms DESC LIMIT 1"));
      s->Bind(1, user_id).Bind(2, item_id).Bind(3, from_ms).Bind(4, to_ms);
      ASSIGN_OR_RETURN(bool row, s->Step());
      if (row) {
        out = AttributedClick{user_id,   item_id,    s->Text(0), s->Text(1), s->Text(2),
                              s->Int(3), s->Text(4), s->Text(5), s->Text(6)};
      }
      return Status::Ok();
    }));
    return out;
  }

  StatusOr<std::map<std::string, ArmSums>> ExperimentArms(const std::string& tenant_id,
                                                          const std::string& experiment_id) override {
    std::map<std::string, ArmSums> out;
    ASSIGN_OR_RETURN(auto db, dbs_.Get(tenant_id, /*create=*/false));
    if (!db) return out;
    RETURN_IF_ERROR(db->Read([&](SqliteConn& c) -> Status {
      ASSIGN_OR_RETURN(auto s, c.Prepare(
          "SELECT arm, COUNT(*), SUM(impressions), SUM(clicks), SUM(orders), SUM(revenue), "
          "SUM(impressions * impressions), SUM(clicks * clicks), SUM(orders * orders), SUM(revenue * revenue), "
          "SUM(clicks * impressions), SUM(orders * impressions) FROM experiment_users "
          "WHERE experiment_id = ? GROUP BY arm"));
      s->Bind(1, experiment_id);
      while (true) {
        ASSIGN_OR_RETURN(bool row, s->Step());
        if (!row) break;
        out[s->Text(0)] = ArmSums{static_cast<double>(s->Int(1)), s->Double(2), s->Double(3), s->Double(4),
                                  s->Double(5), s->Double(6), s->Double(7), s->Double(8), s->Double(9),
                                  s->Double(10), s->Double(11)};
      }
      return Status::Ok();
    }));
    return out;
  }

  Status PruneClicks(const std::string& tenant_id, int64_t before_ms) override {
    return DeleteBefore(tenant_id, "DELETE FROM clicks WHERE ts_ms < ?", before_ms);
  }

  Status PruneMinutes(const std::string& tenant_id, int64_t before_ms) override {
    return DeleteBefore(tenant_id, "DELETE FROM counters_minute WHERE minute_ms < ?", before_ms);
  }

  void CloseTenant(const std::string& tenant_id) override { dbs_.Close(tenant_id); }

 private:
  // Runs `sql` (a DELETE of rows older than its one parameter) on the tenant's database, if any.
  Status DeleteBefore(const std::string& tenant_id, const char* sql, int64_t before_ms) {
    ASSIGN_OR_RETURN(auto db, dbs_.Get(tenant_id, /*create=*/false));
    if (!db) return Status::Ok();
    return db->Write([&](SqliteConn& c) -> Status {
      ASSIGN_OR_RETURN(auto s, c.Prepare(sql));
      s->Bind(1, before_ms);
      return s->Run();
    });
  }

  TenantDbSet dbs_;
};

}  // namespace

std::unique_ptr<AnalyticsStore> NewSqliteAnalyticsStore(const std::string& root) {
  return std::make_unique<SqliteAnalyticsStore>(root);
}

}  // namespace embedrec::store
