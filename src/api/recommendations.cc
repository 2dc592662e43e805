// What the shop's website calls on every page (seed steps 7-8, gateway):
// personalised recommendations, similar items, popular items, batches.
// The ranking, the result cache and the recommendation log are serving's
// (serving/recommendation_service.h); this file parses and answers.
#include <boost/json.hpp>
#include <chrono>
#include <mutex>
#include <tuple>
#include <unordered_map>

#include "api/call.h"
#include "api/json_body.h"
#include "api/schemas.h"
#include "common/json_text.h"
#include "common/random.h"
#include "common/time_format.h"
#include "http/errors.h"
#include "serving/recommendation_service.h"

namespace embedrec::api {
namespace json = boost::json;
using http::PathParams;
using http::Request;

namespace {

constexpr size_t kMaxBatchUsers = 100;

StatusOr<std::set<std::string>> StringSet(const json::object& o, std::string_view field) {
  std::set<std::string> out;
  const json::value* v = o.if_contains(field);
  if (!v || v->is_null()) return out;
  if (!v->is_array()) return FieldTypeError(field, "an array of strings");
  if (v->as_array().size() > 10000) return FieldValueError(field, std::string(field) + " has more than 10000 entries");
  for (const auto& s : v->as_array()) {
    if (!s.is_string()) return FieldTypeError(field, "an array of strings");
    out.insert(std::string(s.as_string()));
  }
  return out;
}

StatusOr<std::optional<double>> OptPrice(const json::object& o, std::string_view field) {
  const json::value* v = o.if_contains(field);
  if (!v || v->is_null()) return std::optional<double>();
  if (!v->is_number()) return FieldTypeError(std::string("filters.") + std::string(field), "a number");
  double x = v->to_number<double>();
  if (!(x >= 0 && x <= 1e15)) {
    return FieldValueError(std::string("filters.") + std::string(field), "prices must be >= 0");
  }
  return std::optional<double>(x);
}

StatusOr<serving::Filters> ParseFilters(const json::object& body) {
  serving::Filters f;
  const json::value* v = body.if_contains("filters");
  if (!v || v->is_null()) return f;
  if (!v->is_object()) return FieldTypeError("filters", "an object");
  const auto& o = v->as_object();
  ASSIGN_OR_RETURN(auto category, OptString(o, "category", 256));
  ASSIGN_OR_RETURN(f.categories, StringSet(o, "categories"));
  if (category) f.categories.insert(*category);
  ASSIGN_OR_RETURN(auto brand, OptString(o, "brand", 256));
  f.brand = brand.value_or("");
  ASSIGN_OR_RETURN(f.price_min, OptPrice(o, "price_min"));
  ASSIGN_OR_RETURN(f.price_max, OptPrice(o, "price_max"));
  // min_price and max_price: the other order shops name them in.
  for (auto [alias, name, slot] : {std::tuple{"min_price", "price_min", &f.price_min},
                                   std::tuple{"max_price", "price_max", &f.price_max}}) {
    ASSIGN_OR_RETURN(auto v, OptPrice(o, alias));
    if (!v) continue;
    if (*slot && **slot != *v) {
      return FieldValueError(std::string("filters.") + alias,
                             std::string("filters.") + alias + " and filters." + name + " differ; send one");
    }
    *slot = v;
  }
  if (f.price_min && f.price_max && *f.price_min > *f.price_max) {
    return FieldValueError("filters.price_min", "filters.price_min is above filters.price_max");
  }
  ASSIGN_OR_RETURN(f.tags_any, StringSet(o, "tags_any"));
  ASSIGN_OR_RETURN(f.exclude_item_ids, StringSet(o, "exclude_item_ids"));
  ASSIGN_OR_RETURN(f.include_item_ids, StringSet(o, "include_item_ids"));
  ASSIGN_OR_RETURN(auto stock, OptBool(o, "in_stock_only"));
  f.in_stock_only = stock.value_or(false);
  return f;
}

StatusOr<int> Count(const json::object& body, int max) {
  ASSIGN_OR_RETURN(auto n, OptInt(body, "count", 1, max));
  ASSIGN_OR_RETURN(auto limit, OptInt(body, "limit", 1, max));  // count by the name many APIs use
  if (n && limit && *n != *limit) return FieldValueError("limit", "count and limit differ; send one");
  return static_cast<int>(n.value_or(limit.value_or(std::min(10, max))));
}

// Answers are written straight into their text (no JSON tree per item: on
// the routes a shop calls on every page, building one cost more than the
// ranking).
void AppendField(std::string* out, std::string_view name) {
  out->push_back(',');
  AppendJsonString(name, out);
  out->push_back(':');
}

// {"item_id",...,"image_url"[,brand, tags, available, properties] — left open for the caller's fields.
void AppendItemOpen(std::string* out, const serving::CatalogItem& item, bool properties) {
  out->append("{\"item_id\":");
  AppendJsonString(item.item_id, out);
  AppendField(out, "name");
  AppendJsonString(item.name, out);
  AppendField(out, "category");
  AppendJsonString(item.category, out);
  AppendField(out, "price");
  if (item.price) AppendJsonNumber(*item.price, out);
  else out->append("null");
  AppendField(out, "image_url");
  AppendJsonString(item.image_url, out);
  if (properties) {
    AppendField(out, "brand");
    AppendJsonString(item.brand, out);
    AppendField(out, "tags");
    out->push_back('[');
    for (size_t i = 0; i < item.tags.size(); ++i) {
      if (i) out->push_back(',');
      AppendJsonString(item.tags[i], out);
    }
    out->push_back(']');
    AppendField(out, "available");
    out->append(item.available ? "true" : "false");
    AppendField(out, "properties");
    AppendJsonText(StoredJson(item.properties_json), out);
  }
}

double Round(double x, double digits = 1e6) { return std::round(x * digits) / digits; }

// "recommendations":[...] of scored items with their reasons.
void AppendRecommendations(std::string* out, const std::vector<serving::Recommendation>& recs,
                           bool properties) {
  out->append("\"recommendations\":[");
  for (size_t i = 0; i < recs.size(); ++i) {
    if (i) out->push_back(',');
    AppendItemOpen(out, *recs[i].item, properties);
    AppendField(out, "score");
    AppendJsonNumber(Round(recs[i].score), out);
    AppendField(out, "reason");
    AppendJsonString(recs[i].reason, out);
    out->push_back('}');
  }
  out->push_back(']');
}

// ,"metadata":{"model_version":..,"algorithm":.. — left open.
void AppendMetadataOpen(std::string* out, const std::string& model_version, const std::string& algorithm) {
  out->append(",\"metadata\":{\"model_version\":");
  if (model_version.empty()) out->append("null");
  else AppendJsonString(model_version, out);
  AppendField(out, "algorithm");
  AppendJsonString(algorithm, out);
}

// ,"currency":"EUR" — what the prices are in (settings.currency), when the
// shop names it: a page shows them with the right sign.
void AppendCurrency(std::string* out, const TenantRules& rules) {
  if (rules.currency.empty()) return;
  AppendField(out, "currency");
  AppendJsonString(rules.currency, out);
}

// One user's recommendations as the answer body, serialised.
StatusOr<std::string> RecommendFor(const TenantContext& ctx, const TenantRules& rules,
                                   const json::object& body, const std::string& user_id,
                                   const std::string& request_key) {
  const auto started = std::chrono::steady_clock::now();
  serving::RecommendRequest r;
  r.user_id = user_id;
  ASSIGN_OR_RETURN(r.count, Count(body, rules.max_recommendations));
  ASSIGN_OR_RETURN(r.filters, ParseFilters(body));
  ASSIGN_OR_RETURN(auto version, OptString(body, "model_version", 64));
  r.model_version = version.value_or("");
  ASSIGN_OR_RETURN(auto props, OptBool(body, "include_properties"));
  r.exclude = rules.exclude_from_recommendations;
  r.merchandising = rules.merchandising;
  if (const json::value* c = body.if_contains("context"); c && !c->is_null()) {
    if (!c->is_object()) return FieldTypeError("context", "an object");
    for (const auto& [k, v] : c->as_object()) {
      if (k == "current_item") {
        if (v.is_null()) continue;  // absent
        if (!v.is_string()) return FieldTypeError("context.current_item", "a string");
        r.current_item = std::string(v.as_string());
      } else if ((k == "page" || k == "device" || k == "time_of_day") && v.is_string()) {
        r.context.emplace_back(std::string(k), std::string(v.as_string()));
      }
    }
  }
  // The answer up to its metadata's count, left open for the fields that
  // differ per request; kept with a cached answer.
  const bool properties = props.value_or(false);
  auto render = [&user_id, properties](const serving::RecommendResult& res) {
    std::string text = "{\"user_id\":";
    AppendJsonString(user_id, &text);
    text.push_back(',');
    AppendRecommendations(&text, res.items, properties);
    AppendMetadataOpen(&text, res.model_version, res.algorithm);
    AppendField(&text, "count");
    text += std::to_string(res.items.size());
    return text;
  };
  // A cached answer was made under the rules of its time: the key names them.
  const std::string key =
      rules.merchandising ? request_key + '\n' + std::to_string(rules.merchandising_hash) : request_key;
  ASSIGN_OR_RETURN(serving::Served served, ctx.Recommend(std::move(r), {rules.cache_ttl_seconds, key}, render));
  std::string out = *served.rendered;
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  char latency[32];
  std::snprintf(latency, sizeof latency, "%.3f", ms);
  AppendField(&out, "latency_ms");
  out += latency;
  AppendField(&out, "recommendation_id");
  AppendJsonString(served.recommendation_id, &out);
  AppendField(&out, "cache");
  out += served.cached ? "\"hit\"" : "\"miss\"";
  // The experiment arm the user is in, when one chose the version.
  AppendField(&out, "experiment_id");
  if (served.experiment_id.empty()) out += "null";
  else AppendJsonString(served.experiment_id, &out);
  AppendField(&out, "arm");
  if (served.arm.empty()) out += "null";
  else AppendJsonString(served.arm, &out);
  AppendCurrency(&out, rules);
  out += "}}";
  return out;
}

// Runs `fn`, counting the request per tenant and endpoint with its latency.
template <typename Fn>
StatusOr<http::Response> Counted(const TenantContext& ctx, const char* endpoint, Fn fn) {
  const auto t0 = std::chrono::steady_clock::now();
  auto r = fn();
  ctx.CountRequest(endpoint, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return r;
}

// A JSON-body route of this file, counted with its latency.
TenantRoutes::JsonFn CountedJson(const char* endpoint, TenantRoutes::JsonFn fn) {
  return [endpoint, fn = std::move(fn)](const Request& req, const PathParams& p, TenantContext& ctx,
                                        const json::object& body) {
    return Counted(ctx, endpoint, [&] { return fn(req, p, ctx, body); });
  };
}

// The fields a recommendation request shares with a batch.
std::string RequestProperties() {
  return std::string(R"("count":{"type":"integer","minimum":1,"maximum":1000,"description":"default 10; at most the tenant's max_recommendations"},
    "limit":{"type":"integer","minimum":1,"maximum":1000,"description":"count by another name"},
    "filters":)") + schema::kFilters + R"(,
    "model_version":{"type":"string","maxLength":64,"description":"a live version to answer with; default: the user's by the traffic split"},
    "include_properties":{"type":"boolean","description":"also brand, tags, available, properties"},
    "context":{"type":"object","properties":{"current_item":{"type":"string","maxLength":256},
      "page":{"type":"string"},"device":{"type":"string"},"time_of_day":{"type":"string"}}})";
}

std::string RecommendationsAnswer() {
  return std::string(R"({"type":"object","required":["user_id","recommendations","metadata"],"properties":{
    "user_id":{"type":"string"},"recommendations":{"type":"array","items":)") + schema::kRecommendation +
         R"(},"metadata":)" + schema::kMetadata + "}}";
}

http::RouteInfo RecommendRoute() {
  http::RouteInfo r{"POST", "/api/v1/recommendations",
                    "Personalised recommendations for a user (filters, context, model_version)", "recommendations"};
  r.browser = true;  // called from shops' pages (CORS)
  r.body_schema = R"({"type":"object","required":["user_id"],"properties":{
    "user_id":{"type":"string","minLength":1,"maxLength":256},)" + RequestProperties() + "}}";
  r.replies = {schema::Reply(200, "the user's recommendations", RecommendationsAnswer())};
  r.errors = {404};
  return r;
}

http::RouteInfo BatchRoute() {
  http::RouteInfo r{"POST", "/api/v1/recommendations/batch",
                    "Recommendations for up to 100 users (user_ids, and the single request's fields)",
                    "recommendations"};
  r.browser = true;  // called from shops' pages (CORS)
  r.body_schema = R"({"type":"object","required":["user_ids"],"properties":{
    "user_ids":{"type":"array","minItems":1,"maxItems":100,"items":{"type":"string","minLength":1,"maxLength":256}},)" +
                  RequestProperties() + "}}";
  r.replies = {schema::Reply(200, "each user's recommendations, in order",
                             R"({"type":"object","required":["results","count"],"properties":{
    "results":{"type":"array","items":)" + RecommendationsAnswer() + R"(},"count":{"type":"integer"}}})")};
  r.errors = {404};
  return r;
}

http::RouteInfo SimilarRoute() {
  http::RouteInfo r{"POST", "/api/v1/recommendations/similar",
                    "Items similar to an item (never the item itself)", "recommendations"};
  r.browser = true;  // called from shops' pages (CORS)
  r.body_schema = std::string(R"({"type":"object","required":["item_id"],"properties":{
    "item_id":{"type":"string","minLength":1,"maxLength":256},
    "count":{"type":"integer","minimum":1,"maximum":1000},
    "limit":{"type":"integer","minimum":1,"maximum":1000,"description":"count by another name"},"filters":)") + schema::kFilters + "}}";
  r.replies = {schema::Reply(200, "the similar items, most similar first",
                             std::string(R"({"type":"object","required":["item_id","similar_items","metadata"],"properties":{
    "item_id":{"type":"string"},"similar_items":{"type":"array","items":{"type":"object",
      "required":["item_id","name","category","price","image_url","similarity_score"],"properties":{
      "item_id":{"type":"string"},"name":{"type":"string"},"category":{"type":"string"},
      "price":{"type":"number","nullable":true},"image_url":{"type":"string"},"similarity_score":{"type":"number"}}}},
    "metadata":)") + schema::kMetadata + "}}")};
  r.errors = {404};
  return r;
}

http::RouteInfo LogRoute() {
  http::RouteInfo r{"GET", "/api/v1/recommendations/log/{recommendation_id}",
                    "What an answer showed: its items in order with their scores, model version, context",
                    "recommendations"};
  r.params = {schema::Path("recommendation_id", 64, "an answer's metadata.recommendation_id")};
  r.replies = {schema::Reply(200, "the logged answer", R"({"type":"object",
    "required":["recommendation_id","endpoint","user_id","model_version","algorithm","items","context","cached","created_at"],
    "properties":{"recommendation_id":{"type":"string"},"endpoint":{"type":"string"},
    "user_id":{"type":"string","nullable":true},"model_version":{"type":"string","nullable":true},
    "algorithm":{"type":"string"},"items":{"type":"array","items":{"type":"object","required":["item_id","position","score"],
      "properties":{"item_id":{"type":"string"},"position":{"type":"integer"},"score":{"type":"number"}}}},
    "context":{"type":"object"},"cached":{"type":"boolean"},"created_at":{"type":"string"},
    "experiment_id":{"type":"string","nullable":true},"arm":{"type":"string","nullable":true}}})")};
  r.errors = {404};
  return r;
}

http::RouteInfo PopularRoute() {
  http::RouteInfo r{"GET", "/api/v1/recommendations/popular",
                    "Trending items, optionally of one category (?category, ?count)", "recommendations"};
  r.browser = true;  // called from shops' pages (CORS)
  r.params = {schema::QueryInt("count", 1, 1000, "default 10; at most the tenant's max_recommendations"),
              schema::QueryString("category", 256, "only this category")};
  r.replies = {schema::Reply(200, "trending items",
                             std::string(R"({"type":"object","required":["recommendations","metadata"],"properties":{
    "recommendations":{"type":"array","items":)") + schema::kRecommendation + R"(},"metadata":)" +
                                 schema::kMetadata + "}}")};
  return r;
}

}  // namespace

void RegisterRecommendationRoutes(TenantRoutes& routes) {
  routes.metrics().Declare("embedrec_recommendation_requests_total", MetricsRegistry::Type::kCounter,
                           "Recommendation requests per tenant and endpoint");
  routes.metrics().Declare("embedrec_recommendation_seconds_total", MetricsRegistry::Type::kCounter,
                           "Time spent answering recommendation requests per tenant and endpoint");
  const Needs read{.all = auth::kRecommendationsRead};

  // These routes run on the worker pool, not on the network threads (as
  // tracking may): measured, that gave both the better tail at 8 connections
  // and the higher throughput at 64 (docs/benchmarks.md, Serving).
  // A tenant's first requests (after a start or an upload) load its catalog
  // and popularity from its store: they wait in the slow lane, not on the
  // workers every tenant's warm requests need.
  auto cold = routes.ServingCold();
  http::RouteInfo recs = RecommendRoute();
  recs.slow_if = cold;
  routes.AddJson(recs, read, CountedJson("recommendations", [](const Request& req, const PathParams&,
                                                               TenantContext& ctx, const json::object& body)
                                                                -> StatusOr<http::Response> {
    ASSIGN_OR_RETURN(std::string user, ReqString(body, "user_id", 256));
    if (user.empty()) return FieldValueError("user_id", "user_id must not be empty");
    ASSIGN_OR_RETURN(auto rules, ctx.Rules());
    ASSIGN_OR_RETURN(std::string out, RecommendFor(ctx, rules, body, user, req.body));
    return http::JsonResponse(200, std::move(out));
  }));

  http::RouteInfo batch = BatchRoute();
  batch.slow_if = cold;
  routes.AddJson(batch, read, CountedJson("batch", [](const Request&, const PathParams&, TenantContext& ctx,
                                                      const json::object& body) -> StatusOr<http::Response> {
    const json::value* ids = body.if_contains("user_ids");
    if (!ids || !ids->is_array()) return FieldTypeError("user_ids", "an array of strings");
    if (ids->as_array().empty() || ids->as_array().size() > kMaxBatchUsers) {
      return FieldValueError("user_ids", "user_ids must hold 1 to 100 users");
    }
    ASSIGN_OR_RETURN(auto rules, ctx.Rules());
    json::object shared = body;
    shared.erase("user_ids");
    const std::string key_body = JsonText(shared);
    std::string results = "{\"results\":[";
    for (const auto& id : ids->as_array()) {
      if (!id.is_string() || id.as_string().empty()) {
        return FieldTypeError("user_ids", "an array of non-empty strings");
      }
      ASSIGN_OR_RETURN(std::string one, RecommendFor(ctx, rules, shared, std::string(id.as_string()), key_body));
      if (results.back() != '[') results += ',';
      results += one;
    }
    results += "],\"count\":" + std::to_string(ids->as_array().size()) + "}";
    return http::JsonResponse(200, std::move(results));
  }));

  http::RouteInfo similar = SimilarRoute();
  similar.slow_if = cold;
  routes.AddJson(similar, read, CountedJson("similar", [](const Request&, const PathParams&, TenantContext& ctx,
                                                          const json::object& body) -> StatusOr<http::Response> {
    const auto t0 = std::chrono::steady_clock::now();
    ASSIGN_OR_RETURN(std::string item, ReqString(body, "item_id", 256));
    ASSIGN_OR_RETURN(auto rules, ctx.Rules());
    ASSIGN_OR_RETURN(int count, Count(body, rules.max_recommendations));
    ASSIGN_OR_RETURN(auto filters, ParseFilters(body));
    ASSIGN_OR_RETURN(auto served, ctx.Similar(item, count, filters));
    const auto& res = served.result;
    std::string out = "{\"item_id\":";
    AppendJsonString(item, &out);
    out.append(",\"similar_items\":[");
    for (size_t i = 0; i < res.items.size(); ++i) {
      if (i) out.push_back(',');
      AppendItemOpen(&out, *res.items[i].item, false);
      AppendField(&out, "similarity_score");
      AppendJsonNumber(res.items[i].similarity, &out);
      out.push_back('}');
    }
    out.push_back(']');
    AppendMetadataOpen(&out, res.model_version, res.algorithm);
    AppendField(&out, "latency_ms");
    AppendJsonNumber(
        Round(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count(), 1e3),
        &out);
    AppendField(&out, "recommendation_id");
    AppendJsonString(served.recommendation_id, &out);
    AppendCurrency(&out, rules);
    out.append("}}");
    return http::JsonResponse(200, std::move(out));
  }));

  routes.Add(LogRoute(), read, [](const Request&, const PathParams& p, TenantContext& ctx) -> StatusOr<http::Response> {
    ASSIGN_OR_RETURN(auto rec, ctx.Logged(p.Get("recommendation_id")));
    json::array items;
    for (size_t i = 0; i < rec.items.size(); ++i) {
      items.push_back(json::object{{"item_id", rec.items[i].item_id},
                                   {"position", static_cast<int64_t>(i + 1)},
                                   {"score", rec.items[i].score}});
    }
    json::object out{{"recommendation_id", rec.id},
                     {"endpoint", rec.endpoint},
                     {"user_id", rec.user_id.empty() ? json::value(nullptr) : json::value(rec.user_id)},
                     {"model_version", rec.model_version.empty() ? json::value(nullptr) : json::value(rec.model_version)},
                     {"algorithm", rec.algorithm},
                     {"items", std::move(items)},
                     {"context", StoredJson(rec.context_json)},
                     {"cached", rec.cached},
                     {"created_at", FormatRfc3339Millis(rec.ts_ms)},
                     {"experiment_id", rec.experiment_id.empty() ? json::value(nullptr) : json::value(rec.experiment_id)},
                     {"arm", rec.arm.empty() ? json::value(nullptr) : json::value(rec.arm)}};
    return JsonAnswer(200, out);
  });

  http::RouteInfo popular = PopularRoute();
  popular.slow_if = cold;
  routes.Add(popular, read, [](const Request& req, const PathParams&, TenantContext& ctx) {
    return Counted(ctx, "popular", [&]() -> StatusOr<http::Response> {
      ASSIGN_OR_RETURN(auto rules, ctx.Rules());
      ASSIGN_OR_RETURN(int64_t count, QueryInt(req, "count", std::min(10, rules.max_recommendations), 1, 1000));
      if (count > rules.max_recommendations) {  // the tenant's own bound, as a body's count (422)
        return FieldValueError("count", "count must be at most the tenant's max_recommendations (" +
                                            std::to_string(rules.max_recommendations) + ")");
      }
      serving::Filters f;
      if (auto c = req.Query("category"); c && !c->empty()) f.categories = {*c};
      ASSIGN_OR_RETURN(auto served, ctx.Popular(static_cast<int>(count), f));
      const auto& res = served.result;
      std::string out = "{";
      AppendRecommendations(&out, res.items, false);
      out.append(",\"metadata\":{\"algorithm\":");
      AppendJsonString(res.algorithm, &out);
      out.append(",\"recommendation_id\":");
      AppendJsonString(served.recommendation_id, &out);
      AppendCurrency(&out, rules);
      out.append("}}");
      return http::JsonResponse(200, std::move(out));
    });
  });
}

}  // namespace embedrec::api
