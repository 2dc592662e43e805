// A network thread a handler blocks is noticed (ServerOptions::stall_warning):
// counted and logged with its stack; the server answers again afterwards.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mutex>
#include <string>
#include <thread>

#include "captured_log.h"
#include "http/loopback.h"
#include "http/server.h"
#include "test_util.h"

namespace embedrec::http {
namespace {

// Answers on the network thread; /block waits there (against the contract:
// what the watchdog is for) until the test opens the gate.
class BlockingHandler final : public RequestHandler {
 public:
  BodyPolicy BodyPolicyFor(std::string_view, std::string_view) const override { return {1 << 20, false}; }
  void Handle(Request req, std::function<void(Response)> done) override {
    if (req.target == "/block") std::lock_guard wait(gate);
    Response r;
    r.content_type = "text/plain";
    r.body = "ok";
    done(std::move(r));
  }
  std::mutex gate;
};

using testing::Eventually;

// A server on one listener whose network threads the watchdog watches.
std::unique_ptr<Server> StartWatched(RequestHandler* handler, int threads, std::chrono::milliseconds stall) {
  ServerOptions o;
  o.listeners = {{"test", 0}};
  o.threads = threads;
  o.stall_warning = stall;
  auto s = StartServer(o, handler);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(*s) : nullptr;
}

std::string Get(int port, const std::string& target) {
  const int fd = testing::ConnectLoopback(port);
  const std::string req = "GET " + target + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
  EXPECT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
  std::string got = testing::ReadUntilClosed(fd);
  ::close(fd);
  return got;
}

TEST(ServerStallTest, ANetworkThreadABlockedHandlerHoldsIsCountedAndLoggedWithItsStack) {
  testing::CapturedLog log;
  BlockingHandler handler;
  auto server = StartWatched(&handler, 1, std::chrono::milliseconds(100));
  ASSERT_TRUE(server);
  const int port = server->ports()[0];
  EXPECT_NE(Get(port, "/a").find("200 OK"), std::string::npos);
  EXPECT_EQ(server->stalls(), 0);

  std::unique_lock closed(handler.gate);
  std::string blocked_answer;
  std::thread client([&] { blocked_answer = Get(port, "/block"); });
  ASSERT_TRUE(Eventually([&] { return server->stalls() == 1; }));
  ASSERT_TRUE(Eventually([&] { return log.Text().find("its stack:") != std::string::npos; })) << log.Text();
  closed.unlock();
  client.join();
  EXPECT_NE(blocked_answer.find("200 OK"), std::string::npos);
  ASSERT_TRUE(Eventually([&] { return log.Text().find("ran again after") != std::string::npos; })) << log.Text();
  const std::string text = log.Text();
  EXPECT_NE(text.find("network thread 0 has run nothing for"), std::string::npos) << text;
  EXPECT_NE(text.find("lock"), std::string::npos) << text;  // where it waited
  // ... inside which of the program's own functions, named from its symbol table
  EXPECT_NE(text.find("BlockingHandler::Handle("), std::string::npos) << text;
  EXPECT_NE(Get(port, "/b").find("200 OK"), std::string::npos);
  EXPECT_EQ(server->stalls(), 1);
  server->Shutdown(std::chrono::milliseconds(100));
}

TEST(ServerStallTest, AnIdleServerIsNeverReportedStalled) {
  BlockingHandler handler;
  auto server = StartWatched(&handler, 2, std::chrono::milliseconds(50));
  ASSERT_TRUE(server);
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
  ASSERT_TRUE(Eventually([&] { return std::chrono::steady_clock::now() >= until; }));
  EXPECT_EQ(server->stalls(), 0);
  server->Shutdown(std::chrono::milliseconds(100));
}

}  // namespace
}  // namespace embedrec::http
