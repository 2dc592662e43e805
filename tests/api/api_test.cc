// Handler-level tests: the real route table and stores, no sockets.
#include <boost/json.hpp>
#include <set>

#include "api/call.h"
#include "auth/api_key.h"
#include "common/json_schema.h"
#include "common/fair_pool.h"
#include "http/dispatcher.h"
#include "http/errors.h"
#include "tenants/tenant_service.h"
#include "test_util.h"

namespace embedrec::api {
namespace {
namespace json = boost::json;

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = store::OpenSqliteControlStore(dir_.Sub("control.db"));
    ASSERT_OK(c);
    control_ = std::move(c).value();
    tenants_ = store::NewSqliteTenantStores(dir_.Sub("tenants"));
    throttle_ = std::make_unique<auth::LoginThrottle>(&clock_, auth::LoginThrottle::Options{});
    authn_ = std::make_unique<auth::Authenticator>(
        control_.get(), &clock_,
        auth::Authenticator::Options{"s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t",
                                     auth::HashSecret("admin-token-for-tests")});
    sessions_ = std::make_unique<auth::SessionService>(
        control_.get(), &clock_, throttle_.get(),
        auth::SessionService::Options{"s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t"});
    settings_ = std::make_unique<TenantSettingsCache>(control_.get(), &clock_);
    deps_.platform = {control_.get(), authn_.get(), sessions_.get(), &clock_, &metrics_};
    deps_.tenant = {.stores = tenants_.get(), .control = control_.get(), .authenticator = authn_.get(),
                    .settings = settings_.get(), .clock = &clock_, .metrics = &metrics_};
    tenant_service_ = std::make_unique<tenants::TenantService>(control_.get(), tenants_.get(), nullptr, &clock_);
    tenant_service_->AddHooks({.changed = [this](const std::string& id) {
      authn_->Invalidate();
      settings_->Invalidate(id);
    }});
    deps_.platform.tenant_service = tenant_service_.get();
    deps_.platform.ping_tenant_spaces = [this] { return tenants_->Ping(); };
    RegisterAllRoutes(router_, deps_);
    dispatcher_ = std::make_unique<http::Dispatcher>(&router_, http::Dispatcher::Pools{&pool_}, &metrics_,
                                                     http::Dispatcher::Options{});
  }

  http::Response Call(std::string method, std::string target, std::string body = "",
                      std::string token = "admin-token-for-tests") {
    http::Request req;
    req.method = std::move(method);
    req.target = std::move(target);
    req.body = std::move(body);
    req.request_id = "req_test";
    if (!token.empty()) req.headers.emplace_back("authorization", "Bearer " + token);
    return dispatcher_->HandleNow(req);
  }
  static json::object Body(const http::Response& r) { return json::parse(r.body).as_object(); }

  testing::TempDir dir_;
  FakeClock clock_;
  MetricsRegistry metrics_;
  FairThreadPool pool_{1, 1};
  std::unique_ptr<store::ControlStore> control_;
  std::unique_ptr<store::TenantStores> tenants_;
  std::unique_ptr<auth::LoginThrottle> throttle_;
  std::unique_ptr<auth::Authenticator> authn_;
  std::unique_ptr<auth::SessionService> sessions_;
  std::unique_ptr<TenantSettingsCache> settings_;
  std::unique_ptr<tenants::TenantService> tenant_service_;
  ApiDeps deps_;
  http::Router router_;
  std::unique_ptr<http::Dispatcher> dispatcher_;
};

TEST_F(ApiTest, OpenApiListsExactlyTheRoutesTheRouterServes) {
  auto r = Call("GET", "/openapi.json", "", "");
  ASSERT_EQ(r.status, 200);
  std::set<std::string> documented, served;
  json::object doc = Body(r);
  for (auto& [path, ops] : doc.at("paths").as_object()) {
    for (auto& [method, op] : ops.as_object()) {
      std::string m(method);
      for (auto& c : m) c = static_cast<char>(std::toupper(c));
      documented.insert(m + " " + std::string(path));
    }
  }
  for (const auto& route : router_.routes()) {
    served.insert(route.info.method + " " + route.info.pattern);
  }
  EXPECT_EQ(documented, served);
  EXPECT_GE(served.size(), 18u);
}

TEST_F(ApiTest, EveryRouteDeclaresItsAnswersAndItsBody) {
  for (const auto& route : router_.routes()) {
    const auto& info = route.info;
    const std::string where = info.method + " " + info.pattern;
    EXPECT_FALSE(info.replies.empty()) << where;
    const bool writes = info.method == "POST" || info.method == "PUT" || info.method == "PATCH";
    if (writes) {
      EXPECT_TRUE(!info.body_schema.empty() || !info.body_media.empty()) << where;
    }
    for (const auto& p : info.params) {
      EXPECT_TRUE(JsonSchema::Parse(p.schema).ok()) << where << " " << p.name;
    }
  }
}

TEST_F(ApiTest, CreatingATenantCreatesItsDataSpace) {
  auto r = Call("POST", "/api/v1/admin/tenants", R"({"name":"Shop","slug":"shop"})");
  ASSERT_EQ(r.status, 201) << r.body;
  auto t = Body(r);
  EXPECT_EQ(t.at("status"), "active");
  EXPECT_EQ(t.at("settings").as_object().at("max_recommendations"), 50);
  std::string id(t.at("id").as_string());
  EXPECT_OK(tenants_->Open(id));
  ASSERT_EQ(Call("DELETE", "/api/v1/admin/tenants/" + id).status, 204);
  EXPECT_FALSE(tenants_->Open(id).ok());
}

TEST_F(ApiTest, InvalidInputNeverReachesTheStore) {
  EXPECT_EQ(Call("POST", "/api/v1/admin/tenants", "{").status, 400);
  EXPECT_EQ(Call("POST", "/api/v1/admin/tenants", "[1]").status, 400);
  EXPECT_EQ(Call("POST", "/api/v1/admin/tenants", R"({"name":1,"slug":"x"})").status, 400);
  EXPECT_EQ(Call("POST", "/api/v1/admin/tenants", R"({"slug":"x"})").status, 400);
  EXPECT_EQ(Call("POST", "/api/v1/admin/tenants", "{\"name\":\"\xff\",\"slug\":\"x\"}").status, 400);
  EXPECT_EQ(Call("POST", "/api/v1/admin/tenants", R"({"name":"A","slug":"Bad Slug"})").status, 422);
  EXPECT_EQ(Call("POST", "/api/v1/admin/tenants",
                 R"({"name":"A","slug":"a","settings":{"max_recommendations":0}})").status, 422);
  EXPECT_EQ(control_->ListTenants("", 10)->total, 0);
}

TEST_F(ApiTest, RoutesAnswerOnlyOnTheirPortsButTheGatewayServesAll) {
  http::Request req;
  req.method = "GET";
  req.target = "/api/v1/admin/tenants";
  req.listener = "ml";
  req.headers.emplace_back("authorization", "Bearer admin-token-for-tests");
  EXPECT_EQ(dispatcher_->HandleNow(req).status, 404);
  req.listener = "gateway";
  EXPECT_EQ(dispatcher_->HandleNow(req).status, 200);
  req.target = "/healthz";
  req.listener = "pipeline";
  EXPECT_EQ(dispatcher_->HandleNow(req).status, 200);
}

TEST_F(ApiTest, CountsRequestsPerRouteAndStatus) {
  Call("GET", "/healthz", "", "");
  Call("GET", "/api/v1/admin/tenants", "", "wrong");
  EXPECT_EQ(metrics_.Value("embedrec_http_requests_total",
                           {{"route", "/healthz"}, {"method", "GET"}, {"status", "200"}}),
            1);
  EXPECT_EQ(metrics_.Value("embedrec_http_requests_total",
                           {{"route", "/api/v1/admin/tenants"}, {"method", "GET"}, {"status", "401"}}),
            1);
}

// A probe route through TenantRoutes: answers with the tenant its context
// holds, so each rule of the resolution is visible.
TEST_F(ApiTest, TenantRoutesResolveTheCallersTenantOnce) {
  TenantRoutes routes(&router_, deps_.tenant);
  auto echo = [](TenantContext& ctx) -> StatusOr<http::Response> {
    return http::JsonResponse(200, json::serialize(json::object{{"tenant", ctx.tenant_id()}}));
  };
  routes.Add({"GET", "/probe", "probe", "test"}, {.any = auth::kDataWrite | auth::kAnalyticsRead},
             [echo](const http::Request&, const http::PathParams&, TenantContext& ctx) { return echo(ctx); });
  routes.AddJson({"POST", "/probe", "probe", "test"}, {.all = auth::kDataWrite},
                 [echo](const http::Request&, const http::PathParams&, TenantContext& ctx,
                        const json::object&) { return echo(ctx); });
  std::string a = Body(Call("POST", "/api/v1/admin/tenants", R"({"name":"A","slug":"a"})")).at("id").as_string().c_str();
  std::string b = Body(Call("POST", "/api/v1/admin/tenants", R"({"name":"B","slug":"b"})")).at("id").as_string().c_str();
  auto key = [&](const std::string& tid, const char* scopes) {
    auto r = Call("POST", "/api/v1/api-keys",
                  R"({"name":"k","scopes":)" + std::string(scopes) + R"(,"tenant_id":")" + tid + "\"}");
    EXPECT_EQ(r.status, 201) << r.body;
    return std::string(Body(r).at("api_key").as_string());
  };
  const std::string key_a = key(a, R"(["data:write"])");
  const std::string reader_a = key(a, R"(["recommendations:read"])");
  auto tenant_of = [&](const http::Response& r) {
    return r.status == 200 ? std::string(Body(r).at("tenant").as_string()) : "status " + std::to_string(r.status);
  };

  // A tenant's credential: its own tenant, named or not; never another.
  EXPECT_EQ(tenant_of(Call("GET", "/probe", "", key_a)), a);
  EXPECT_EQ(tenant_of(Call("GET", "/probe?tenant_id=" + a, "", key_a)), a);
  auto r = Call("GET", "/probe?tenant_id=" + b, "", key_a);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(Body(r).at("error").at("code"), "tenant_mismatch");
  EXPECT_EQ(Call("POST", "/probe", R"({"tenant_id":")" + b + "\"}", key_a).status, 403);
  // The body's tenant_id is the one that counts for a JSON route.
  EXPECT_EQ(Call("POST", "/probe?tenant_id=" + a, R"({"tenant_id":")" + b + "\"}", key_a).status, 403);
  // The platform admin names the tenant, in the body or the query.
  EXPECT_EQ(Call("GET", "/probe").status, 400);
  EXPECT_EQ(tenant_of(Call("GET", "/probe?tenant_id=" + b)), b);
  EXPECT_EQ(tenant_of(Call("POST", "/probe?tenant_id=" + a, R"({"tenant_id":")" + b + "\"}")), b);
  // Permissions are checked before the tenant is: "any of" names the read permission.
  r = Call("GET", "/probe?tenant_id=" + b, "", reader_a);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(Body(r).at("error").at("code"), "insufficient_scope");
  EXPECT_NE(r.body.find("analytics:read"), std::string::npos) << r.body;
  // A broken body is answered before any tenant is resolved.
  EXPECT_EQ(Call("POST", "/probe", "{", key_a).status, 400);
}

}  // namespace
}  // namespace embedrec::api
