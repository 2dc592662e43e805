// The tenant's analytics (seed step 9): GET /api/v1/analytics/tenant/{tenant}/
// dashboard and /timeseries, GET /api/v1/usage. Figures come from
// analytics/analytics.h; the rules behind them are in analytics/attribution.h
// and analytics/report.h, and the README.
#include <boost/json.hpp>
#include <cmath>
#include <functional>
#include <map>
#include <regex>

#include "analytics/analytics.h"
#include "api/call.h"
#include "api/json_body.h"
#include "api/schemas.h"
#include "common/json_text.h"
#include "common/time_format.h"
#include "http/errors.h"
#include "interactions/interaction_rules.h"
#include "serving/deployed_models.h"

namespace embedrec::api {
namespace json = boost::json;
using analytics::Figures;
using analytics::kDayMs;
using analytics::kHourMs;
using http::PathParams;
using http::Request;

namespace {

constexpr int64_t kMaxRangeMs = 400 * kDayMs;
// The dashboard shows the data-quality counts kept, rescanned in the background
// once this old and behind the data (a full scan of the tenant's history).
constexpr int64_t kQualityRescanMs = 15 * 60'000;

double Rounded(double x, double scale = 1e4) { return std::round(x * scale) / scale; }

struct Period {
  std::string name;  // last_24_hours, last_7_days, last_30_days, custom
  int64_t from_ms = 0, to_ms = 0;
};

// A time parameter: epoch seconds, or RFC 3339 with a zone.
constexpr const char* kTimeParam = R"json({"type":"string","maxLength":40,
  "pattern":"^(-?[0-9]{1,12}(\\.[0-9]+)?|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2}))$"})json";

StatusOr<int64_t> TimeParam(const Request& req, const char* name) {
  auto text = req.Query(name);
  // The declared shape: text that is not one is malformed (400); one that
  // names no time (a 13th month) breaks a rule (422).
  static const std::regex kShape(
      R"(^(-?[0-9]{1,12}(\.[0-9]+)?|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2}))$)");
  const bool shaped = std::regex_match(*text, kShape);
  std::optional<int64_t> ms = interactions::ParseTimestampMillis(*text);
  if (!ms) {
    char* end = nullptr;
    const double secs = std::strtod(text->c_str(), &end);
    if (end && *end == '\0' && !text->empty()) ms = interactions::TimestampMillisFromSeconds(secs);
  }
  if (!ms || !shaped) {
    const std::string msg = std::string("query parameter '") + name + "' must be RFC 3339 with a zone or epoch seconds";
    if (shaped) return Status::Unprocessable(msg, {{"parameter", name}, {"field", name}});
    return Status::InvalidArgument(msg, {{"parameter", name}});
  }
  return *ms;
}

// ?period=last_hour|last_24_hours|last_7_days|last_30_days (default last_7_days), or ?from (&to, default now).
StatusOr<Period> PeriodOf(const Request& req, int64_t now_ms, const char* default_period = "last_7_days") {
  Period p;
  const auto from = req.Query("from"), period = req.Query("period");
  if (from) {
    if (period) return FieldValueError("period", "give either period or from/to, not both");
    p.name = "custom";
    ASSIGN_OR_RETURN(p.from_ms, TimeParam(req, "from"));
    p.to_ms = now_ms;
    if (req.Query("to")) {
      ASSIGN_OR_RETURN(p.to_ms, TimeParam(req, "to"));
    }
    if (p.to_ms <= p.from_ms) return Status::Unprocessable("'to' must be after 'from'", {{"parameter", "to"}, {"field", "to"}});
    if (p.to_ms - p.from_ms > kMaxRangeMs) {
      return Status::Unprocessable("a range spans at most 400 days", {{"parameter", "from"}, {"field", "from"}});
    }
    return p;
  }
  if (req.Query("to")) return Status::Unprocessable("'to' needs 'from'", {{"parameter", "to"}, {"field", "to"}});
  p.name = period.value_or(default_period);
  p.to_ms = now_ms;
  static const std::map<std::string, int64_t> kPeriods = {
      {"last_hour", kHourMs}, {"last_24_hours", kDayMs}, {"last_7_days", 7 * kDayMs}, {"last_30_days", 30 * kDayMs}};
  auto length = kPeriods.find(p.name);
  if (length == kPeriods.end()) {
    return Status::InvalidArgument("period must be last_hour, last_24_hours, last_7_days or last_30_days",
                                   {{"parameter", "period"}});
  }
  p.from_ms = now_ms - length->second;
  return p;
}

// The path's {tenant} names the caller's tenant (its id or slug); any other is not found.
Status CheckTenant(const PathParams& p, const TenantContext& ctx) {
  const std::string named = p.Get("tenant");
  if (named == ctx.tenant_id()) return Status::Ok();
  auto record = ctx.Record();
  if (record.ok() && record->slug == named) return Status::Ok();
  return Status::NotFound("no tenant '" + named + "'");
}

StatusOr<analytics::Analytics*> On(analytics::Analytics* a) {
  if (!a) return Status::Unavailable("analytics is off on this server (EMBEDREC_ANALYTICS=false)");
  return a;
}

json::object LatencyJson(const analytics::Latency& l) {
  return {{"average_ms", Rounded(l.Average(), 1e3)},
          {"p50_ms", Rounded(l.Quantile(0.50), 1e3)},
          {"p95_ms", Rounded(l.Quantile(0.95), 1e3)},
          {"p99_ms", Rounded(l.Quantile(0.99), 1e3)}};
}

json::object EarningsJson(const Figures& f) {
  return {{"recommendations_served", f.served},
          {"impressions", f.impressions()},
          {"clicks", f.clicks},
          {"add_to_carts", f.carts},
          {"attributed_orders", f.orders},
          {"attributed_revenue", Rounded(f.revenue, 100)},
          {"click_through_rate", Rounded(f.click_through_rate())},
          {"conversion_rate", Rounded(f.conversion_rate())}};
}

// The live model's offline figures (its job's final evaluation).
json::object ModelPerformance(const TenantContext& ctx) {
  json::object out{{"ndcg@10", nullptr}, {"recall@20", nullptr}, {"precision@10", nullptr}};
  auto live = ctx.Deployed();
  if (!live) return out;
  auto versions = ctx.Versions();
  if (!versions.ok()) return out;
  for (const auto& v : *versions) {
    if (v.version != live->version) continue;
    json::value m = StoredJson(v.metrics_json);
    if (!m.is_object()) break;
    for (auto& [key, value] : out) {
      if (const json::value* x = m.as_object().if_contains(key); x && x->is_number()) {
        value = Rounded(x->to_number<double>());
      }
    }
    out["model_version"] = v.version;
    break;
  }
  return out;
}

std::string DayText(int64_t day_ms) { return FormatRfc3339(day_ms / 1000).substr(0, 10); }

constexpr const char* kPeriodParams = "last_hour, last_24_hours, last_7_days (default) or last_30_days";

std::vector<http::Param> PeriodParams() {
  return {schema::Query("period", R"({"type":"string","enum":["last_hour","last_24_hours","last_7_days","last_30_days"]})",
                        kPeriodParams),
          schema::Query("from", kTimeParam, "start (RFC 3339 or epoch seconds), instead of period"),
          schema::Query("to", kTimeParam, "end (RFC 3339 or epoch seconds; default now)")};
}

// Usage records (billing): JSON records, or CSV in long form.
struct UsageAnswer {
  json::array records;
  std::string csv;
  json::object totals{{"api_calls", 0.0}, {"recommendations_served", 0.0}, {"events_tracked", 0.0},
                      {"rows_imported", 0.0}, {"training_seconds", 0.0}};
};

void AddUsage(const std::string& tenant_id,
              const std::map<std::pair<int64_t, std::string>, analytics::UsageDay>& usage, UsageAnswer* out) {
  auto csv_field = [](const std::string& f) {
    if (f.find_first_of(",\"\n\r") == std::string::npos) return f;
    std::string q = "\"";
    for (char c : f) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  };
  auto number = [](double v) { return JsonText(json::value(Rounded(v, 1e3))); };
  for (const auto& [at, u] : usage) {
    const std::string date = DayText(at.first), key = at.second;
    json::object by;
    for (const auto& [route, n] : u.calls_by_endpoint) by[route] = n;
    out->records.push_back(json::object{
        {"date", date}, {"tenant_id", tenant_id}, {"api_key_id", key.empty() ? json::value(nullptr) : json::value(key)},
        {"api_calls", u.calls}, {"api_calls_by_endpoint", std::move(by)},
        {"recommendations_served", u.recommendations_served}, {"events_tracked", u.events_tracked},
        {"rows_imported", u.rows_imported}, {"training_seconds", Rounded(u.training_seconds, 1e3)},
        {"storage_bytes", u.storage_bytes}});
    auto add_total = [&](const char* k, double v) { out->totals[k] = out->totals[k].to_number<double>() + v; };
    add_total("api_calls", u.calls);
    add_total("recommendations_served", u.recommendations_served);
    add_total("events_tracked", u.events_tracked);
    add_total("rows_imported", u.rows_imported);
    add_total("training_seconds", u.training_seconds);
    const std::string lead = date + "," + csv_field(tenant_id) + "," + csv_field(key) + ",";
    for (const auto& [route, n] : u.calls_by_endpoint) out->csv += lead + "api_calls," + csv_field(route) + "," + number(n) + "\n";
    for (auto [metric, v] : {std::pair<const char*, double>{"recommendations_served", u.recommendations_served},
                             {"events_tracked", u.events_tracked}, {"rows_imported", u.rows_imported},
                             {"training_seconds", u.training_seconds}, {"storage_bytes", u.storage_bytes}}) {
      if (v != 0) out->csv += lead + metric + ",," + number(v) + "\n";
    }
  }
}

constexpr const char* kCsvHeader = "date,tenant_id,api_key_id,metric,endpoint,value\n";

StatusOr<bool> WantsCsv(const Request& req) {
  const std::string format = req.Query("format").value_or("json");
  if (format != "json" && format != "csv") {
    return Status::InvalidArgument("format must be json or csv", {{"parameter", "format"}});
  }
  return format == "csv";
}

http::Response CsvAnswer(std::string body) {
  http::Response r;
  r.status = 200;
  r.content_type = "text/csv; charset=utf-8";
  r.body = std::move(body);
  return r;
}

http::RouteInfo UsageRoute(const char* path, const char* summary) {
  http::RouteInfo r{"GET", path, summary, "analytics"};
  r.params = PeriodParams();
  r.params[0].description = "last_hour, last_24_hours, last_7_days or last_30_days (default)";
  r.params.push_back(schema::Query("format", R"({"type":"string","enum":["json","csv"]})",
                                   "json (default) or csv (date,tenant_id,api_key_id,metric,endpoint,value)"));
  r.replies = {schema::Reply(200, "usage records per day and API key",
                             R"({"type":"object","required":["from","to","records","totals"]})"),
               http::Reply{.status = 200, .description = "with format=csv", .media = "text/csv"}};
  r.slow = true;
  return r;
}

}  // namespace

void RegisterAnalyticsRoutes(TenantRoutes& routes) {
  const Needs read{.all = auth::kAnalyticsRead};

  http::RouteInfo dash{"GET", "/api/v1/analytics/tenant/{tenant}/dashboard",
                       "What the tenant's recommendations did and earned over a period", "analytics"};
  dash.params = PeriodParams();
  dash.params.push_back(schema::Path("tenant", 64, "the tenant's id or slug"));
  dash.params.push_back(schema::QueryInt("top", 1, 100, "top recommended items listed (default 10)"));
  dash.replies = {schema::Reply(200, "the dashboard", R"({"type":"object","required":["period","metrics","top_recommended_items","data_quality"],
    "properties":{"currency":{"type":"string","description":"the revenue's currency, settings.currency; absent when the shop names none"}}})")};
  dash.errors = {404};
  dash.slow = true;  // reads the tenant's analytics database
  routes.Add(dash, read, [](const Request& req, const PathParams& p, TenantContext& ctx) -> StatusOr<http::Response> {
    RETURN_IF_ERROR(CheckTenant(p, ctx));
    ASSIGN_OR_RETURN(analytics::Analytics* a, On(ctx.Analytics()));
    ASSIGN_OR_RETURN(Period period, PeriodOf(req, ctx.NowMillis()));
    ASSIGN_OR_RETURN(int64_t top, QueryInt(req, "top", 10, 1, 100));
    ASSIGN_OR_RETURN(auto rules, ctx.Rules());
    ASSIGN_OR_RETURN(analytics::Report r, a->Summarize(ctx.tenant_id(), period.from_ms, period.to_ms));
    ASSIGN_OR_RETURN(auto items, a->TopItems(ctx.tenant_id(), period.from_ms, period.to_ms, static_cast<int>(top)));
    const Figures& t = r.total;
    json::object metrics{
        {"total_api_calls", t.calls},
        {"total_recommendations_served", t.served},
        {"click_through_rate", Rounded(t.click_through_rate())},
        {"conversion_rate", Rounded(t.conversion_rate())},
        {"average_latency_ms", Rounded(t.latency.Average(), 1e3)},
        {"cache_hit_rate", Rounded(t.cache_hit_rate())},
        {"model_performance", ModelPerformance(ctx)},
        {"revenue_impact", json::object{{"attributed_revenue", Rounded(t.revenue, 100)},
                                        {"attributed_orders", t.orders},
                                        {"average_order_value", Rounded(t.average_order_value(), 100)}}},
        {"impressions", t.impressions()},
        {"clicks", t.clicks},
        {"add_to_carts", t.carts},
        {"errors", t.errors},
        {"latency", LatencyJson(t.latency)},
        {"events_tracked", t.events_tracked}};
    json::array top_items;
    for (const auto& [item, c] : items) {
      top_items.push_back(json::object{{"item_id", item}, {"impressions", c.impressions}, {"clicks", c.clicks},
                                       {"add_to_carts", c.carts}, {"purchases", c.purchases},
                                       {"revenue", Rounded(c.revenue, 100)}});
    }
    json::array endpoints, versions, days;
    for (const auto& [name, f] : r.by_endpoint) {
      if (f.calls > 0) {
        json::object e{{"endpoint", name}, {"calls", f.calls}, {"errors", f.errors}};
        for (auto& [k, v] : LatencyJson(f.latency)) e[k] = v;
        endpoints.push_back(std::move(e));
      }
    }
    for (const auto& [version, f] : r.by_model_version) {
      json::object v = EarningsJson(f);
      v["model_version"] = version;
      versions.push_back(std::move(v));
    }
    for (const auto& [day, f] : r.by_day) {
      json::object d = EarningsJson(f);
      d["date"] = DayText(day);
      d["api_calls"] = f.calls;
      days.push_back(std::move(d));
    }
    json::array sources;
    for (const auto& [source, f] : r.by_source) {
      sources.push_back(json::object{{"source", source}, {"clicks", f.clicks}, {"add_to_carts", f.carts},
                                     {"attributed_orders", f.orders},
                                     {"attributed_revenue", Rounded(f.revenue, 100)}});
    }
    json::object quality{{"freshness_hours", nullptr}, {"completeness_percent", nullptr}, {"validity_percent", nullptr}};
    // (null while the tenant's data is counted for the first time)
    if (auto counted = ctx.RecentDataCounts(kQualityRescanMs); counted.ok() && counted->has_value()) {
      const json::object q = DataQualityReport(**counted, ctx.NowMillis());
      for (auto& [k, v] : quality) {
        if (const json::value* x = q.if_contains(k)) v = *x;
      }
    }
    json::object out{{"tenant_id", ctx.tenant_id()},
                     {"period", period.name},
                     {"from", FormatRfc3339Millis(period.from_ms)},
                     {"to", FormatRfc3339Millis(period.to_ms)},
                     {"metrics", std::move(metrics)},
                     {"top_recommended_items", std::move(top_items)},
                     {"data_quality", std::move(quality)},
                     {"by_endpoint", std::move(endpoints)},
                     {"by_model_version", std::move(versions)},
                     {"daily", std::move(days)},
                     {"by_source", std::move(sources)},
                     {"attribution", json::object{{"click_window_minutes", rules.click_window_ms / 60000.0},
                                                  {"conversion_window_hours", rules.conversion_window_ms / 3600000.0}}}};
    if (!rules.currency.empty()) out["currency"] = rules.currency;  // what the revenue is in (settings.currency)
    return JsonAnswer(200, out);
  });

  http::RouteInfo series{"GET", "/api/v1/analytics/tenant/{tenant}/timeseries",
                         "One figure per hour or day over a period, split by model version", "analytics"};
  series.params = PeriodParams();
  series.params.push_back(schema::Path("tenant", 64, "the tenant's id or slug"));
  http::Param metric = schema::Query(
      "metric", R"({"type":"string","enum":["calls","recommendations","impressions","clicks","ctr","conversion","orders","revenue","latency_p95","latency_avg"]})",
      "the figure");
  metric.required = true;
  series.params.push_back(std::move(metric));
  series.params.push_back(schema::Query("interval", R"({"type":"string","enum":["minute","hour","day"]})",
                                                  "default hour; minute over the last 47 hours only (then the default period is last_24_hours; an earlier start is a 422)"));
  series.replies = {schema::Reply(200, "the points, oldest first", R"({"type":"object","required":["metric","interval","points"],
    "properties":{"currency":{"type":"string","description":"revenue's currency, settings.currency; absent for other metrics or when the shop names none"}}})")};
  series.errors = {404};
  series.slow = true;
  routes.Add(series, read, [](const Request& req, const PathParams& p, TenantContext& ctx) -> StatusOr<http::Response> {
    RETURN_IF_ERROR(CheckTenant(p, ctx));
    ASSIGN_OR_RETURN(analytics::Analytics* a, On(ctx.Analytics()));
    const std::string interval = req.Query("interval").value_or("hour");
    // By the minute, the default period is one the minutes are kept for.
    ASSIGN_OR_RETURN(Period period, PeriodOf(req, ctx.NowMillis(),
                                             interval == "minute" ? "last_24_hours" : "last_7_days"));
    const std::string metric = req.Query("metric").value_or("");
    if (metric.empty()) {
      return Status::InvalidArgument("query parameter 'metric' is required", {{"parameter", "metric"}});
    }
    const int64_t step = interval == "day" ? kDayMs : interval == "minute" ? analytics::kMinuteMs : kHourMs;
    // Each metric: its value from a bucket's figures, the counters it needs,
    // and whether it splits by model version.
    struct Spec {
      std::function<double(const Figures&)> value;
      std::vector<std::string> needs;
      bool per_version = true;
    };
    static const std::map<std::string, Spec> kSpecs = {
        {"calls", {[](const Figures& f) { return f.calls; }, {"calls"}, false}},
        {"recommendations", {[](const Figures& f) { return f.served; }, {"served"}}},
        {"impressions", {[](const Figures& f) { return f.impressions(); }, {"served", "shown_events"}}},
        {"clicks", {[](const Figures& f) { return f.clicks; }, {"clicks"}}},
        {"ctr", {[](const Figures& f) { return Rounded(f.click_through_rate()); }, {"served", "shown_events", "clicks"}}},
        {"conversion", {[](const Figures& f) { return Rounded(f.conversion_rate()); }, {"clicks", "orders"}}},
        {"orders", {[](const Figures& f) { return f.orders; }, {"orders"}}},
        {"revenue", {[](const Figures& f) { return Rounded(f.revenue, 100); }, {"revenue"}}},
        {"latency_p95", {[](const Figures& f) { return Rounded(f.latency.Quantile(0.95), 1e3); }, {"latency_bucket_"}, false}},
        {"latency_avg", {[](const Figures& f) { return Rounded(f.latency.Average(), 1e3); }, {"calls", "latency_ms"}, false}},
    };
    auto spec = kSpecs.find(metric);
    const auto value = spec == kSpecs.end() ? nullptr : spec->second.value;
    const bool per_version = spec != kSpecs.end() && spec->second.per_version;
    if (!value) return Status::InvalidArgument("unknown metric '" + metric + "'", {{"parameter", "metric"}});
    if (interval != "minute" && interval != "hour" && interval != "day") {
      return Status::InvalidArgument("interval must be minute, hour or day", {{"parameter", "interval"}});
    }
    ASSIGN_OR_RETURN(auto buckets, a->Series(ctx.tenant_id(), period.from_ms, period.to_ms, step, spec->second.needs));
    json::array points;
    // Every interval of the period, empty ones as 0, so charts need no gap filling.
    for (int64_t t = analytics::FloorTo(period.from_ms, step); t < period.to_ms; t += step) {
      auto it = buckets.find(t);
      const Figures none;
      json::object pt{{"ts", FormatRfc3339(t / 1000)}, {"value", value(it == buckets.end() ? none : it->second.all)}};
      if (per_version) {
        json::object by;
        if (it != buckets.end()) {
          for (const auto& [v, f] : it->second.by_model_version) by[v] = value(f);
        }
        pt["by_model_version"] = std::move(by);
      }
      points.push_back(std::move(pt));
    }
    json::object out{{"tenant_id", ctx.tenant_id()}, {"metric", metric}, {"interval", interval},
                     {"period", period.name}, {"from", FormatRfc3339Millis(period.from_ms)},
                     {"to", FormatRfc3339Millis(period.to_ms)}, {"points", std::move(points)}};
    if (metric == "revenue") {  // what it is in (settings.currency), when the shop names it
      ASSIGN_OR_RETURN(auto rules, ctx.Rules());
      if (!rules.currency.empty()) out["currency"] = rules.currency;
    }
    return JsonAnswer(200, out);
  });

  routes.Add(UsageRoute("/api/v1/usage", "The tenant's usage per day and API key (billing)"), read,
             [](const Request& req, const PathParams&, TenantContext& ctx) -> StatusOr<http::Response> {
    ASSIGN_OR_RETURN(analytics::Analytics* a, On(ctx.Analytics()));
    ASSIGN_OR_RETURN(Period period, PeriodOf(req, ctx.NowMillis(), "last_30_days"));
    ASSIGN_OR_RETURN(bool csv, WantsCsv(req));
    ASSIGN_OR_RETURN(auto usage, a->UsageOf(ctx.tenant_id(), period.from_ms, period.to_ms));
    UsageAnswer out;
    AddUsage(ctx.tenant_id(), usage, &out);
    if (csv) return CsvAnswer(kCsvHeader + out.csv);
    return JsonAnswer(200, json::object{{"tenant_id", ctx.tenant_id()}, {"period", period.name},
                                        {"from", FormatRfc3339Millis(period.from_ms)},
                                        {"to", FormatRfc3339Millis(period.to_ms)},
                                        {"records", std::move(out.records)}, {"totals", std::move(out.totals)}});
  });
}

void RegisterAdminUsageRoutes(http::Router& router, const PlatformDeps& deps) {
  const PlatformDeps* d = &deps;
  AddAuthed(router, UsageRoute("/api/v1/admin/usage", "Every tenant's usage per day and API key (platform admin)"),
            deps, auth::kPlatformAdmin,
            [d](const Request& req, const PathParams&, const auth::Principal&) -> StatusOr<http::Response> {
    ASSIGN_OR_RETURN(analytics::Analytics* a, On(d->analytics));
    ASSIGN_OR_RETURN(Period period, PeriodOf(req, d->clock->NowMillis(), "last_30_days"));
    ASSIGN_OR_RETURN(bool csv, WantsCsv(req));
    UsageAnswer out;
    std::string cursor;
    while (true) {
      ASSIGN_OR_RETURN(auto page, d->control->ListTenants(cursor, 200));
      for (const auto& t : page.tenants) {
        ASSIGN_OR_RETURN(auto usage, a->UsageOf(t.id, period.from_ms, period.to_ms));
        AddUsage(t.id, usage, &out);
      }
      if (!page.next_cursor) break;
      cursor = *page.next_cursor;
    }
    if (csv) return CsvAnswer(kCsvHeader + out.csv);
    return JsonAnswer(200, json::object{{"period", period.name}, {"from", FormatRfc3339Millis(period.from_ms)},
                                        {"to", FormatRfc3339Millis(period.to_ms)},
                                        {"records", std::move(out.records)}, {"totals", std::move(out.totals)}});
  });
}

}  // namespace embedrec::api
