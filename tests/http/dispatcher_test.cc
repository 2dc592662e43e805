#include "http/dispatcher.h"

#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "captured_log.h"

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

namespace embedrec::http {
namespace {

// A request answered past Options::slow_request after it arrived is logged
// with where the time went, at most kSlowLinesPerSecond lines a second, and
// counted; a fast one is not.
TEST(DispatcherSlowRequestTest, ASlowAnswerIsLoggedWithWhereItsTimeWent) {
  testing::CapturedLog log;
  Router router;
  MetricsRegistry metrics;
  FairThreadPool workers{1, 1};
  Dispatcher dispatcher{&router, {&workers}, &metrics,
                        Dispatcher::Options{.slow_request = std::chrono::milliseconds(100)}};
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  router.Add({"GET", "/hold", "", "t"}, [&](const Request&, const PathParams&) {
    released.wait();  // holds the only worker
    return Response{};
  });
  router.Add({"GET", "/queued", "", "t"}, [](const Request&, const PathParams&) { return Response{}; });
  std::thread answerer;
  router.Add({"GET", "/later", "", "t"}, [&](const Request&, const PathParams&) {
    return Later([&](std::function<void(Response)> send) {
      answerer = std::thread([send = std::move(send), released] {
        released.wait();
        send(Response{});
      });
    });
  });
  RouteInfo fast{"GET", "/fast", "", "t"};
  fast.blocking = false;
  router.Add(fast, [](const Request&, const PathParams&) { return Response{}; });
  auto call = [&](const std::string& target) {
    Request req;
    req.method = "GET";
    req.target = target;
    req.request_id = "req" + target.substr(1);
    auto answer = std::make_shared<std::promise<Response>>();
    auto f = answer->get_future();
    dispatcher.Handle(std::move(req), [answer](Response r) { answer->set_value(std::move(r)); });
    return f;
  };
  const auto start = std::chrono::steady_clock::now();
  auto hold = call("/hold");
  auto queued = call("/queued");
  EXPECT_EQ(call("/fast").wait_for(std::chrono::seconds(10)), std::future_status::ready);
  while (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(150)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // the time under test: a slow answer
  }
  release.set_value();
  ASSERT_EQ(hold.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  ASSERT_EQ(queued.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  // The deferred one: its handler returns at once, its answer comes 150 ms later.
  std::promise<void> release2;
  released = release2.get_future().share();
  const auto asked = std::chrono::steady_clock::now();
  auto later = call("/later");
  while (std::chrono::steady_clock::now() - asked < std::chrono::milliseconds(150)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  release2.set_value();
  ASSERT_EQ(later.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  answerer.join();

  const std::string text = log.Text();
  EXPECT_NE(text.find("slow request reqhold: GET /hold answered 200 after"), std::string::npos) << text;
  EXPECT_NE(text.find("slow request reqqueued: GET /queued answered 200 after"), std::string::npos) << text;
  EXPECT_NE(text.find("slow request reqlater: GET /later answered 200 after"), std::string::npos) << text;
  EXPECT_NE(text.find("until its deferred answer"), std::string::npos) << text;
  EXPECT_EQ(text.find("reqfast"), std::string::npos) << text;
  const size_t q = text.find("reqqueued");
  ASSERT_NE(q, std::string::npos);
  // /queued waited for the worker /hold held, and ran at once.
  const std::string line = text.substr(q, text.find('\n', q) - q);
  const size_t waited = line.find("(waited ");
  ASSERT_NE(waited, std::string::npos) << line;
  EXPECT_GE(std::stoi(line.substr(waited + 8)), 100) << line;
  EXPECT_NE(line.find("its handler ran 0 ms"), std::string::npos) << line;
  const std::string prom = metrics.RenderPrometheus();
  EXPECT_NE(prom.find("embedrec_http_slow_requests_total{route=\"/queued\"} 1"), std::string::npos) << prom;
  EXPECT_EQ(prom.find("embedrec_http_slow_requests_total{route=\"/fast\"}"), std::string::npos) << prom;
}

}  // namespace
}  // namespace embedrec::http
