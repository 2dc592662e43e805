// The answer's status line and header as the server writes them: lengths,
// no body where HTTP has none (a HEAD's says the GET's length), a header set twice sent once (the last),
// values kept to one line, keep-alive and "Connection: close".
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "http/loopback.h"
#include "http/server.h"
#include "test_util.h"

namespace embedrec::http {
namespace {

// Answers on the network thread: /204 with no content, /twice with a header
// set twice and one whose value holds a line break, anything else 200 "hello".
class AnswerHandler final : public RequestHandler {
 public:
  BodyPolicy BodyPolicyFor(std::string_view, std::string_view) const override { return {1 << 20, false}; }
  void Handle(Request req, std::function<void(Response)> done) override {
    Response r;
    r.content_type = "text/plain";
    if (req.target == "/204") {
      r.status = 204;
      r.body = "dropped";  // a 204 has no body, whatever the handler says
    } else if (req.target == "/twice") {
      r.headers = {{"Vary", "Accept-Encoding"}, {"X-Note", "a\r\nSet-Cookie: evil=1"}, {"vary", "Origin"}};
      r.body = "twice";
    } else {
      r.body = "hello";
    }
    done(std::move(r));
  }
};

class ServerAnswerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions o;
    o.listeners = {{"test", 0}};
    o.threads = 1;
    auto s = StartServer(o, &handler_);
    ASSERT_OK(s);
    server_ = std::move(*s);
  }
  void TearDown() override { server_->Shutdown(std::chrono::milliseconds(100)); }
  // Sends `requests` on one connection, then reads until the server closes.
  std::string Exchange(const std::string& requests) {
    const int fd = testing::ConnectLoopback(server_->ports()[0]);
    EXPECT_EQ(::send(fd, requests.data(), requests.size(), MSG_NOSIGNAL), static_cast<ssize_t>(requests.size()));
    std::string got = testing::ReadUntilClosed(fd);
    ::close(fd);
    return got;
  }
  AnswerHandler handler_;
  std::unique_ptr<Server> server_;
};

TEST_F(ServerAnswerTest, KeptAliveAnswersCarryTheirLengthAndTheLastOneSaysClose) {
  const std::string got = Exchange(
      "GET /a HTTP/1.1\r\nHost: t\r\n\r\n"
      "GET /b HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  const size_t second = got.find("HTTP/1.1 200 OK\r\n", 1);
  ASSERT_EQ(got.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << got;
  ASSERT_NE(second, std::string::npos) << got;
  const std::string first = got.substr(0, second), last = got.substr(second);
  EXPECT_NE(first.find("Content-Length: 5\r\n"), std::string::npos) << first;
  EXPECT_NE(first.find("Content-Type: text/plain\r\n"), std::string::npos) << first;
  EXPECT_NE(first.find("X-Request-Id: req_"), std::string::npos) << first;
  EXPECT_EQ(first.find("Connection:"), std::string::npos) << first;
  EXPECT_TRUE(first.ends_with("\r\n\r\nhello")) << first;
  EXPECT_NE(last.find("Connection: close\r\n"), std::string::npos) << last;
  EXPECT_TRUE(last.ends_with("\r\n\r\nhello")) << last;
}

TEST_F(ServerAnswerTest, AHeadAnswerSaysTheGetsLengthAndSendsNoBody) {
  // Kept alive: the GET after it must be read right after the HEAD's header.
  const std::string got = Exchange(
      "HEAD /a HTTP/1.1\r\nHost: t\r\n\r\n"
      "GET /a HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  const size_t second = got.find("HTTP/1.1 200 OK\r\n", 1);
  ASSERT_NE(second, std::string::npos) << got;
  const std::string head = got.substr(0, second);
  EXPECT_NE(head.find("Content-Length: 5\r\n"), std::string::npos) << head;
  EXPECT_TRUE(head.ends_with("\r\n\r\n")) << head;
  EXPECT_TRUE(got.ends_with("\r\n\r\nhello")) << got;
}

TEST_F(ServerAnswerTest, NoContentHasNeitherBodyNorLength) {
  const std::string got = Exchange("GET /204 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(got.rfind("HTTP/1.1 204 No Content\r\n", 0), 0u) << got;
  EXPECT_EQ(got.find("Content-Length"), std::string::npos) << got;
  EXPECT_TRUE(got.ends_with("\r\n\r\n")) << got;
}

TEST_F(ServerAnswerTest, AHeaderSetTwiceIsSentOnceAndAValueCannotAddALine) {
  const std::string got = Exchange("GET /twice HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(got.find("Accept-Encoding"), std::string::npos) << got;
  EXPECT_NE(got.find("\r\nvary: Origin\r\n"), std::string::npos) << got;
  EXPECT_NE(got.find("\r\nX-Note: a  Set-Cookie: evil=1\r\n"), std::string::npos) << got;
  EXPECT_EQ(got.find("\r\nSet-Cookie"), std::string::npos) << got;
  EXPECT_TRUE(got.ends_with("\r\n\r\ntwice")) << got;
}

}  // namespace
}  // namespace embedrec::http
