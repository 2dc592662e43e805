// Registration of tenant-scoped routes: each handler gets a TenantContext
// (api/tenant_context.h) for the caller's tenant, resolved once, and
// nothing that names tenants. The route's declared contract (http/declared.h)
// is checked after the caller's permissions, before the handler runs.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "api/tenant_context.h"
#include "common/metrics.h"
#include "http/router.h"

namespace embedrec::api {

// Who may call a route: every permission of `all`, and, when `any` is not 0,
// at least one of `any` (refused naming its highest bit, the least powerful).
struct Needs {
  uint32_t all = 0;
  uint32_t any = 0;
};

// Registers tenant-scoped routes: each handler gets a TenantContext and
// nothing that names tenants.
class TenantRoutes {
 public:
  using Fn = std::function<StatusOr<http::Response>(const http::Request&, const http::PathParams&,
                                                    TenantContext&)>;
  using JsonFn = std::function<StatusOr<http::Response>(
      const http::Request&, const http::PathParams&, TenantContext&, const boost::json::object& body)>;

  TenantRoutes(http::Router* router, TenantServices services);

  // The tenant is ?tenant_id (needed by the platform admin only). The
  // route's declared parameters are checked (http/declared.h) after the
  // caller's permissions; ?tenant_id is declared here.
  void Add(http::RouteInfo info, Needs needs, Fn fn);
  // A JSON object body, parsed once and checked against info.body_schema
  // (a tenant_id property is declared here); the tenant is its tenant_id,
  // else ?tenant_id.
  void AddJson(http::RouteInfo info, Needs needs, JsonFn fn);

  // Route predicates (http::RouteInfo), called on a network thread, never blocking.
  // True while the tenant's serving state is not in memory: its first
  // requests (after a start or an upload) load it, in the slow lane.
  std::function<bool(const http::Request&, const std::string& tenant_id)> ServingCold() const;
  // True when the caller's credential, its tenant's settings and store are in memory.
  std::function<bool(const http::Request&)> AllInMemory() const;

  MetricsRegistry& metrics() const { return *services_->metrics; }

 private:
  http::Handler Wrap(const http::RouteInfo& info, Needs needs, bool json_body, JsonFn fn) const;

  http::Router* router_;
  std::shared_ptr<const TenantServices> services_;
};

}  // namespace embedrec::api
