// A streamed response (Server-Sent Events) keeps its producer's order even
// when the producer hands over from the network thread to another one: the
// bytes written inside the stream callback come before those written by
// the other thread afterwards.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <string>
#include <thread>

#include "http/loopback.h"
#include "http/server.h"
#include "test_util.h"

namespace embedrec::http {
namespace {

class HandOverHandler final : public RequestHandler {
 public:
  BodyPolicy BodyPolicyFor(std::string_view, std::string_view) const override { return {1024, false}; }
  void Handle(Request, std::function<void(Response)> done) override {
    Response r;
    r.content_type = "text/event-stream";
    r.stream = [this](std::shared_ptr<ResponseStream> s) {
      s->Write("data: first\n\n");  // on the network thread, inside the callback
      std::promise<void> written;
      producer_ = std::thread([s, &written] {
        s->Write("data: second\n\n");
        s->Close();
        written.set_value();
      });
      written.get_future().wait();  // the other thread has written before this callback returns
    };
    done(std::move(r));
  }
  ~HandOverHandler() override {
    if (producer_.joinable()) producer_.join();
  }

 private:
  std::thread producer_;
};

std::string Get(int port, const std::string& path) {
  const int fd = testing::ConnectLoopback(port);
  const std::string req = "GET " + path + " HTTP/1.1\r\nHost: test\r\n\r\n";
  EXPECT_EQ(::send(fd, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
  std::string out = testing::ReadUntilClosed(fd);
  ::close(fd);
  return out;
}

TEST(ServerStreamTest, BytesWrittenOnTheNetworkThreadStayAheadOfLaterOnes) {
  HandOverHandler handler;
  ServerOptions o;
  o.listeners = {{"test", 0}};
  o.threads = 1;
  auto server = StartServer(o, &handler);
  ASSERT_OK(server);
  const std::string got = Get((*server)->ports()[0], "/events");
  const size_t first = got.find("data: first"), second = got.find("data: second");
  ASSERT_NE(first, std::string::npos) << got;
  ASSERT_NE(second, std::string::npos) << got;
  EXPECT_LT(first, second) << got;
  (*server)->Shutdown(std::chrono::milliseconds(100));
}

}  // namespace
}  // namespace embedrec::http
