// Handler-level tests: the real route table and stores, no sockets.
#include <boost/json.hpp>
#include <set>

#include "api/call.h"
#include "auth/api_key.h"
#include "common/fair_pool.h"
#include "http/dispatcher.h"
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
    deps_ = {control_.get(), tenants_.get(), authn_.get(), sessions_.get(), &clock_, &metrics_};
    deps_.settings = settings_.get();
    tenant_service_ = std::make_unique<tenants::TenantService>(control_.get(), tenants_.get(), &clock_);
    tenant_service_->AddHooks({.changed = [this](const std::string& id) {
      authn_->Invalidate();
      settings_->Invalidate(id);
    }});
    deps_.tenant_service = tenant_service_.get();
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
  Deps deps_;
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

}  // namespace
}  // namespace embedrec::api
