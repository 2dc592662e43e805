// /api/v1/items: the tenant's catalog, item by item.
#include <boost/json.hpp>

#include "api/call.h"
#include "api/json_body.h"

namespace embedrec::api {
namespace json = boost::json;
using http::PathParams;
using http::Request;

json::object ItemJson(const store::ItemRecord& it) {
  json::array tags;
  for (const auto& t : it.tags) tags.push_back(json::string(t));
  boost::system::error_code ec;
  json::value props = json::parse(it.properties_json, ec);
  json::object o{{"item_id", it.item_id},   {"name", it.name},
                 {"category", it.category}, {"description", it.description},
                 {"brand", it.brand},       {"tags", std::move(tags)},
                 {"image_url", it.image_url}, {"available", it.available},
                 {"properties", ec ? json::value(json::object()) : props}};
  o["price"] = it.price ? json::value(*it.price) : json::value(nullptr);
  return o;
}

void RegisterItemRoutes(http::Router& router, const Deps& deps) {
  const Deps* d = &deps;
  router.Add({"GET", "/api/v1/items/{item_id}", "One catalog item", "items"},
             Authed(deps, 0,
                    [d](const Request& req, const PathParams& p,
                        const auth::Principal& who) -> StatusOr<http::Response> {
                      ASSIGN_OR_RETURN(std::string tid,
                                       who.ResolveTenant(req.Query("tenant_id").value_or("")));
                      ASSIGN_OR_RETURN(auto tenant, d->tenants->Open(tid));
                      ASSIGN_OR_RETURN(auto item, tenant->GetItem(p.Get("item_id")));
                      return JsonAnswer(200, ItemJson(item));
                    }));
}

}  // namespace embedrec::api
