// POST /api/v1/interactions and /api/v1/interactions/batch: real-time
// tracking from the shop's website (seed steps 8b, 8d, 8e). An answer means
// the interaction is committed: it survives a kill of the process.
#include <boost/json.hpp>
#include <set>
#include <tuple>

#include "api/call.h"
#include "api/json_body.h"
#include "api/schemas.h"
#include "common/json_text.h"
#include "common/strings.h"
#include "common/time_format.h"
#include "http/errors.h"
#include "interactions/interaction_rules.h"

namespace embedrec::api {
namespace json = boost::json;
using http::PathParams;
using http::Request;

namespace {

constexpr size_t kMaxBatch = 1000;

// An optional number of the event, by the interaction rules (`field` as the event names it).
StatusOr<std::optional<double>> OptNumber(const json::object& o, std::string_view field,
                                          interactions::Number which, const TenantRules& rules) {
  // A number, or a string holding one (a price's may carry the shop's currency).
  ASSIGN_OR_RETURN(auto n, OptDecimal(o, field,
                                      which == interactions::Number::kValue
                                          ? std::optional<std::string_view>(rules.currency)
                                          : std::nullopt));
  if (!n) return n;
  const double x = *n;
  const interactions::NumberRule& rule = interactions::Rule(which);
  if (!rule.Allows(x)) return FieldValueError(field, std::string(field) + " must be " + rule.allowed);
  return std::optional<double>(x);
}

StatusOr<std::string> OptObjectText(const json::object& o, std::string_view field) {
  const json::value* v = o.if_contains(field);
  if (!v || v->is_null()) return std::string();
  if (!v->is_object()) return FieldTypeError(field, "an object");
  std::string text = JsonText(*v);
  if (text.size() > 16 * 1024) return FieldValueError(field, std::string(field) + " is larger than 16 KiB");
  return text;
}

// Validates one event object into a TrackEvent.
StatusOr<store::TrackEvent> ParseEvent(const json::object& o, const TenantRules& rules,
                                       int64_t now_ms) {
  store::TrackEvent ev;
  ASSIGN_OR_RETURN(ev.user_id, ReqString(o, "user_id", 256));
  if (Trim(ev.user_id).empty()) return FieldValueError("user_id", "user_id must not be empty");
  ASSIGN_OR_RETURN(auto type, ReqString(o, "interaction_type", 64));
  ev.type = AsciiLower(Trim(type));
  if (!interactions::KnownType(ev.type, rules.custom_types)) {
    std::string spelt = interactions::TypeSpelling(type);  // "Add To Cart", "Product Viewed"
    if (!interactions::KnownType(spelt, rules.custom_types)) {
      return FieldValueError("interaction_type", interactions::UnknownTypeMessage(type, rules.custom_types));
    }
    ev.type = std::move(spelt);
  }
  ASSIGN_OR_RETURN(auto item, OptString(o, "item_id", 256));
  ev.item_id = item.value_or("");
  if (ev.item_id.empty() && ev.type != "recommendations_shown") {
    return Status::InvalidArgument("field 'item_id' is required", {{"field", "item_id"}})
        .WithReason("missing_field");
  }
  ev.ts_ms = now_ms;
  if (const json::value* ts = o.if_contains("timestamp"); ts && !ts->is_null()) {
    std::optional<int64_t> parsed;
    if (ts->is_string()) parsed = interactions::ParseTimestampMillis(ts->as_string());
    else if (ts->is_number()) parsed = interactions::TimestampMillisFromSeconds(ts->to_number<double>());
    if (!parsed) {
      return FieldValueError("timestamp", "timestamp must be RFC 3339 (2024-01-16T19:23:45Z; without a zone: "
                                          "UTC) or epoch seconds");
    }
    if (*parsed > now_ms + interactions::kMaxFutureMs) {
      return FieldValueError("timestamp", "timestamp is more than a day in the future");
    }
    ev.ts_ms = *parsed;
  }
  ASSIGN_OR_RETURN(ev.rating, OptNumber(o, "rating", interactions::Number::kRating, rules));
  if (ev.type == "rating" && !ev.rating) {
    return FieldValueError("rating", "a rating interaction needs a rating from 1 to 5");
  }
  ASSIGN_OR_RETURN(ev.context_json, OptObjectText(o, "context"));
  ASSIGN_OR_RETURN(ev.metadata_json, OptObjectText(o, "metadata"));
  if (const json::value* m = o.if_contains("metadata"); m && m->is_object()) {
    ASSIGN_OR_RETURN(ev.value, OptNumber(m->as_object(), "price", interactions::Number::kValue, rules));
    ASSIGN_OR_RETURN(ev.quantity, OptNumber(m->as_object(), "quantity", interactions::Number::kQuantity, rules));
  }
  // The CSV's columns (price or value, quantity) are taken at the top level
  // too: a purchase's revenue is not dropped for where the shop put it.
  for (auto [field, which, slot, agree] :
       {std::tuple{"price", interactions::Number::kValue, &ev.value, "metadata.price, price and value"},
        std::tuple{"value", interactions::Number::kValue, &ev.value, "metadata.price, price and value"},
        std::tuple{"quantity", interactions::Number::kQuantity, &ev.quantity, "metadata.quantity and quantity"}}) {
    ASSIGN_OR_RETURN(auto v, OptNumber(o, field, which, rules));
    if (!v) continue;
    if (*slot && **slot != *v) return FieldValueError(field, std::string(agree) + " differ; send one");
    *slot = v;
  }
  ASSIGN_OR_RETURN(auto rec, OptString(o, "recommendation_id", 128));
  ev.recommendation_id = rec.value_or("");
  ev.create_missing_item = rules.auto_create_items;
  return ev;
}

json::object ResultJson(bool purchase, const store::TrackResult& r, bool retrain_recommended) {
  json::object out{{"status", r.replayed ? "tracked" : r.duplicate ? "duplicate" : "tracked"},
                   {"interaction_id", r.interaction_id},
                   {"processed_at", FormatRfc3339Millis(r.processed_at_ms)}};
  if (r.replayed) out["idempotent_replay"] = true;
  if (purchase) {
    // Real-time fold-in updates the user at once; retrain_recommended: the
    // automatic retraining's last look found a run due (it starts it itself
    // unless the tenant switched it off).
    out["next_actions"] = json::object{{"retrain_recommended", retrain_recommended},
                                       {"incremental_update", true}};
  }
  return out;
}

// A number of an event as the interaction rules allow it (or a string holding one).
std::string NumberSchema(interactions::Number which) {
  const interactions::NumberRule& r = interactions::Rule(which);
  return DecimalSchema(JsonText(json::object{{"type", "number"}, {"minimum", r.min}, {"maximum", r.max},
                                             {"exclusiveMinimum", r.min_exclusive}, {"description", r.allowed}}));
}

// One event, as POST /api/v1/interactions takes it.
std::string EventSchema() {
  return R"({"type":"object","required":["user_id","interaction_type"],"properties":{
    "user_id":{"type":"string","minLength":1,"maxLength":256},
    "interaction_type":{"type":"string","minLength":1,"maxLength":64,"description":"view, click, add_to_cart, remove_from_cart, purchase, rating, like, share, recommendations_shown, or a custom type of the tenant's settings"},
    "item_id":{"type":"string","maxLength":256,"description":"required except for recommendations_shown"},
    "timestamp":{"anyOf":[{"type":"string","description":"RFC 3339; without a zone, UTC; a date alone, its midnight"},{"type":"number","description":"epoch seconds"}],"description":"default: now; at most a day ahead"},
    "rating":)" + NumberSchema(interactions::Number::kRating) + R"(,
    "context":{"type":"object","description":"page, device, time_of_day, ...; at most 16 KiB"},
    "metadata":{"type":"object","properties":{"price":)" + NumberSchema(interactions::Number::kValue) +
         R"(,"quantity":)" + NumberSchema(interactions::Number::kQuantity) + R"(}},
    "price":)" + NumberSchema(interactions::Number::kValue) + R"(,
    "value":)" + NumberSchema(interactions::Number::kValue) + R"(,
    "quantity":)" + NumberSchema(interactions::Number::kQuantity) + R"(,
    "recommendation_id":{"type":"string","maxLength":128,"description":"the answer that showed the item"}}})";
}

// One tracked event's result.
constexpr const char* kTrackResult = R"({"type":"object","required":["status","interaction_id","processed_at"],
  "properties":{"status":{"type":"string","enum":["tracked","duplicate"]},"interaction_id":{"type":"string"},
  "processed_at":{"type":"string"},"idempotent_replay":{"type":"boolean"},"next_actions":{"type":"object"}}})";

}  // namespace

void RegisterInteractionRoutes(TenantRoutes& routes) {
  http::RouteInfo track{"POST", "/api/v1/interactions",
                        "Track one interaction (view, add_to_cart, purchase, ...); durable when "
                        "answered; Idempotency-Key header honoured",
                        "interactions"};
  track.browser = true;  // called from shops' pages (CORS)
  track.params = {{.name = "Idempotency-Key",
                   .in = http::Param::In::kHeader,
                   // Its limit (255 characters) is the handler's: a longer key is a 400.
                   .schema = R"({"type":"string"})",
                   .description = "at most 255 characters (longer: 400); a retry with the same key answers "
                                  "the first answer's interaction_id"}};
  track.body_schema = EventSchema();
  track.replies = {schema::Reply(201, "tracked", kTrackResult),
                   schema::Reply(200, "already stored (an identical event, or the key's replay)", kTrackResult)};
  track.errors = {404};
  // The hot path runs on the network thread: it parses, checks cached
  // credentials and settings, and writes the event into the tenant's open
  // tracking transaction and journal (store/track_committer.h) when they are
  // free, else queues it for the committer thread, which answers it.
  track.inline_if = routes.AllInMemory();
  routes.AddJson(track, {.all = auth::kInteractionsWrite},
                 [](const Request& req, const PathParams&, TenantContext& ctx,
                    const json::object& body) -> StatusOr<http::Response> {
    ASSIGN_OR_RETURN(auto rules, ctx.Rules());
    ASSIGN_OR_RETURN(auto ev, ParseEvent(body, rules, ctx.NowMillis()));
    std::string_view key = req.Header("idempotency-key");
    if (key.size() > 255) return Status::InvalidArgument("Idempotency-Key is longer than 255 characters");
    ev.idempotency_key = std::string(key);
    // Answered once the event is durable (store/tenant_stores.h: at once when the tenant's
    // tracking transaction is open and free, else after the committer wrote it).
    // Written by another thread, the answer is made on the connection's own (no worker woken).
    TenantContext::RunOn run_on;
    if (req.connection_thread) {
      run_on = [thread = req.connection_thread](std::function<void()> fn) { thread->Run(std::move(fn)); };
    }
    return http::Later([ctx, rules = std::move(rules), ev = std::move(ev), request_id = req.request_id,
                        run_on = std::move(run_on)](std::function<void(http::Response)> send) mutable {
      const bool purchase = ev.type == "purchase";
      const bool retrain = purchase && ctx.RetrainRecommended();
      ctx.TrackAsync(
          std::move(ev), rules,
          [purchase, retrain, request_id, send = std::move(send)](StatusOr<store::TrackResult> r) {
            if (!r.ok()) return send(http::ErrorResponse(r.status(), request_id));
            if (!r->status.ok()) return send(http::ErrorResponse(r->status, request_id));
            send(JsonAnswer(r->duplicate || r->replayed ? 200 : 201, ResultJson(purchase, *r, retrain)));
          },
          std::move(run_on));
    });
  });

  http::RouteInfo batch{"POST", "/api/v1/interactions/batch",
                        "Track up to 1,000 interactions; a result per event", "interactions"};
  batch.browser = true;  // called from shops' pages (CORS)
  batch.body_schema = R"({"type":"object","required":["events"],"properties":{"events":{"type":"array",
    "maxItems":1000,"description":"events as POST /api/v1/interactions takes them; an invalid one gets an error result, the others are tracked",
    "items":{}}}})";
  batch.replies = {schema::Reply(200, "a result per event, in order", std::string(R"({"type":"object",
    "required":["tracked","failed","results"],"properties":{"tracked":{"type":"integer"},"failed":{"type":"integer"},
    "results":{"type":"array","items":{"anyOf":[)") + kTrackResult + R"(,{"type":"object","required":["status","error"],
      "properties":{"status":{"type":"string","enum":["error"]},"error":{"type":"object"}}}]}}}})")};
  routes.AddJson(batch, {.all = auth::kInteractionsWrite},
                 [](const Request&, const PathParams&, TenantContext& ctx,
                    const json::object& body) -> StatusOr<http::Response> {
    const json::value* list = body.if_contains("events");
    if (!list || !list->is_array()) return FieldTypeError("events", "an array of events");
    if (list->as_array().size() > kMaxBatch) return FieldValueError("events", "at most 1000 events per batch");
    ASSIGN_OR_RETURN(auto rules, ctx.Rules());
    int64_t now = ctx.NowMillis();
    std::vector<store::TrackEvent> events;
    std::vector<std::optional<Status>> invalid;
    for (const auto& v : list->as_array()) {
      if (!v.is_object()) {
        invalid.push_back(FieldTypeError("events[]", "an object"));
        continue;
      }
      auto ev = ParseEvent(v.as_object(), rules, now);
      if (!ev.ok()) {
        invalid.push_back(ev.status());
        continue;
      }
      invalid.push_back(std::nullopt);
      events.push_back(std::move(ev).value());
    }
    std::vector<store::TrackResult> results;
    if (!events.empty()) {
      ASSIGN_OR_RETURN(results, ctx.Track(events, rules));
    }
    json::array out;
    const bool retrain = ctx.RetrainRecommended();
    int64_t tracked = 0, failed = 0;
    size_t k = 0;
    for (const auto& bad : invalid) {
      Status s = bad ? *bad : results[k].status;
      if (!s.ok()) {
        ++failed;
        out.push_back(json::object{{"status", "error"},
                                   {"error", json::object{{"code", s.reason()}, {"message", s.message()}}}});
      } else {
        ++tracked;
        out.push_back(ResultJson(events[k].type == "purchase", results[k], retrain));
      }
      if (!bad) ++k;
    }
    return JsonAnswer(200, json::object{{"tracked", tracked}, {"failed", failed}, {"results", std::move(out)}});
  });
}

}  // namespace embedrec::api
