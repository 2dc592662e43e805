#include "http/dispatcher.h"

#include <gtest/gtest.h>

#include <future>
#include <thread>

namespace embedrec::http {
namespace {

class DispatcherTest : public ::testing::Test {
 protected:
  Response Call(const std::string& target) {
    Request req;
    req.method = "GET";
    req.target = target;
    req.request_id = "req-1";
    std::promise<Response> answer;
    dispatcher_.Handle(std::move(req), [&](Response r) { answer.set_value(std::move(r)); });
    auto f = answer.get_future();
    EXPECT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    return f.get();
  }
  Router router_;
  MetricsRegistry metrics_;
  FairThreadPool pool_{2, 2};
  Dispatcher dispatcher_{&router_, {&pool_}, &metrics_, Dispatcher::Options{}};
};

TEST_F(DispatcherTest, DeferredAnswerIsSentWhenReadyFromAnotherThread) {
  std::thread helper;
  std::promise<void> kept;  // `helper` is assigned (the answer may come before that)
  router_.Add({"GET", "/later", "", "t"}, [&](const Request&, const PathParams&) {
    return Later([&](std::function<void(Response)> send) {
      helper = std::thread([send = std::move(send)] {
        Response r;
        r.status = 201;
        r.body = "done";
        send(std::move(r));
      });
      kept.set_value();
    });
  });
  Response r = Call("/later");
  kept.get_future().wait();
  helper.join();
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, "done");
  EXPECT_FALSE(r.later);
  EXPECT_NE(metrics_.RenderPrometheus().find("route=\"/later\""), std::string::npos);
}

TEST_F(DispatcherTest, InlinePredicateChoosesTheNetworkThread) {
  std::thread::id ran_on;
  RouteInfo info{"GET", "/maybe", "", "t"};
  info.inline_if = [](const Request& req) { return req.target == "/maybe?inline"; };
  router_.Add(info, [&](const Request&, const PathParams&) {
    ran_on = std::this_thread::get_id();
    return Response{};
  });
  EXPECT_EQ(Call("/maybe?inline").status, 200);
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  EXPECT_EQ(Call("/maybe").status, 200);
  EXPECT_NE(ran_on, std::this_thread::get_id());  // a worker
}

// Slow routes (and fast ones while their tenant is cold) wait in the slow
// lane: a full slow lane never holds a warm request back.
TEST(DispatcherSlowLaneTest, SlowWorkNeverHoldsTheWorkers) {
  Router router;
  MetricsRegistry metrics;
  FairThreadPool workers{1, 1}, slow_lane{1, 1};
  Dispatcher dispatcher{&router, {&workers, &slow_lane}, &metrics,
                        Dispatcher::Options{.queue_key = [](const Request& req) {
                          return std::string(req.Header("x-tenant"));
                        }}};
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  RouteInfo report{"GET", "/report", "", "t"};
  report.slow = true;
  router.Add(report, [&](const Request&, const PathParams&) {
    released.wait();
    return Response{};
  });
  RouteInfo recs{"GET", "/recs", "", "t"};
  recs.slow_if = [](const Request&, const std::string& tenant) { return tenant == "cold"; };
  router.Add(recs, [&](const Request& req, const PathParams&) {
    if (req.Header("x-tenant") == "cold") released.wait();  // loading its state
    return Response{};
  });
  auto call = [&](const std::string& target, const std::string& tenant) {
    Request req;
    req.method = "GET";
    req.target = target;
    req.headers.emplace_back("x-tenant", tenant);
    auto answer = std::make_shared<std::promise<Response>>();
    auto f = answer->get_future();
    dispatcher.Handle(std::move(req), [answer](Response r) { answer->set_value(std::move(r)); });
    return f;
  };
  auto slow = call("/report", "big");     // takes the slow lane's only thread
  auto cold = call("/recs", "cold");       // waits behind it, in the slow lane
  // A warm request of another tenant still runs: on the worker, at once.
  auto warm = call("/recs", "warm");
  ASSERT_EQ(warm.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(warm.get().status, 200);
  EXPECT_EQ(cold.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  release.set_value();
  ASSERT_EQ(slow.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  ASSERT_EQ(cold.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_NE(metrics.RenderPrometheus().find("embedrec_http_slow_lane_total{route=\"/recs\"} 1"),
            std::string::npos);
}

TEST(DispatcherInFlightTest, ATenantPastItsRequestsInFlightIsRefusedAndOthersAreNot) {
  Router router;
  MetricsRegistry metrics;
  FairThreadPool workers{4, 4};
  Dispatcher dispatcher{&router, {&workers}, &metrics,
                        Dispatcher::Options{.queue_key = [](const Request& req) {
                                              return std::string(req.Header("x-tenant"));
                                            },
                                            .max_in_flight_per_key = 2}};
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  router.Add({"GET", "/work", "", "t"}, [&](const Request& req, const PathParams&) {
    if (req.Header("x-tenant") == "busy") released.wait();
    return Response{};
  });
  auto call = [&](const std::string& tenant) {
    Request req;
    req.method = "GET";
    req.target = "/work";
    req.headers.emplace_back("x-tenant", tenant);
    auto answer = std::make_shared<std::promise<Response>>();
    auto f = answer->get_future();
    dispatcher.Handle(std::move(req), [answer](Response r) { answer->set_value(std::move(r)); });
    return f;
  };
  auto first = call("busy"), second = call("busy");
  auto third = call("busy");  // two in flight already: refused at once
  ASSERT_EQ(third.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  Response refused = third.get();
  EXPECT_EQ(refused.status, 429);
  EXPECT_NE(refused.body.find("too_many_in_flight"), std::string::npos) << refused.body;
  bool retry_after = false;
  for (const auto& [k, v] : refused.headers) retry_after = retry_after || (k == "Retry-After" && v == "1");
  EXPECT_TRUE(retry_after);
  auto other = call("calm");  // another tenant is not counted with it
  ASSERT_EQ(other.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(other.get().status, 200);
  release.set_value();
  EXPECT_EQ(first.get().status, 200);
  EXPECT_EQ(second.get().status, 200);
  EXPECT_EQ(call("busy").get().status, 200);  // its slots are back
}

}  // namespace
}  // namespace embedrec::http
