#include "http/router.h"

#include <gtest/gtest.h>

namespace embedrec::http {
namespace {

Handler Echo(std::string tag) {
  return [tag](const Request&, const PathParams&) {
    Response r;
    r.body = tag;
    return r;
  };
}

TEST(RouterTest, MatchesLiteralAndParameterSegments) {
  Router r;
  r.Add({"GET", "/api/v1/admin/tenants", "", ""}, Echo("list"));
  r.Add({"GET", "/api/v1/admin/tenants/{id}", "", ""}, Echo("get"));
  auto m = r.Find("GET", "/api/v1/admin/tenants/abc");
  ASSERT_EQ(m.outcome, Router::Outcome::kFound);
  EXPECT_EQ(m.params.Get("id"), "abc");
  EXPECT_EQ(m.route->handler(Request{}, m.params).body, "get");
  EXPECT_EQ(r.Find("GET", "/api/v1/admin/tenants").route->info.pattern, "/api/v1/admin/tenants");
}

TEST(RouterTest, UnknownPathIsNotFoundAndEmptyParamDoesNotMatch) {
  Router r;
  r.Add({"GET", "/a/{id}", "", ""}, Echo("x"));
  EXPECT_EQ(r.Find("GET", "/a/").outcome, Router::Outcome::kNotFound);
  EXPECT_EQ(r.Find("GET", "/a/b/c").outcome, Router::Outcome::kNotFound);
  EXPECT_EQ(r.Find("GET", "/b/1").outcome, Router::Outcome::kNotFound);
}

TEST(RouterTest, KnownPathWithOtherMethodListsAllowedMethods) {
  Router r;
  r.Add({"GET", "/a/{id}", "", ""}, Echo("get"));
  r.Add({"DELETE", "/a/{id}", "", ""}, Echo("del"));
  auto m = r.Find("PUT", "/a/1");
  EXPECT_EQ(m.outcome, Router::Outcome::kMethodNotAllowed);
  EXPECT_EQ(m.allowed, (std::vector<std::string>{"GET", "DELETE"}));
}

TEST(RouterTest, AllowedMethodsAreTheMostLiteralPatterns) {
  Router r;
  r.Add({"GET", "/m/traffic", "", ""}, Echo("traffic"));
  r.Add({"PUT", "/m/traffic", "", ""}, Echo("set"));
  r.Add({"DELETE", "/m/{version}", "", ""}, Echo("del"));
  auto m = r.Find("OPTIONS", "/m/traffic");
  EXPECT_EQ(m.outcome, Router::Outcome::kMethodNotAllowed);
  EXPECT_EQ(m.allowed, (std::vector<std::string>{"GET", "PUT"}));
  EXPECT_EQ(r.Find("OPTIONS", "/m/v1").allowed, (std::vector<std::string>{"DELETE"}));
}

TEST(RouterTest, HeadIsServedByGet) {
  Router r;
  r.Add({"GET", "/healthz", "", ""}, Echo("ok"));
  EXPECT_EQ(r.Find("HEAD", "/healthz").outcome, Router::Outcome::kFound);
}

TEST(RouterDeathTest, DuplicateRouteAborts) {
  Router r;
  r.Add({"GET", "/a", "", ""}, Echo("1"));
  EXPECT_DEATH(r.Add({"GET", "/a", "", ""}, Echo("2")), "duplicate route");
}

}  // namespace
}  // namespace embedrec::http
