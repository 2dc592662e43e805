// Streamed request bodies through the real server: a client that trickles
// its body is cut off once it is under the minimum rate.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "http/loopback.h"
#include "http/server.h"
#include "test_util.h"

namespace embedrec::http {
namespace {

// Reads the whole body, then answers 200 with its size, or 503 with the read's error (code: message).
class ReadAllHandler final : public RequestHandler {
 public:
  BodyPolicy BodyPolicyFor(std::string_view, std::string_view) const override { return {1 << 30, true}; }
  void Handle(Request req, std::function<void(Response)> done) override {
    std::thread([req = std::move(req), done = std::move(done)] {
      Response r;
      char buf[4096];
      size_t total = 0;
      while (true) {
        auto n = req.body_stream->Read(buf, sizeof buf);
        if (!n.ok()) {
          r.status = 503;
          r.body = std::string(StatusCodeName(n.status().code())) + ": " + n.status().message();
          break;
        }
        if (*n == 0) {
          r.body = std::to_string(total);
          break;
        }
        total += *n;
      }
      done(std::move(r));
    }).detach();
  }
};

class ServerBodyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions o;
    o.listeners = {{"test", 0}};
    o.threads = 1;
    o.min_body_bytes_per_second = 1000;
    o.min_body_rate_after = std::chrono::seconds(1);
    auto s = StartServer(o, &handler_);
    ASSERT_OK(s);
    server_ = std::move(*s);
  }
  void TearDown() override { server_->Shutdown(std::chrono::milliseconds(100)); }
  ReadAllHandler handler_;
  std::unique_ptr<Server> server_;
};

TEST_F(ServerBodyTest, ABodyTrickledUnderTheMinimumRateIsCutOff) {
  const int fd = testing::ConnectLoopback(server_->ports()[0]);
  const std::string head = "POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n";
  ASSERT_EQ(::send(fd, head.data(), head.size(), 0), static_cast<ssize_t>(head.size()));
  const auto start = std::chrono::steady_clock::now();
  // 10 bytes every 100 ms: 100 bytes/s, a tenth of the minimum.
  std::string got;
  char buf[4096];
  while (got.empty() && std::chrono::steady_clock::now() - start < std::chrono::seconds(10)) {
    if (::send(fd, "0123456789", 10, MSG_NOSIGNAL) != 10) break;  // the server closed
    std::this_thread::sleep_for(std::chrono::milliseconds(100));   // the client's pace, not a synchronisation
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);   // the answer, once there is one
    if (n > 0) got.append(buf, static_cast<size_t>(n));
  }
  ::shutdown(fd, SHUT_WR);  // done sending: the server's lingering read ends
  got += testing::ReadUntilClosed(fd);
  ::close(fd);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_NE(got.find(" 503 "), std::string::npos) << got;
  EXPECT_NE(got.find("too slowly"), std::string::npos) << got;
}

// Found by tests/fuzz/http_request_fuzz: a body cut short by the client read
// as "unavailable" (a 503, the server's fault) instead of the client's error.
TEST_F(ServerBodyTest, ABodyEndingBeforeItsLengthIsTheClientsError) {
  const int fd = testing::ConnectLoopback(server_->ports()[0]);
  const std::string req = "POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc";
  ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
  ::shutdown(fd, SHUT_WR);
  const std::string got = testing::ReadUntilClosed(fd);
  ::close(fd);
  EXPECT_NE(got.find("invalid_request: the request body ended before its declared end"), std::string::npos) << got;
}

TEST_F(ServerBodyTest, ABodyAtAGoodPaceIsReadWhole) {
  const int fd = testing::ConnectLoopback(server_->ports()[0]);
  const std::string body(200000, 'x');
  const std::string req = "POST /upload HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 200000\r\n\r\n" + body;
  ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
  const std::string got = testing::ReadUntilClosed(fd);
  ::close(fd);
  EXPECT_NE(got.find(" 200 "), std::string::npos) << got;
  EXPECT_NE(got.find("200000"), std::string::npos) << got;
}

}  // namespace
}  // namespace embedrec::http
