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
  Dispatcher dispatcher_{&router_, &pool_, &metrics_, Dispatcher::Options{}};
};

TEST_F(DispatcherTest, DeferredAnswerIsSentWhenReadyFromAnotherThread) {
  std::thread helper;
  router_.Add({"GET", "/later", "", "t"}, [&](const Request&, const PathParams&) {
    return Later([&](std::function<void(Response)> send) {
      helper = std::thread([send = std::move(send)] {
        Response r;
        r.status = 201;
        r.body = "done";
        send(std::move(r));
      });
    });
  });
  Response r = Call("/later");
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

}  // namespace
}  // namespace embedrec::http
