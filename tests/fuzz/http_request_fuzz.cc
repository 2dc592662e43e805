// The HTTP path we own, end to end over a loopback socket: the server's
// sessions (http/server.h: header limits, framing checks, body policies,
// streamed bodies, lingering close), the dispatcher and router (target
// parsing, %-decoding of path segments), and the declared checks of
// parameters and JSON bodies (http/declared.h). Any bytes are sent as one
// connection's requests, then the client stops sending. Properties: the
// server always finishes with the connection (no hang), every answer is an
// HTTP/1.1 status line, and no input makes it fail (5xx).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "common/fair_pool.h"
#include "common/log.h"
#include "common/metrics.h"
#include "fuzz_input.h"
#include "http/declared.h"
#include "http/dispatcher.h"
#include "http/errors.h"
#include "http/router.h"
#include "http/server.h"

namespace {
using namespace embedrec;

struct World {
  MetricsRegistry metrics;
  FairThreadPool pool{1, 1};
  http::Router router;
  std::unique_ptr<http::Dispatcher> dispatcher;
  std::unique_ptr<http::Server> server;
  int port = 0;
};
World* world = nullptr;
// The handler running now (for a report when the server stalls).
std::atomic<const char*> running_route{nullptr};
std::atomic<int64_t> running_since_ms{0};

// A route whose handler checks its declared parameters and body, as the API's do.
void AddChecked(http::RouteInfo info) {
  auto declared = std::make_shared<http::Declared>(http::Declared::Compile(info));
  const bool stream = info.stream_body;
  const char* route = strdup((info.method + " " + info.pattern).c_str());
  world->router.Add(std::move(info), [declared, stream, route](const http::Request& req,
                                                               const http::PathParams& params) -> http::Response {
    running_route = route;
    running_since_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now().time_since_epoch()).count();
    struct Done {
      ~Done() { running_route = nullptr; }
    } done;
    Status s = declared->CheckParams(req, params);
    if (s.ok() && declared->has_body()) s = declared->Body(req).status();
    if (s.ok() && stream) {
      char buf[4096];
      while (true) {
        auto n = req.body_stream->Read(buf, sizeof buf);
        if (!n.ok()) {
          s = n.status();
          break;
        }
        if (*n == 0) break;
      }
    }
    if (!s.ok()) return http::ErrorResponse(s, req.request_id);
    http::Response r;
    r.body = R"({"ok":true})";
    return r;
  });
}

void Start() {
  (void)InitLogging("off", "text");  // a log line per failed request would be most of the time
  world = new World;
  http::RouteInfo item{"GET", "/api/v1/items/{item_id}", "an item", "items"};
  item.params = {{.name = "item_id", .in = http::Param::In::kPath,
                  .schema = R"({"type":"string","minLength":1,"maxLength":256})", .required = true},
                 {.name = "limit", .schema = R"({"type":"integer","minimum":1,"maximum":100})"},
                 {.name = "sort", .schema = R"({"type":"string","enum":["new","top"]})"}};
  AddChecked(item);
  http::RouteInfo create{"POST", "/api/v1/items/{item_id}/events", "an event", "items"};
  create.params = {item.params[0]};
  create.body_limit = 4096;
  create.body_schema = R"({"type":"object","required":["type"],"properties":{
    "type":{"type":"string","enum":["view","purchase"]},"count":{"type":"integer","minimum":0,"maximum":5},
    "context":{"type":"object","properties":{"page":{"type":"string","maxLength":16}}},
    "tags":{"type":"array","maxItems":3,"items":{"type":"string"}}}})";
  AddChecked(create);
  http::RouteInfo upload{"POST", "/api/v1/uploads", "an upload", "uploads"};
  upload.stream_body = true;
  upload.body_limit = 1 << 16;
  upload.body_media = {"text/csv"};
  AddChecked(upload);
  http::RouteInfo quick{"GET", "/readyz", "ready", "system"};
  quick.blocking = false;
  AddChecked(quick);

  world->dispatcher = std::make_unique<http::Dispatcher>(
      &world->router, http::Dispatcher::Pools{&world->pool}, &world->metrics, http::Dispatcher::Options{});
  http::ServerOptions options;
  options.listeners = {{"gateway", 0}};
  options.threads = 1;
  options.idle_timeout = options.read_timeout = options.write_timeout = std::chrono::seconds(2);
  options.header_limit = 2048;
  auto server = http::StartServer(options, world->dispatcher.get());
  if (!server.ok()) {
    std::fprintf(stderr, "cannot start: %s\n", server.status().ToString().c_str());
    std::abort();
  }
  world->server = std::move(server).value();
  world->port = world->server->ports().at(0);
}

std::string Exchange(std::string_view bytes);

// The kernel's TCP recovery counters (TcpExt TCPTimeouts, TCPSynRetrans,
// TCPLossProbes; Tcp RetransSegs), summed: when they move while a connection
// stalls, the kernel was retransmitting, on loopback, which a server cannot cause.
long TcpRecoveries() {
  long total = 0;
  for (const char* file : {"/proc/net/netstat", "/proc/net/snmp"}) {
    FILE* f = std::fopen(file, "r");
    if (!f) continue;
    char names[8192], values[8192];
    while (std::fgets(names, sizeof names, f) && std::fgets(values, sizeof values, f)) {
      char *ns = nullptr, *vs = nullptr;
      char* n = strtok_r(names, " \n", &ns);
      char* v = strtok_r(values, " \n", &vs);
      for (; n && v; n = strtok_r(nullptr, " \n", &ns), v = strtok_r(nullptr, " \n", &vs)) {
        if (!std::strcmp(n, "TCPTimeouts") || !std::strcmp(n, "TCPSynRetrans") || !std::strcmp(n, "TCPLossProbes") ||
            !std::strcmp(n, "RetransSegs")) {
          total += std::atol(v);
        }
      }
    }
    std::fclose(f);
  }
  return total;
}

// A thread of this process that wakes every 50 ms: the longest it slept
// beyond that since `Reset` tells whether the process itself was held (no CPU
// for it on a loaded machine) while a connection seemed to stall. It also
// reads the kernel's TCP recovery counters at each wake (reading them on
// every input cost a fifth of the run).
class Heartbeat {
 public:
  Heartbeat() {
    std::thread([this] {
      while (true) {
        const int64_t before = NowMs();
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        const int64_t gap = NowMs() - before - 50;
        int64_t seen = longest_.load();
        while (gap > seen && !longest_.compare_exchange_weak(seen, gap)) {
        }
        recoveries_ = TcpRecoveries();
      }
    }).detach();
  }
  // The TCP recovery counters at most 50 ms ago.
  long recoveries() const { return recoveries_.load(); }
  void Reset() { longest_ = 0; }
  int64_t longest_ms() const { return longest_.load(); }

 private:
  static int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  std::atomic<int64_t> longest_{0};
  std::atomic<long> recoveries_{TcpRecoveries()};
};
Heartbeat* heartbeat = nullptr;

std::string Exchange(std::string_view bytes) {
  if (!heartbeat) heartbeat = new Heartbeat;
  const long recoveries_before = heartbeat->recoveries();
  const auto began = std::chrono::steady_clock::now();
  auto last_bytes = began;
  heartbeat->Reset();
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(world->port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // A loopback short of ports (other programs' connections beside this
  // one's thousands a second) refuses for a moment: tried again, up to 10 s.
  int fd = -1;
  for (int attempt = 0;; ++attempt) {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) break;
    const int err = errno;
    close(fd);
    if ((err != EADDRNOTAVAIL && err != EAGAIN && err != ECONNREFUSED && err != EINTR) || attempt == 1000) {
      std::fprintf(stderr, "cannot connect to the server: %s\n", std::strerror(err));
      std::abort();
    }
    usleep(10'000);
  }
  // libFuzzer's timer signal (SIGALRM, for -timeout) interrupts blocking
  // calls: EINTR is tried again, never taken for the server's doing.
  size_t at = 0;
  while (at < bytes.size()) {
    ssize_t n = send(fd, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the server answered early and closed: allowed
    at += static_cast<size_t>(n);
  }
  shutdown(fd, SHUT_WR);
  last_bytes = std::chrono::steady_clock::now();  // quiet from here on counts
  std::string answers;
  char buf[4096];
  // Up to 10 s for each next byte: far beyond the server's 2 s read timeout.
  constexpr int kQuietMs = 10'000;
  while (true) {
    pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
    const int ready = poll(&p, 1, static_cast<int>(std::max<long long>(
                                      0, kQuietMs - std::chrono::duration_cast<std::chrono::milliseconds>(
                                                        std::chrono::steady_clock::now() - last_bytes).count())));
    if (ready < 0 && errno == EINTR) continue;
    ssize_t n = ready > 0 ? recv(fd, buf, sizeof buf, 0) : -1;
    if (n < 0 && ready > 0 && errno == EINTR) continue;
    if (n == 0) break;
    if (n < 0 && ready > 0) {
      if (errno == ECONNRESET) break;
      std::fprintf(stderr, "reading the answer failed: %s\n", std::strerror(errno));
      __builtin_trap();
    }
    if (n < 0) {  // 10 s without a byte
      const char* r = running_route.load();
      const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::steady_clock::now().time_since_epoch()).count();
      std::fprintf(stderr, "the server kept the connection open for 10 s after the client stopped sending "
                           "(%zu bytes of answer so far; requests in flight: %lld; handler running: %s for %lld ms; "
                           "the kernel's TCP retransmissions and timeouts meanwhile: %ld)\n",
                   answers.size(), static_cast<long long>(world->server->in_flight()), r ? r : "none",
                   static_cast<long long>(r ? now_ms - running_since_ms.load() : 0),
                   TcpRecoveries() - recoveries_before);
      auto ago = [](std::chrono::steady_clock::time_point t) {
        return static_cast<long long>(
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t).count());
      };
      std::fprintf(stderr, "this exchange began %lld ms ago, its last answer bytes came %lld ms ago\n", ago(began),
                   ago(last_bytes));
      std::fprintf(stderr, "the server's connections:\n%s", world->server->DescribeConnections().c_str());
      std::fprintf(stderr, "this process's heartbeat thread overslept by up to %lld ms meanwhile\n",
                   static_cast<long long>(heartbeat->longest_ms()));
      __builtin_trap();
    }
    answers.append(buf, static_cast<size_t>(n));
    last_bytes = std::chrono::steady_clock::now();
  }
  // Closed with a reset once read: thousands of connections a second would
  // otherwise fill the loopback's ports with TIME_WAIT.
  linger abort{.l_onoff = 1, .l_linger = 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
  close(fd);
  return answers;
}
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  Start();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string answers = Exchange(std::string_view(reinterpret_cast<const char*>(data), size));
  if (answers.empty()) return 0;
  fuzz::Check(answers.rfind("HTTP/1.1 ", 0) == 0);
  // Status lines start the answer or follow a line end (a JSON body has no raw line end).
  for (size_t at = 0; at != std::string::npos; at = answers.find("\nHTTP/1.1 ", at + 1)) {
    size_t status = answers.find(' ', at) + 1;
    fuzz::Check(answers.compare(status, 1, "5") != 0);
  }
  return 0;
}
