// /api/v1/items: the tenant's catalog, item by item.
#include <boost/json.hpp>

#include "api/call.h"
#include "common/json_text.h"
#include "api/json_body.h"
#include "api/schemas.h"
#include "common/time_format.h"

namespace embedrec::api {
namespace json = boost::json;
using http::PathParams;
using http::Request;

json::object ItemJson(const store::ItemRecord& it) {
  json::array tags;
  for (const auto& t : it.tags) tags.push_back(json::string(t));
  json::object o{{"item_id", it.item_id},   {"name", it.name},
                 {"category", it.category}, {"description", it.description},
                 {"brand", it.brand},       {"tags", std::move(tags)},
                 {"image_url", it.image_url}, {"available", it.available},
                 {"properties", StoredJson(it.properties_json)}};
  o["price"] = it.price ? json::value(*it.price) : json::value(nullptr);
  return o;
}

namespace {

// An item from a PUT body (its schema refuses unknown fields: a field
// the shop named its own way would otherwise vanish; free-form attributes
// go in `properties`). An item_id in the body must be the path's.
// `currency`: the shop's (settings.currency), which a price given as text may carry.
StatusOr<store::ItemRecord> ParseItem(const json::object& o, const std::string& item_id, const std::string& currency) {
  store::ItemRecord it;
  it.item_id = item_id;
  if (item_id.empty() || item_id.size() > 256) {
    return FieldValueError("item_id", "item_id must be 1 to 256 bytes");
  }
  ASSIGN_OR_RETURN(auto body_id, OptString(o, "item_id", 256));
  if (body_id && *body_id != item_id) {
    return FieldValueError("item_id", "item_id in the body differs from the path's; an item's id cannot change");
  }
  ASSIGN_OR_RETURN(auto name, OptString(o, "name", 1000));
  ASSIGN_OR_RETURN(auto category, OptString(o, "category", 200));
  ASSIGN_OR_RETURN(auto description, OptString(o, "description", 65536));
  ASSIGN_OR_RETURN(auto brand, OptString(o, "brand", 200));
  ASSIGN_OR_RETURN(auto image_url, OptString(o, "image_url", 2048));
  ASSIGN_OR_RETURN(auto available, OptBool(o, "available"));
  it.name = name.value_or("");
  it.category = category.value_or("");
  it.description = description.value_or("");
  it.brand = brand.value_or("");
  it.image_url = image_url.value_or("");
  it.available = available.value_or(true);
  ASSIGN_OR_RETURN(auto price, OptDecimal(o, "price", currency));  // a number, or a string holding one
  if (price) {
    if (!(*price >= 0 && *price <= 1e15)) return FieldValueError("price", "price must be ≥ 0");
    it.price = price;
  }
  if (const json::value* t = o.if_contains("tags"); t && !t->is_null()) {
    if (!t->is_array()) return FieldTypeError("tags", "an array of strings");
    for (const auto& tag : t->as_array()) {
      if (!tag.is_string()) return FieldTypeError("tags", "an array of strings");
      if (tag.as_string().size() > 100 || it.tags.size() >= 100) {
        return FieldValueError("tags", "at most 100 tags of at most 100 characters");
      }
      if (!tag.as_string().empty()) it.tags.emplace_back(tag.as_string());
    }
  }
  if (const json::value* p = o.if_contains("properties"); p && !p->is_null()) {
    if (!p->is_object()) return FieldTypeError("properties", "an object");
    it.properties_json = JsonText(*p);
    if (it.properties_json.size() > 64 * 1024) {
      return FieldValueError("properties", "properties must serialize to at most 64 KiB");
    }
  }
  return it;
}

const std::string kItemBody = std::string(R"({"type":"object","additionalProperties":false,"properties":{
  "item_id":{"type":"string","maxLength":256,"description":"optional; the path's"},
  "name":{"type":"string","maxLength":1000},"category":{"type":"string","maxLength":200},
  "description":{"type":"string","maxLength":65536},"brand":{"type":"string","maxLength":200},
  "image_url":{"type":"string","maxLength":2048},"available":{"type":"boolean"},
  "price":)") + DecimalSchema(R"({"type":"number","minimum":0,"maximum":1e15})") + R"(,
  "tags":{"type":"array","maxItems":100,"items":{"type":"string","maxLength":100}},
  "properties":{"type":"object","description":"free-form attributes, at most 64 KiB as JSON"}}})";

http::RouteInfo ListItems() {
  http::RouteInfo r{"GET", "/api/v1/items", "The catalog, paginated (?limit, ?cursor, ?category)", "items"};
  r.params = {schema::QueryInt("limit", 1, 1000, "items per page (default 100)"),
              schema::QueryInt("cursor", 0, schema::kMaxCursor, "next_cursor of the previous page"),
              schema::QueryString("category", 200, "only this category")};
  r.replies = {schema::Reply(200, "a page of live items",
                             std::string(R"({"type":"object","required":["items","next_cursor"],"properties":{"items":{"type":"array","items":)") +
                                 schema::kItem + R"(},"next_cursor":)" + schema::kCursor + "}}")};
  return r;
}

http::RouteInfo PutItem() {
  http::RouteInfo r{"PUT", "/api/v1/items/{item_id}", "Create or replace one catalog item", "items"};
  r.params = {schema::Path("item_id", 256, "the shop's item id")};
  r.body_schema = kItemBody;
  r.replies = {schema::Reply(200, "replaced", schema::kItem), schema::Reply(201, "created", schema::kItem)};
  return r;
}

http::RouteInfo UserInteractions() {
  http::RouteInfo r{"GET", "/api/v1/users/{user_id}/interactions",
                    "A user's interactions, newest first (?limit, ?cursor)", "interactions"};
  r.params = {schema::Path("user_id", 256, "the shop's user id"),
              schema::QueryInt("limit", 1, 1000, "interactions per page (default 100)"),
              schema::QueryInt("cursor", 0, schema::kMaxCursor, "next_cursor of the previous page")};
  r.replies = {schema::Reply(200, "a page of the user's interactions", R"({"type":"object",
    "required":["user_id","interactions","next_cursor"],"properties":{"user_id":{"type":"string"},
    "interactions":{"type":"array","items":{"type":"object","required":["interaction_type","timestamp","item_id"],
      "properties":{"interaction_type":{"type":"string"},"timestamp":{"type":"string"},
      "item_id":{"type":"string","nullable":true},"interaction_id":{"type":"string"},"rating":{"type":"number"},
      "value":{"type":"number"},"quantity":{"type":"number"}}}},
    "next_cursor":{"type":"string","nullable":true}}})")};
  r.errors = {404};
  return r;
}

}  // namespace

void RegisterItemRoutes(TenantRoutes& routes) {
  routes.Add(ListItems(), {},
             [](const Request& req, const PathParams&, TenantContext& ctx) -> StatusOr<http::Response> {
               ASSIGN_OR_RETURN(int64_t limit, QueryInt(req, "limit", 100, 1, 1000));
               ASSIGN_OR_RETURN(int64_t after, QueryInt(req, "cursor", 0, 0, INT64_MAX));
               ASSIGN_OR_RETURN(auto tenant, ctx.Store());
               std::vector<int64_t> idx;
               ASSIGN_OR_RETURN(auto items, tenant->ListItems(after, limit + 1,
                                                              req.Query("category").value_or(""), &idx));
               json::object out;
               json::array arr;
               bool more = static_cast<int>(items.size()) > limit;
               for (int i = 0; i < static_cast<int>(items.size()) && i < limit; ++i) {
                 arr.push_back(ItemJson(items[i]));
               }
               out["items"] = std::move(arr);
               out["next_cursor"] = more ? json::value(std::to_string(idx[limit - 1])) : json::value(nullptr);
               return JsonAnswer(200, out);
             });

  routes.AddJson(PutItem(), {.all = auth::kDataWrite},
                 [](const Request&, const PathParams& p, TenantContext& ctx,
                    const json::object& body) -> StatusOr<http::Response> {
                   ASSIGN_OR_RETURN(auto rules, ctx.Rules());
                   ASSIGN_OR_RETURN(auto item, ParseItem(body, p.Get("item_id"), rules.currency));
                   ASSIGN_OR_RETURN(bool existed, ctx.PutItem(item));
                   return JsonAnswer(existed ? 200 : 201, ItemJson(item));
                 });

  http::RouteInfo remove{"DELETE", "/api/v1/items/{item_id}",
                         "Remove an item from the catalog (its history is kept)", "items"};
  remove.params = {schema::Path("item_id", 256, "the shop's item id")};
  remove.replies = {schema::NoContent("removed")};
  remove.errors = {404};
  routes.Add(remove, {.all = auth::kDataWrite},
             [](const Request&, const PathParams& p, TenantContext& ctx) -> StatusOr<http::Response> {
               RETURN_IF_ERROR(ctx.DeleteItem(p.Get("item_id")));
               http::Response r;
               r.status = 204;
               return r;
             });

  routes.Add(UserInteractions(), {.any = auth::kDataWrite | auth::kAnalyticsRead},
             [](const Request& req, const PathParams& p, TenantContext& ctx) -> StatusOr<http::Response> {
               ASSIGN_OR_RETURN(int64_t limit, QueryInt(req, "limit", 100, 1, 1000));
               ASSIGN_OR_RETURN(int64_t offset, QueryInt(req, "cursor", 0, 0, INT64_MAX));
               ASSIGN_OR_RETURN(auto tenant, ctx.Store());
               ASSIGN_OR_RETURN(auto rows, tenant->ListUserInteractions(p.Get("user_id"), offset, limit + 1));
               json::array arr;
               for (int i = 0; i < static_cast<int>(rows.size()) && i < limit; ++i) {
                 const auto& r = rows[i];
                 json::object o{{"interaction_type", r.type}, {"timestamp", FormatRfc3339Millis(r.ts_ms)}};
                 o["item_id"] = r.item_id.empty() ? json::value(nullptr) : json::value(r.item_id);
                 if (!r.interaction_id.empty()) o["interaction_id"] = r.interaction_id;
                 if (r.rating) o["rating"] = *r.rating;
                 if (r.value) o["value"] = *r.value;
                 if (r.quantity) o["quantity"] = *r.quantity;
                 arr.push_back(std::move(o));
               }
               bool more = static_cast<int>(rows.size()) > limit;
               return JsonAnswer(200, json::object{
                   {"user_id", p.Get("user_id")},
                   {"interactions", std::move(arr)},
                   {"next_cursor", more ? json::value(std::to_string(offset + limit)) : json::value(nullptr)}});
             });

  http::RouteInfo get{"GET", "/api/v1/items/{item_id}", "One catalog item", "items"};
  get.params = {schema::Path("item_id", 256, "the shop's item id")};
  get.replies = {schema::Reply(200, "the item", schema::kItem)};
  get.errors = {404};
  routes.Add(get, {},
             [](const Request&, const PathParams& p, TenantContext& ctx) -> StatusOr<http::Response> {
               ASSIGN_OR_RETURN(auto tenant, ctx.Store());
               ASSIGN_OR_RETURN(auto item, tenant->GetItem(p.Get("item_id")));
               return JsonAnswer(200, ItemJson(item));
             });
}

}  // namespace embedrec::api
