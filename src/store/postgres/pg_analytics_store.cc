// Analytics' rows in PostgreSQL, in each tenant's schema, added to by every
// node: a batch is one transaction of upserts that add to what the other
// nodes wrote (value = value + excluded.value), each table's rows in one
// statement of whole columns (unnest). Rows are upserted in key order, so
// two nodes adding to the same rows wait for each other rather than
// deadlock (and a deadlock or serialization failure is retried whole).
#include <map>

#include "store/analytics_store.h"
#include "store/postgres/pg_db.h"
#include "store/postgres/pg_tenant_schema.h"

namespace embedrec::store {
namespace {

constexpr int64_t kMinuteMs = 60'000, kHourMs = 3'600'000, kDayMs = 86'400'000;

int64_t FloorTo(int64_t ms, int64_t step) { return ms >= 0 ? ms / step * step : (ms - step + 1) / step * step; }

const char* TableOf(AnalyticsStore::Grain grain) {
  switch (grain) {
    case AnalyticsStore::Grain::kMinute: return "counters_minute";
    case AnalyticsStore::Grain::kHour: return "counters_hour";
    case AnalyticsStore::Grain::kDay: break;
  }
  return "counters_day";
}

// Columns of text parameters, each passed as one array.
template <size_t N>
struct Columns {
  std::vector<PgParam> col[N];
  bool empty() const { return col[0].empty(); }
  std::vector<PgParam> Arrays() const {
    std::vector<PgParam> out;
    for (const auto& c : col) out.emplace_back(PgArray(c));
    return out;
  }
};

void AddCounts(Columns<7>& c, const std::string& a, const std::string& b, const ItemCounts& v) {
  c.col[0].emplace_back(a);
  c.col[1].emplace_back(b);
  c.col[2].emplace_back(PgDouble(v.impressions));
  c.col[3].emplace_back(PgDouble(v.clicks));
  c.col[4].emplace_back(PgDouble(v.carts));
  c.col[5].emplace_back(PgDouble(v.purchases));
  c.col[6].emplace_back(PgDouble(v.revenue));
}

std::pair<std::string, ItemCounts> CountsAt(const PgRows& r, int i, int first) {
  return {r.Text(i, first), {r.Double(i, first + 1), r.Double(i, first + 2), r.Double(i, first + 3),
                             r.Double(i, first + 4), r.Double(i, first + 5)}};
}

class PgAnalyticsStore final : public AnalyticsStore {
 public:
  explicit PgAnalyticsStore(std::unique_ptr<PgDb> db) : db_(std::move(db)) {}

  Status Add(const std::string& tenant_id, const AnalyticsBatch& batch) override {
    if (batch.empty()) return Status::Ok();
    // Each grain's rows, summed by key first: one statement may not touch a row twice.
    std::map<CounterKey, double> sums[3], gauges[3];
    const int64_t steps[3] = {kMinuteMs, kHourMs, kDayMs};
    for (int g = 0; g < 3; ++g) {
      for (const auto& [k, v] : batch.counters) {
        CounterKey at = k;
        at.start_ms = FloorTo(k.start_ms, steps[g]);
        sums[g][at] += v;
      }
      for (const auto& [k, v] : batch.gauges) {
        CounterKey at = k;
        at.start_ms = FloorTo(k.start_ms, steps[g]);
        gauges[g][at] = v;
      }
    }
    const std::string s = Schema(tenant_id);
    return db_->Transaction([&](PgConn& c) -> Status {
      for (int g = 0; g < 3; ++g) {
        RETURN_IF_ERROR(UpsertCounters(c, s, static_cast<Grain>(g), sums[g], /*sum=*/true));
        RETURN_IF_ERROR(UpsertCounters(c, s, static_cast<Grain>(g), gauges[g], /*sum=*/false));
      }
      if (!batch.items.empty()) {
        Columns<7> items;
        for (const auto& [k, v] : batch.items) AddCounts(items, std::to_string(k.day_ms), k.item_id, v);
        RETURN_IF_ERROR(c.Exec(InSchema("INSERT INTO {s}.item_days AS t (day_ms, item_id, impressions, clicks, "
                                        "carts, purchases, revenue) SELECT * FROM unnest($1::bigint[], $2::text[], "
                                        "$3::float8[], $4::float8[], $5::float8[], $6::float8[], $7::float8[]) "
                                        "ON CONFLICT (day_ms, item_id) DO UPDATE SET impressions = t.impressions + "
                                        "excluded.impressions, clicks = t.clicks + excluded.clicks, carts = "
                                        "t.carts + excluded.carts, purchases = t.purchases + excluded.purchases, "
                                        "revenue = t.revenue + excluded.revenue",
                                        s),
                               items.Arrays())
                            .status());
      }
      if (!batch.clicks.empty()) {
        Columns<9> clicks;
        for (const auto& k : batch.clicks) {
          const std::string* fields[] = {&k.user_id, &k.item_id, nullptr, &k.recommendation_id, &k.endpoint,
                                         &k.model_version, &k.source, &k.experiment_id, &k.arm};
          for (int i = 0; i < 9; ++i) clicks.col[i].emplace_back(fields[i] ? *fields[i] : std::to_string(k.ts_ms));
        }
        RETURN_IF_ERROR(c.Exec(InSchema("INSERT INTO {s}.clicks (user_id, item_id, ts_ms, recommendation_id, "
                                        "endpoint, model_version, source, experiment_id, arm) SELECT * FROM "
                                        "unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], "
                                        "$6::text[], $7::text[], $8::text[], $9::text[])",
                                        s),
                               clicks.Arrays())
                            .status());
      }
      if (batch.arm_users.empty()) return Status::Ok();
      Columns<7> arms;
      for (const auto& [k, v] : batch.arm_users) {
        arms.col[0].emplace_back(k.experiment_id);
        arms.col[1].emplace_back(k.arm);
        arms.col[2].emplace_back(k.user_id);
        arms.col[3].emplace_back(PgDouble(v.impressions));
        arms.col[4].emplace_back(PgDouble(v.clicks));
        arms.col[5].emplace_back(PgDouble(v.orders));
        arms.col[6].emplace_back(PgDouble(v.revenue));
      }
      return c.Exec(InSchema("INSERT INTO {s}.experiment_users AS t (experiment_id, arm, user_id, impressions, "
                             "clicks, orders, revenue) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], "
                             "$4::float8[], $5::float8[], $6::float8[], $7::float8[]) ON CONFLICT (experiment_id, "
                             "arm, user_id) DO UPDATE SET impressions = t.impressions + excluded.impressions, "
                             "clicks = t.clicks + excluded.clicks, orders = t.orders + excluded.orders, "
                             "revenue = t.revenue + excluded.revenue",
                             s),
                    arms.Arrays())
          .status();
    });
  }

  StatusOr<std::vector<CounterRow>> Counters(const std::string& tenant_id, Grain grain, int64_t from_ms,
                                             int64_t to_ms, const std::vector<std::string>& prefixes) override {
    std::vector<CounterRow> out;
    if (from_ms >= to_ms) return out;
    std::string sql = std::string("SELECT start_ms, metric, endpoint, model_version, key_id, value FROM {s}.") +
                      TableOf(grain) + " WHERE start_ms >= $1 AND start_ms < $2";
    std::vector<PgParam> params = {std::to_string(from_ms), std::to_string(to_ms)};
    // Prefixes compared as substrings (no LIKE escaping to get wrong).
    for (size_t i = 0; i < prefixes.size(); ++i) {
      sql += i == 0 ? " AND (" : " OR ";
      sql += "substr(metric, 1, " + std::to_string(prefixes[i].size()) + ") = $" + std::to_string(i + 3);
      params.emplace_back(prefixes[i]);
    }
    if (!prefixes.empty()) sql += ")";
    ASSIGN_OR_RETURN(auto rows, Read(InSchema(sql, Schema(tenant_id)), params));
    for (int i = 0; i < rows.size(); ++i) {
      out.push_back({{rows.Int(i, 0), rows.Text(i, 1), rows.Text(i, 2), rows.Text(i, 3), rows.Text(i, 4)},
                     rows.Double(i, 5)});
    }
    return out;
  }

  StatusOr<std::vector<std::pair<std::string, ItemCounts>>> TopItems(const std::string& tenant_id,
                                                                     int64_t from_ms, int64_t to_ms,
                                                                     int limit) override {
    std::vector<std::pair<std::string, ItemCounts>> out;
    if (limit <= 0) return out;
    ASSIGN_OR_RETURN(auto rows, Read(InSchema("SELECT item_id, SUM(impressions) AS shown, SUM(clicks), SUM(carts), "
                                              "SUM(purchases), SUM(revenue) FROM {s}.item_days WHERE day_ms >= $1 "
                                              "AND day_ms < $2 GROUP BY item_id ORDER BY shown DESC, item_id LIMIT $3",
                                              Schema(tenant_id)),
                                     {std::to_string(from_ms), std::to_string(to_ms), std::to_string(limit)}));
    for (int i = 0; i < rows.size(); ++i) out.push_back(CountsAt(rows, i, 0));
    return out;
  }

  StatusOr<std::optional<ItemWindow>> KeptItemWindow(const std::string& tenant_id, int64_t days) override {
    std::optional<ItemWindow> out;
    // One statement: the run and its sums as one snapshot.
    ASSIGN_OR_RETURN(auto rows, Read(InSchema("SELECT w.from_day_ms, w.to_day_ms, s.item_id, s.impressions, "
                                              "s.clicks, s.carts, s.purchases, s.revenue FROM {s}.item_windows w "
                                              "LEFT JOIN {s}.item_window_sums s ON s.days = w.days WHERE w.days = $1",
                                              Schema(tenant_id)),
                                     {std::to_string(days)}));
    if (rows.size() == 0) return out;
    out.emplace();
    out->from_day_ms = rows.Int(0, 0);
    out->to_day_ms = rows.Int(0, 1);
    for (int i = 0; i < rows.size(); ++i) {
      if (!rows.IsNull(i, 2)) out->items.push_back(CountsAt(rows, i, 2));
    }
    return out;
  }

  Status KeepItemWindow(const std::string& tenant_id, const ItemWindow& window) override {
    const int64_t days = (window.to_day_ms - window.from_day_ms) / kDayMs;
    if (days <= 0) return Status::InvalidArgument("an item window spans at least a day");
    const std::string s = Schema(tenant_id), d = std::to_string(days);
    Columns<7> sums;
    for (const auto& [item, v] : window.items) AddCounts(sums, d, item, v);
    return db_->Transaction([&](PgConn& c) -> Status {
      // Nodes keeping windows at once take turns.
      RETURN_IF_ERROR(c.Exec("SELECT pg_advisory_xact_lock(hashtext($1))", {"embedrec-item-windows:" + tenant_id})
                          .status());
      RETURN_IF_ERROR(c.Exec(InSchema("DELETE FROM {s}.item_window_sums WHERE days = $1", s), {d}).status());
      RETURN_IF_ERROR(c.Exec(InSchema("INSERT INTO {s}.item_windows (days, from_day_ms, to_day_ms, put_seq) "
                                      "VALUES ($1, $2, $3, (SELECT COALESCE(MAX(put_seq), 0) + 1 FROM "
                                      "{s}.item_windows)) ON CONFLICT (days) DO UPDATE SET from_day_ms = "
                                      "excluded.from_day_ms, to_day_ms = excluded.to_day_ms, put_seq = "
                                      "excluded.put_seq",
                                      s),
                             {d, std::to_string(window.from_day_ms), std::to_string(window.to_day_ms)})
                          .status());
      if (!sums.empty()) {
        RETURN_IF_ERROR(c.Exec(InSchema("INSERT INTO {s}.item_window_sums (days, item_id, impressions, clicks, "
                                        "carts, purchases, revenue) SELECT * FROM unnest($1::bigint[], $2::text[], "
                                        "$3::float8[], $4::float8[], $5::float8[], $6::float8[], $7::float8[])",
                                        s),
                               sums.Arrays())
                            .status());
      }
      // Lengths beyond the last kItemWindowsKept put go.
      const std::string older = "SELECT days FROM {s}.item_windows ORDER BY put_seq DESC OFFSET " +
                                std::to_string(kItemWindowsKept);
      RETURN_IF_ERROR(c.Exec(InSchema("DELETE FROM {s}.item_window_sums WHERE days IN (" + older + ")", s)).status());
      return c.Exec(InSchema("DELETE FROM {s}.item_windows WHERE days IN (" + older + ")", s)).status();
    });
  }

  StatusOr<std::optional<AttributedClick>> LastClick(const std::string& tenant_id, const std::string& user_id,
                                                     const std::string& item_id, int64_t from_ms,
                                                     int64_t to_ms) override {
    std::optional<AttributedClick> out;
    ASSIGN_OR_RETURN(auto r, Read(InSchema("SELECT recommendation_id, endpoint, model_version, ts_ms, source, "
                                           "experiment_id, arm FROM {s}.clicks WHERE user_id = $1 AND item_id = $2 "
                                           "AND ts_ms >= $3 AND ts_ms <= $4 ORDER BY ts_ms DESC LIMIT 1",
                                           Schema(tenant_id)),
                                  {user_id, item_id, std::to_string(from_ms), std::to_string(to_ms)}));
    if (r.size() > 0) {
      out = AttributedClick{user_id,      item_id,      r.Text(0, 0), r.Text(0, 1), r.Text(0, 2),
                            r.Int(0, 3),  r.Text(0, 4), r.Text(0, 5), r.Text(0, 6)};
    }
    return out;
  }

  StatusOr<std::map<std::string, ArmSums>> ExperimentArms(const std::string& tenant_id,
                                                          const std::string& experiment_id) override {
    std::map<std::string, ArmSums> out;
    ASSIGN_OR_RETURN(auto r, Read(InSchema("SELECT arm, COUNT(*), SUM(impressions), SUM(clicks), SUM(orders), "
                                           "SUM(revenue), SUM(impressions * impressions), SUM(clicks * clicks), "
                                           "SUM(orders * orders), SUM(revenue * revenue), SUM(clicks * impressions), "
                                           "SUM(orders * impressions) FROM {s}.experiment_users WHERE "
                                           "experiment_id = $1 GROUP BY arm",
                                           Schema(tenant_id)),
                                  {experiment_id}));
    for (int i = 0; i < r.size(); ++i) {
      ArmSums& a = out[r.Text(i, 0)];
      double* fields[] = {&a.users,          &a.impressions,    &a.clicks,   &a.orders,
                          &a.revenue,        &a.impressions_sq, &a.clicks_sq, &a.orders_sq,
                          &a.revenue_sq,     &a.clicks_x_impressions, &a.orders_x_impressions};
      for (int f = 0; f < 11; ++f) *fields[f] = r.Double(i, f + 1);
    }
    return out;
  }

  Status PruneClicks(const std::string& tenant_id, int64_t before_ms) override {
    return DeleteBefore(tenant_id, "DELETE FROM {s}.clicks WHERE ts_ms < $1", before_ms);
  }

  Status PruneMinutes(const std::string& tenant_id, int64_t before_ms) override {
    return DeleteBefore(tenant_id, "DELETE FROM {s}.counters_minute WHERE start_ms < $1", before_ms);
  }

  // Connections are pooled across tenants: nothing is held per tenant.
  void CloseTenant(const std::string&) override {}

 private:
  static std::string Schema(const std::string& tenant_id) { return PgIdentifier(TenantSchemaName(tenant_id)); }

  // A statement whose rows are read; a tenant without a space has none.
  StatusOr<PgRows> Read(const std::string& sql, const std::vector<PgParam>& params) {
    auto rows = db_->Exec(sql, params);
    if (!rows.ok() && rows.status().code() == StatusCode::kNotFound) return PgRows();
    return rows;
  }

  Status DeleteBefore(const std::string& tenant_id, const char* sql, int64_t before_ms) {
    return Read(InSchema(sql, Schema(tenant_id)), {std::to_string(before_ms)}).status();
  }

  Status UpsertCounters(PgConn& c, const std::string& schema, Grain grain, const std::map<CounterKey, double>& rows,
                        bool sum) {
    if (rows.empty()) return Status::Ok();
    Columns<6> cols;
    for (const auto& [k, v] : rows) {
      cols.col[0].emplace_back(std::to_string(k.start_ms));
      cols.col[1].emplace_back(k.metric);
      cols.col[2].emplace_back(k.endpoint);
      cols.col[3].emplace_back(k.model_version);
      cols.col[4].emplace_back(k.key_id);
      cols.col[5].emplace_back(PgDouble(v));
    }
    return c.Exec(InSchema(std::string("INSERT INTO {s}.") + TableOf(grain) +
                               " AS t (start_ms, metric, endpoint, model_version, key_id, value) SELECT * FROM "
                               "unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::float8[]) "
                               "ON CONFLICT (start_ms, metric, endpoint, model_version, key_id) DO UPDATE SET value = " +
                               (sum ? "t.value + excluded.value" : "excluded.value"),
                           schema),
                  cols.Arrays())
        .status();
  }

  std::unique_ptr<PgDb> db_;
};

}  // namespace

StatusOr<std::unique_ptr<AnalyticsStore>> NewPostgresAnalyticsStore(const std::string& url, int pool_size) {
  ASSIGN_OR_RETURN(auto db, PgDb::Open({.url = url, .schema = "", .pool_size = pool_size}, {}));
  return std::unique_ptr<AnalyticsStore>(new PgAnalyticsStore(std::move(db)));
}

}  // namespace embedrec::store
