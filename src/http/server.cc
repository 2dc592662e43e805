#include "http/server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "common/random.h"
#include "common/watchdog.h"
#include "http/errors.h"

namespace embedrec::http {
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

class ServerImpl;

// Appends a header field, its value kept to one line: a handler's value
// (a Retry-After, a Location) cannot split the answer.
void AppendField(std::string& out, std::string_view name, std::string_view value) {
  out.append(name).append(": ");
  for (char c : value) out.push_back(c == '\r' || c == '\n' || c == '\0' ? ' ' : c);
  out.append("\r\n");
}

// 1xx, 204 and 304 answers have no body (RFC 9110 §6.4.1).
bool HasBody(int status) { return status >= 200 && status != 204 && status != 304; }

// An answer's status line and header, written straight into `out` (its room
// reused from one answer to the next): what Beast's serializer did, without
// its per-field allocations and buffer sequences, which cost a tenth of a
// small request's time. Content-Length as Beast's prepare_payload set it (none
// for 1xx, 204 and 304); "Connection: close" when the connection ends after it.
void WriteHead(std::string& out, int status, std::string_view server, std::string_view content_type,
               std::string_view request_id, const Fields& headers, size_t body_size, bool keep_alive) {
  out.clear();
  out.append("HTTP/1.1 ");
  char num[24];
  auto end = std::to_chars(num, num + sizeof num, status).ptr;
  out.append(num, end).push_back(' ');
  out.append(bhttp::obsolete_reason(bhttp::int_to_status(static_cast<unsigned>(status))));
  out.append("\r\n");
  AppendField(out, "Server", server);
  if (!content_type.empty()) AppendField(out, "Content-Type", content_type);
  AppendField(out, "X-Request-Id", request_id);
  for (size_t i = 0; i < headers.size(); ++i) {
    // A name set again later replaces it (as Beast's set() did: a CORS
    // layer's Vary or Access-Control-Allow-Origin over a handler's).
    bool replaced = false;
    for (size_t j = i + 1; j < headers.size() && !replaced; ++j) {
      replaced = boost::beast::iequals(headers[i].first, headers[j].first);
    }
    if (!replaced) AppendField(out, headers[i].first, headers[i].second);
  }
  if (HasBody(status)) {
    end = std::to_chars(num, num + sizeof num, body_size).ptr;
    AppendField(out, "Content-Length", std::string_view(num, static_cast<size_t>(end - num)));
  }
  if (!keep_alive) out.append("Connection: close\r\n");
  out.append("\r\n");
}

bool SaneRequestId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

class Session : public std::enable_shared_from_this<Session>, public ConnectionThread {
 public:
  Session(tcp::socket&& socket, ServerImpl* server, const std::string* listener)
      : stream_(std::move(socket)), server_(server), listener_(listener) {}
  ~Session();

  void Start(uint64_t id);
  // Called (posted) at shutdown: closes the connection if it is waiting for a request.
  void OnShutdown();
  // Where the connection is (any thread; for diagnostics).
  std::string Describe() const;
  // ConnectionThread: at once on the session's thread, else posted to it.
  void Run(std::function<void()> fn) override { net::dispatch(stream_.get_executor(), std::move(fn)); }

 private:
  void ReadHeader();
  void OnHeader(beast::error_code ec, size_t);
  void OnBody(beast::error_code ec, size_t);
  void ReadBody(const RequestHandler::BodyPolicy& policy);
  void Dispatch(const bhttp::request_header<>& header, std::string body, bool keep_alive);
 public:
  // Streaming bodies: runs on the session's thread; calls `done` with the
  // number of body bytes placed in `buf` (0: the body has ended).
  void ReadBodySome(char* buf, size_t n, std::function<void(StatusOr<size_t>)> done);
  net::any_io_executor executor() { return stream_.get_executor(); }
  // Streamed responses (on the session's thread): queue a chunk, end after
  // what is queued, run `fn` when the stream has ended.
  void StreamWrite(std::string bytes);
  void StreamClose();
  void StreamOnEnd(std::function<void()> fn);

 private:
  void Reply(Response r, bool close);
  void OnWrite(bool close, beast::error_code ec, size_t);
  void StartStream(Response r);
  void PumpStream();
  void ProbeClient();
  void Heartbeat();
  void EndStream();
  void Close();
  // After an answer sent before the request's body was read (401, 403,
  // 413…): the answer is complete (FIN), then what the client still sends is
  // read and dropped for a bounded time before the socket closes, so a
  // client that writes its whole body before reading (Python's urllib) gets
  // the answer instead of a reset.
  void LingeringClose();
  void Drain();
  // Bytes of a next request are buffered or waiting in the kernel.
  bool RequestWaiting();

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  // The header is read with header_parser_; the body then with parser_
  // (whole, into a string) or stream_parser_ (piecewise, for streaming routes).
  std::optional<bhttp::request_parser<bhttp::empty_body>> header_parser_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::optional<bhttp::request_parser<bhttp::buffer_body>> stream_parser_;
  bool streaming_ = false;
  bool body_broken_ = false;
  bool head_request_ = false;  // the request is a HEAD: its answer's header says the GET's length, no body follows
  // The answer being written: its status line and header, and its body.
  std::string answer_head_, body_;
  ServerImpl* server_;
  const std::string* listener_;
  std::string request_id_;
  std::string remote_addr_;
  bool idle_ = false;
  bool counted_ = false;
  bool linger_ = false;  // close with LingeringClose: the body was not read to its end
  // A streamed body's pace: bytes and the time spent waiting for them.
  int64_t body_bytes_ = 0;
  std::chrono::steady_clock::duration body_wait_{};
  int64_t drained_ = 0;
  std::chrono::steady_clock::time_point linger_until_;
  std::unique_ptr<std::array<char, 65536>> drain_buf_;
  static constexpr auto kLingerRead = std::chrono::seconds(2);   // each read must bring bytes within
  static constexpr auto kLingerTotal = std::chrono::seconds(10);
  static constexpr int64_t kLingerMaxBytes = int64_t{256} << 20;
  static constexpr size_t kKeptBody = size_t{64} << 10;  // a larger body's room is freed once sent
  uint64_t id_ = 0;
  // Where the connection is, for Describe (written on its thread, read anywhere).
  enum class Phase : uint8_t { kHeader, kBody, kHandler, kBodyRead, kContinue, kWrite, kStream, kLinger, kClosed };
  // The last kHistory phases, each packed as (ms << 8 | phase), oldest overwritten.
  static constexpr int kHistory = 32;
  std::array<std::atomic<uint64_t>, kHistory> history_{};
  std::atomic<uint32_t> entered_{0};
  // The step the connection spent longest in, packed the same way (ms: how long).
  std::atomic<uint64_t> longest_{0};
  void Enter(Phase p) {
    const uint64_t ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                  std::chrono::steady_clock::now().time_since_epoch()).count());
    const uint32_t n = entered_.load(std::memory_order_relaxed);
    if (n > 0) {
      const uint64_t last = history_[(n - 1) % kHistory].load(std::memory_order_relaxed);
      const uint64_t dwell = ms - (last >> 8);
      if (dwell > (longest_.load(std::memory_order_relaxed) >> 8)) {
        longest_.store(dwell << 8 | (last & 0xff), std::memory_order_relaxed);
      }
    }
    history_[n % kHistory].store(ms << 8 | static_cast<uint8_t>(p), std::memory_order_relaxed);
    entered_.store(n + 1, std::memory_order_release);
  }

 public:
  // A streamed response in progress (Response::stream).
  struct StreamState {
    std::shared_ptr<bhttp::response<bhttp::empty_body>> header;
    std::shared_ptr<bhttp::response_serializer<bhttp::empty_body>> serializer;
    std::deque<std::string> out;
    bool header_sent = false, writing = false, closing = false;
    std::vector<std::function<void()>> on_end;
    std::string heartbeat;
    bool wrote_since_beat = false;
    std::unique_ptr<net::steady_timer> timer;
    std::array<char, 512> probe;
    std::shared_ptr<std::atomic<bool>> ended = std::make_shared<std::atomic<bool>>(false);
    std::shared_ptr<std::atomic<int64_t>> unsent = std::make_shared<std::atomic<int64_t>>(0);
  };

 private:
  std::unique_ptr<StreamState> sse_;
};

class ServerImpl final : public Server {
 public:
  ServerImpl(const ServerOptions& options, RequestHandler* handler)
      : options_(options), handler_(handler) {
    // One single-threaded io_context per network thread: a connection lives on
    // one thread, so no strands, locks or cross-thread wake-ups on its path.
    for (int i = 0; i < std::max(1, options.threads); ++i) {
      iocs_.push_back(std::make_unique<net::io_context>(1));
      work_.push_back(net::make_work_guard(*iocs_.back()));
      beats_.push_back(std::make_unique<net::steady_timer>(*iocs_.back()));
    }
    if (options.stall_warning.count() > 0) {
      watchdog_ = std::make_unique<Watchdog>(Watchdog::Options{.stall = options.stall_warning});
    }
  }
  ~ServerImpl() override {
    Shutdown(std::chrono::milliseconds(0));
    // Destroy pending handlers (and the sessions they hold) while the members
    // sessions use are still alive.
    acceptors_.clear();
    beats_.clear();
    iocs_.clear();
  }

  Status Bind() {
    auto addr = net::ip::make_address(options_.bind);
    for (const auto& spec : options_.listeners) {
      auto acc = std::make_unique<tcp::acceptor>(*iocs_[0]);
      beast::error_code ec;
      tcp::endpoint ep(addr, static_cast<unsigned short>(spec.port));
      acc->open(ep.protocol(), ec);
      if (!ec) acc->set_option(net::socket_base::reuse_address(true), ec);
      if (!ec) acc->bind(ep, ec);
      if (!ec) acc->listen(net::socket_base::max_listen_connections, ec);
      if (ec) {
        return Status::Unavailable("cannot listen on " + options_.bind + ":" +
                                   std::to_string(spec.port) + " (" + spec.name +
                                   "): " + ec.message());
      }
      ports_.push_back(acc->local_endpoint().port());
      names_.push_back(spec.name);
      acceptors_.push_back(std::move(acc));
    }
    return Status::Ok();
  }

  void Run() {
    for (size_t i = 0; i < acceptors_.size(); ++i) Accept(i);
    for (size_t i = 0; i < iocs_.size(); ++i) {
      threads_.emplace_back([this, i] {
        // Watched from its own thread; its beats come from its own loop, so a
        // handler that blocks the loop silences them.
        const int slot = watchdog_ ? watchdog_->Watch("network thread " + std::to_string(i)) : -1;
        if (watchdog_) Beat(i, slot);
        iocs_[i]->run();
        if (watchdog_) watchdog_->Forget(slot);
      });
    }
  }

  std::vector<int> ports() const override { return ports_; }
  int64_t in_flight() const override { return in_flight_.load(); }
  int64_t stalls() const override { return watchdog_ ? watchdog_->stalls() : 0; }
  std::string DescribeConnections() const override {
    std::vector<std::shared_ptr<Session>> live;
    {
      std::lock_guard lock(sessions_mu_);
      for (const auto& [id, weak] : sessions_) {
        if (auto s = weak.lock()) live.push_back(std::move(s));
      }
    }
    std::string out;
    for (const auto& s : live) out += s->Describe() + "\n";
    live.clear();  // outside the lock: dropping the last reference runs ~Session, which locks it
    return out;
  }

  void Shutdown(std::chrono::milliseconds grace) override {
    if (stopping_.exchange(true)) return;
    for (auto& acc : acceptors_) {
      net::post(acc->get_executor(), [a = acc.get()] {
        beast::error_code ec;
        a->close(ec);
      });
    }
    std::vector<std::shared_ptr<Session>> live;
    {
      std::lock_guard lock(sessions_mu_);
      for (auto& [id, weak] : sessions_) {
        if (auto s = weak.lock()) live.push_back(std::move(s));
      }
    }
    // Outside the lock: dropping the last reference runs ~Session, which locks it.
    for (auto& s : live) s->OnShutdown();
    live.clear();
    auto deadline = std::chrono::steady_clock::now() + grace;
    while (in_flight_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // bounded wait for drain
    }
    work_.clear();
    for (auto& ioc : iocs_) ioc->stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  bool stopping() const { return stopping_.load(); }
  const ServerOptions& options() const { return options_; }
  RequestHandler* handler() { return handler_; }
  void RequestStarted() { in_flight_.fetch_add(1); }
  void RequestFinished() { in_flight_.fetch_sub(1); }
  void Forget(uint64_t id) {
    std::lock_guard lock(sessions_mu_);
    sessions_.erase(id);
  }

 private:
  // Network thread i's beat, then the next one a fifth of the stall later.
  void Beat(size_t i, int slot) {
    watchdog_->Beat(slot);
    const auto period = std::clamp(watchdog_->stall() / 5, std::chrono::milliseconds(10), std::chrono::milliseconds(250));
    beats_[i]->expires_after(period);
    beats_[i]->async_wait([this, i, slot](beast::error_code ec) {
      if (!ec) Beat(i, slot);
    });
  }

  void Accept(size_t i) {
    acceptors_[i]->async_accept(
        *iocs_[next_ioc_++ % iocs_.size()], [this, i](beast::error_code ec, tcp::socket socket) {
          if (ec) {
            if (ec == net::error::operation_aborted || stopping()) return;
            spdlog::warn("accept on {} failed: {}", names_[i], ec.message());
          } else {
            socket.set_option(tcp::no_delay(true), ec);
            auto s = std::make_shared<Session>(std::move(socket), this, &names_[i]);
            uint64_t id = next_id_.fetch_add(1);
            {
              std::lock_guard lock(sessions_mu_);
              sessions_[id] = s;
            }
            s->Start(id);
          }
          if (!stopping()) Accept(i);
        });
  }

  ServerOptions options_;
  RequestHandler* handler_;
  std::vector<std::unique_ptr<net::io_context>> iocs_;
  std::vector<std::unique_ptr<net::steady_timer>> beats_;  // one per network thread, for the watchdog
  std::unique_ptr<Watchdog> watchdog_;                      // null: not watched
  size_t next_ioc_ = 0;  // only touched by the accepting thread
  // Keeps the network threads running while requests wait on workers with no
  // socket operation pending (otherwise run() would return during a drain).
  std::vector<net::executor_work_guard<net::io_context::executor_type>> work_;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors_;
  std::vector<int> ports_;
  std::vector<std::string> names_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> in_flight_{0};
  std::atomic<uint64_t> next_id_{1};
  mutable std::mutex sessions_mu_;
  std::unordered_map<uint64_t, std::weak_ptr<Session>> sessions_;
};

Session::~Session() {
  if (counted_) server_->RequestFinished();
  server_->Forget(id_);
}

bool Session::RequestWaiting() {
  if (buffer_.size() > 0) return true;
  beast::error_code ec;
  return stream_.socket().available(ec) > 0 && !ec;
}

void Session::Start(uint64_t id) {
  id_ = id;
  beast::error_code ec;
  auto ep = stream_.socket().remote_endpoint(ec);
  if (!ec) remote_addr_ = ep.address().to_string();
  net::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::ReadHeader,
                                                                  shared_from_this()));
}

void Session::OnShutdown() {
  net::post(stream_.get_executor(), [self = shared_from_this()] {
    // Close only connections with nothing to answer: a request that has
    // arrived is still served.
    if (self->idle_ && !self->RequestWaiting()) self->Close();
    if (self->sse_) self->StreamClose();  // a live stream ends with the server
  });
}

void Session::ReadHeader() {
  if (server_->stopping() && !RequestWaiting()) return Close();
  Enter(Phase::kHeader);
  header_parser_.emplace();
  header_parser_->header_limit(server_->options().header_limit);
  header_parser_->body_limit(boost::none);  // checked per route once the header is known
  parser_.reset();
  stream_parser_.reset();
  streaming_ = body_broken_ = false;
  idle_ = true;
  stream_.expires_after(buffer_.size() ? server_->options().read_timeout
                                       : server_->options().idle_timeout);
  bhttp::async_read_header(stream_, buffer_, *header_parser_,
                           beast::bind_front_handler(&Session::OnHeader, shared_from_this()));
}

void Session::OnHeader(beast::error_code ec, size_t) {
  idle_ = false;
  if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
      ec == net::error::operation_aborted || ec == net::error::connection_reset ||
      ec == net::error::eof) {
    return Close();
  }
  request_id_.clear();
  head_request_ = !ec && header_parser_->get().method() == bhttp::verb::head;
  if (!ec) {
    auto it = header_parser_->get().find("x-request-id");
    if (it != header_parser_->get().end() && SaneRequestId(it->value())) {
      request_id_ = std::string(it->value());
    }
  }
  if (request_id_.empty()) request_id_ = "req_" + FastRandomBase62(16);
  if (ec) {
    bool too_big = ec == bhttp::error::header_limit;
    Status s(too_big ? StatusCode::kPayloadTooLarge : StatusCode::kInvalidArgument,
             too_big ? "request header is too large" : "malformed HTTP request: " + ec.message(),
             too_big ? "header_too_large" : "malformed_http");
    Response res = ErrorResponse(s, request_id_);
    if (too_big) res.status = 431;  // Request Header Fields Too Large (RFC 6585)
    // Bytes may follow that were never read: closing at once could reset the
    // connection and lose this answer on the way (RFC 9112 §9.6).
    linger_ = true;
    return Reply(std::move(res), /*close=*/true);
  }
  const auto& h = header_parser_->get();
  // RFC 9112 §6.1/§6.3: a body framed by anything but one final "chunked"
  // (an unknown coding such as "xchunked", a list, chunked on HTTP/1.0, or
  // Transfer-Encoding beside Content-Length) cannot be delimited safely: read
  // as we would, its bytes would pass for a second request. 400, and close.
  if (auto te = h.find(bhttp::field::transfer_encoding); te != h.end()) {
    std::string_view coding(te->value().data(), te->value().size());
    while (!coding.empty() && (coding.front() == ' ' || coding.front() == '\t')) coding.remove_prefix(1);
    while (!coding.empty() && (coding.back() == ' ' || coding.back() == '\t')) coding.remove_suffix(1);
    const bool ok = h.version() >= 11 && h.count(bhttp::field::transfer_encoding) == 1 &&
                    beast::iequals(coding, "chunked") && h.find(bhttp::field::content_length) == h.end();
    if (!ok) {
      linger_ = true;  // its body is unread
      return Reply(ErrorResponse(Status(StatusCode::kInvalidArgument,
                                        "unsupported request framing: Transfer-Encoding must be exactly "
                                        "\"chunked\" on HTTP/1.1, without Content-Length",
                                        "malformed_http"),
                                 request_id_),
                   /*close=*/true);
    }
  }
  RequestHandler::BodyPolicy policy = server_->handler()->BodyPolicyFor(h.method_string(), h.target());
  uint64_t limit = policy.limit;
  auto declared = header_parser_->content_length();
  if (declared && *declared > limit) {
    linger_ = true;
    return Reply(ErrorResponse(Status(StatusCode::kPayloadTooLarge,
                                      "request body of " + std::to_string(*declared) +
                                          " bytes exceeds this route's limit of " +
                                          std::to_string(limit) + " bytes",
                                      "payload_too_large",
                                      {{"limit_bytes", std::to_string(limit)}}),
                               request_id_),
                 /*close=*/true);
  }
  auto expect = h.find(bhttp::field::expect);
  if (expect != h.end() && beast::iequals(expect->value(), "100-continue")) {
    // The client waits for this before sending a large body (curl does).
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    Enter(Phase::kContinue);
    stream_.expires_after(server_->options().write_timeout);
    net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                     [self = shared_from_this(), policy](beast::error_code ec, size_t) {
                       if (ec) return self->Close();
                       self->ReadBody(policy);
                     });
    return;
  }
  ReadBody(policy);
}

void Session::ReadBody(const RequestHandler::BodyPolicy& policy) {
  if (policy.stream) {
    streaming_ = true;
    stream_parser_.emplace(std::move(*header_parser_));
    stream_parser_->body_limit(policy.limit);
    return Dispatch(stream_parser_->get().base(), std::string(), stream_parser_->keep_alive());
  }
  Enter(Phase::kBody);
  parser_.emplace(std::move(*header_parser_));
  parser_->body_limit(policy.limit);
  stream_.expires_after(server_->options().read_timeout);
  bhttp::async_read(stream_, buffer_, *parser_,
                    beast::bind_front_handler(&Session::OnBody, shared_from_this()));
}

namespace {
// Bridges a worker thread's blocking reads to the session's asynchronous ones.
class SessionBodyStream final : public BodyStream {
 public:
  explicit SessionBodyStream(std::shared_ptr<Session> s) : session_(std::move(s)) {}
  StatusOr<size_t> Read(char* buf, size_t n) override {
    if (n == 0) return size_t{0};
    std::promise<StatusOr<size_t>> result;
    auto future = result.get_future();
    net::post(session_->executor(), [&] {
      session_->ReadBodySome(buf, n, [&](StatusOr<size_t> r) { result.set_value(std::move(r)); });
    });
    return future.get();
  }

 private:
  std::shared_ptr<Session> session_;
};
}  // namespace

void Session::ReadBodySome(char* buf, size_t n, std::function<void(StatusOr<size_t>)> done) {
  if (body_broken_) {
    return done(Status::Unavailable("the request body could not be read"));
  }
  if (stream_parser_->is_done()) return done(size_t{0});
  auto& body = stream_parser_->get().body();
  body.data = buf;
  body.size = n;
  body.more = true;
  Enter(Phase::kBodyRead);
  stream_.expires_after(server_->options().read_timeout);
  bhttp::async_read_some(
      stream_, buffer_, *stream_parser_,
      [self = shared_from_this(), buf, n, done = std::move(done),
       asked = std::chrono::steady_clock::now()](beast::error_code ec, size_t) mutable {
        size_t got = n - self->stream_parser_->get().body().size;
        self->Enter(Phase::kHandler);  // back with its handler (or reading on, below)
        self->body_bytes_ += static_cast<int64_t>(got);
        self->body_wait_ += std::chrono::steady_clock::now() - asked;
        const auto& o = self->server_->options();
        const double waited_s = std::chrono::duration<double>(self->body_wait_).count();
        if (!ec && waited_s > static_cast<double>(o.min_body_rate_after.count()) &&
            static_cast<double>(self->body_bytes_) < waited_s * static_cast<double>(o.min_body_bytes_per_second)) {
          self->body_broken_ = true;
          return done(Status(StatusCode::kUnavailable,
                             "the request body arrives too slowly (under " +
                                 std::to_string(o.min_body_bytes_per_second) + " bytes/s)",
                             "body_too_slow"));
        }
        if (ec == bhttp::error::need_buffer) ec = {};
        if (ec) {
          self->body_broken_ = true;
          if (ec == bhttp::error::body_limit) {
            return done(Status(StatusCode::kPayloadTooLarge,
                               "request body exceeds this route's limit", "payload_too_large"));
          }
          if (ec == net::error::eof || ec == bhttp::error::end_of_stream ||
              ec == bhttp::error::partial_message) {
            // The client closed its side before the body's end: its fault, and it may still read.
            return done(Status(StatusCode::kInvalidArgument,
                               "the request body ended before its declared end", "body_incomplete"));
          }
          if (ec == beast::error::timeout || ec == net::error::connection_reset) {
            return done(Status::Unavailable("the client stopped sending the request body"));
          }
          return done(Status::InvalidArgument("malformed request body: " + ec.message()));
        }
        if (got == 0 && !self->stream_parser_->is_done()) {
          return self->ReadBodySome(buf, n, std::move(done));  // framing only; read on
        }
        // Fill more of the buffer while the socket has data: fewer thread hops per byte.
        beast::error_code aec;
        if (got < n / 2 && !self->stream_parser_->is_done() &&
            (self->buffer_.size() > 0 || self->stream_.socket().available(aec) > 0)) {
          return self->ReadBodySome(buf + got, n - got,
                                    [got, done = std::move(done)](StatusOr<size_t> more) {
                                      if (!more.ok()) return done(more.status());
                                      done(got + *more);
                                    });
        }
        done(got);
      });
}

void Session::OnBody(beast::error_code ec, size_t) {
  if (ec == bhttp::error::body_limit) {
    linger_ = true;
    return Reply(ErrorResponse(Status(StatusCode::kPayloadTooLarge,
                                      "request body exceeds this route's limit",
                                      "payload_too_large"),
                               request_id_),
                 /*close=*/true);
  }
  if (ec == beast::error::timeout || ec == bhttp::error::end_of_stream ||
      ec == net::error::eof || ec == net::error::connection_reset ||
      ec == bhttp::error::partial_message) {
    return Close();
  }
  if (ec) {
    linger_ = true;  // the rest of a malformed body is unread
    return Reply(ErrorResponse(Status(StatusCode::kInvalidArgument,
                                      "malformed HTTP request: " + ec.message(), "malformed_http"),
                               request_id_),
                 /*close=*/true);
  }
  auto msg = parser_->release();
  std::string body = std::move(msg.body());
  Dispatch(msg.base(), std::move(body), msg.keep_alive());
}

void Session::Dispatch(const bhttp::request_header<>& h, std::string body, bool keep_alive) {
  Request req;
  req.method = std::string(h.method_string());
  req.target = std::string(h.target());
  req.headers.reserve(8);
  for (const auto& f : h) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    req.headers.emplace_back(std::move(name), std::string(f.value()));
  }
  req.body = std::move(body);
  if (streaming_) req.body_stream = std::make_shared<SessionBodyStream>(shared_from_this());
  req.request_id = request_id_;
  req.remote_addr = remote_addr_;
  req.listener = *listener_;
  req.connection_thread = shared_from_this();

  server_->RequestStarted();
  counted_ = true;
  Enter(Phase::kHandler);
  auto self = shared_from_this();
  server_->handler()->Handle(std::move(req), [self, keep_alive](Response r) {
    // Dispatched: an answer made on the connection's own thread is sent at
    // once; one made on a worker is posted to that thread.
    net::dispatch(self->stream_.get_executor(), [self, keep_alive, r = std::move(r)]() mutable {
      // A body the handler did not read to its end cannot be skipped safely.
      bool unread = self->streaming_ && (self->body_broken_ || !self->stream_parser_->is_done());
      if (unread) self->linger_ = true;
      self->Reply(std::move(r), !keep_alive || unread);
    });
  });
}

void Session::Reply(Response r, bool close) {
  if (r.stream) return StartStream(std::move(r));
  Enter(Phase::kWrite);
  bool keep = !close && !server_->stopping();
  body_ = std::move(r.body);
  if (!HasBody(r.status)) body_.clear();
  WriteHead(answer_head_, r.status, server_->options().server_header, r.content_type, request_id_,
            r.headers, body_.size(), keep);
  stream_.expires_after(server_->options().write_timeout);
  if (head_request_) body_.clear();  // RFC 9110 §9.3.2: the GET's header, without its content
  std::array<net::const_buffer, 2> out{net::buffer(answer_head_), net::buffer(body_)};
  net::async_write(stream_, out,
                   beast::bind_front_handler(&Session::OnWrite, shared_from_this(), !keep));
}

void Session::OnWrite(bool close, beast::error_code ec, size_t) {
  if (counted_) {
    counted_ = false;
    server_->RequestFinished();
  }
  if (body_.capacity() > kKeptBody) std::string().swap(body_);
  if (ec) return Close();
  if (close) {
    // Unread bytes (a pipelined request after a "Connection: close" one)
    // would reset the connection and could lose the answer: drain them.
    beast::error_code aec;
    const bool unread = buffer_.size() > 0 || stream_.socket().available(aec) > 0;
    return linger_ || unread ? LingeringClose() : Close();
  }
  ReadHeader();
}

namespace {
// The producer's handle on a streamed response: hops every call to the session's thread.
class SessionResponseStream final : public ResponseStream {
 public:
  static constexpr int64_t kMaxUnsent = int64_t{4} << 20;  // a client that stopped reading
  SessionResponseStream(std::shared_ptr<Session> s, const Session::StreamState& st)
      : session_(s), executor_(s->executor()), ended_(st.ended), unsent_(st.unsent) {}
  bool Write(std::string bytes) override {
    if (ended_->load()) return false;
    if (unsent_->fetch_add(static_cast<int64_t>(bytes.size())) > kMaxUnsent) {
      Close();
      return false;
    }
    // Dispatched, not posted: on the connection's own thread (a producer
    // writing from inside its stream callback) the bytes are queued at once.
    // A post from there waits in that thread's private queue behind posts
    // other threads make meanwhile, and a producer that hands over from the
    // network thread to another one (buffered events, then live ones) would
    // see its bytes reordered.
    net::dispatch(executor_, [w = session_, b = std::move(bytes)]() mutable {
      if (auto s = w.lock()) s->StreamWrite(std::move(b));
    });
    return true;
  }
  void Close() override {
    net::dispatch(executor_, [w = session_] {
      if (auto s = w.lock()) s->StreamClose();
    });
  }
  void OnEnd(std::function<void()> fn) override {
    net::post(executor_, [w = session_, fn = std::move(fn)]() mutable {
      if (auto s = w.lock()) return s->StreamOnEnd(std::move(fn));
      fn();  // the session is gone: the stream has ended
    });
  }

 private:
  std::weak_ptr<Session> session_;
  net::any_io_executor executor_;
  std::shared_ptr<std::atomic<bool>> ended_;
  std::shared_ptr<std::atomic<int64_t>> unsent_;
};
}  // namespace

void Session::StartStream(Response r) {
  Enter(Phase::kStream);
  sse_ = std::make_unique<StreamState>();
  auto& st = *sse_;
  st.header = std::make_shared<bhttp::response<bhttp::empty_body>>();
  auto& h = *st.header;
  h.version(11);
  h.result(static_cast<unsigned>(r.status));
  h.set(bhttp::field::server, server_->options().server_header);
  h.set(bhttp::field::content_type, r.content_type);
  h.set("X-Request-Id", request_id_);
  for (auto& [k, v] : r.headers) h.set(k, v);
  h.chunked(true);
  h.keep_alive(false);
  st.serializer = std::make_shared<bhttp::response_serializer<bhttp::empty_body>>(h);
  st.heartbeat = std::move(r.heartbeat);
  stream_.expires_never();  // a stream lives as long as its producer; probes detect a gone client
  auto self = shared_from_this();
  bhttp::async_write_header(stream_, *st.serializer, [self](beast::error_code ec, size_t) {
    if (!self->sse_) return;
    if (ec) return self->EndStream();
    self->sse_->header_sent = true;
    self->PumpStream();
  });
  ProbeClient();
  if (!st.heartbeat.empty()) {
    st.timer = std::make_unique<net::steady_timer>(stream_.get_executor());
    Heartbeat();
  }
  r.stream(std::make_shared<SessionResponseStream>(self, st));
}

void Session::ProbeClient() {
  // The client sends nothing more on a streamed response: a completed read
  // means it closed (or misbehaves), either way the stream ends.
  auto self = shared_from_this();
  stream_.socket().async_read_some(net::buffer(sse_->probe),
                                   [self](beast::error_code ec, size_t) {
                                     if (self->sse_) self->EndStream();
                                   });
}

void Session::Heartbeat() {
  auto self = shared_from_this();
  sse_->timer->expires_after(std::chrono::seconds(15));
  sse_->timer->async_wait([self](beast::error_code ec) {
    if (ec || !self->sse_ || self->sse_->ended->load()) return;
    if (!self->sse_->wrote_since_beat) self->StreamWrite(self->sse_->heartbeat);
    self->sse_->wrote_since_beat = false;
    self->Heartbeat();
  });
}

void Session::StreamWrite(std::string bytes) {
  if (!sse_ || sse_->ended->load() || sse_->closing) return;
  sse_->wrote_since_beat = true;
  sse_->out.push_back(std::move(bytes));
  PumpStream();
}

void Session::StreamClose() {
  if (!sse_ || sse_->ended->load()) return;
  sse_->closing = true;
  PumpStream();
}

void Session::StreamOnEnd(std::function<void()> fn) {
  if (!sse_ || sse_->ended->load()) return fn();
  sse_->on_end.push_back(std::move(fn));
}

void Session::PumpStream() {
  auto& st = *sse_;
  if (!st.header_sent || st.writing || st.ended->load()) return;
  auto self = shared_from_this();
  if (st.out.empty()) {
    if (!st.closing) return;
    st.writing = true;
    net::async_write(stream_, bhttp::make_chunk_last(),
                     [self](beast::error_code, size_t) { self->EndStream(); });
    return;
  }
  st.writing = true;
  auto chunk = std::make_shared<std::string>(std::move(st.out.front()));
  st.out.pop_front();
  net::async_write(stream_, bhttp::make_chunk(net::buffer(*chunk)),
                   [self, chunk](beast::error_code ec, size_t) {
                     if (!self->sse_) return;
                     self->sse_->writing = false;
                     self->sse_->unsent->fetch_sub(static_cast<int64_t>(chunk->size()));
                     if (ec) return self->EndStream();
                     self->PumpStream();
                   });
}

void Session::EndStream() {
  if (!sse_ || sse_->ended->exchange(true)) return;
  if (sse_->timer) sse_->timer->cancel();
  auto callbacks = std::move(sse_->on_end);
  sse_->on_end.clear();
  Close();
  if (counted_) {
    counted_ = false;
    server_->RequestFinished();
  }
  for (auto& fn : callbacks) fn();
}

void Session::LingeringClose() {
  Enter(Phase::kLinger);
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) return Close();
  linger_until_ = std::chrono::steady_clock::now() + kLingerTotal;
  drain_buf_ = std::make_unique<std::array<char, 65536>>();
  Drain();
}

void Session::Drain() {
  stream_.expires_after(kLingerRead);
  stream_.async_read_some(net::buffer(*drain_buf_), [self = shared_from_this()](beast::error_code ec, size_t n) {
    self->drained_ += static_cast<int64_t>(n);
    // The client closed, went quiet, or sends too much or too long: done.
    if (ec || self->drained_ > kLingerMaxBytes || std::chrono::steady_clock::now() > self->linger_until_ ||
        self->server_->stopping()) {
      return self->Close();
    }
    self->Drain();
  });
}

std::string Session::Describe() const {
  // In Phase's order.
  static constexpr const char* kNames[] = {"reading a header",    "reading a body",    "in its handler",
                                           "reading a streamed body", "sending 100 Continue", "writing an answer",
                                           "streaming an answer", "lingering",         "closed"};
  auto name = [](uint64_t packed) {
    const size_t phase = packed & 0xff;
    return std::string(phase < std::size(kNames) ? kNames[phase] : "?");
  };
  const uint64_t now = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                 std::chrono::steady_clock::now().time_since_epoch()).count());
  const uint32_t n = entered_.load(std::memory_order_acquire);
  // Newest first: what it does now and for how long, then what it did before.
  std::string out = "#" + std::to_string(id_);
  for (uint32_t k = 0; k < std::min<uint32_t>(n, kHistory); ++k) {
    const uint64_t h = history_[(n - 1 - k) % kHistory].load(std::memory_order_relaxed);
    out += (k == 0 ? " " : ", before: ") + name(h) + " since " + std::to_string(static_cast<int64_t>(now - (h >> 8))) +
           " ms";
  }
  const uint64_t longest = longest_.load(std::memory_order_relaxed);
  return out + " (" + std::to_string(n) + " steps; the longest: " + name(longest) + " for " +
         std::to_string(longest >> 8) + " ms)";
}

void Session::Close() {
  Enter(Phase::kClosed);
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream_.close();
}

}  // namespace

StatusOr<std::unique_ptr<Server>> StartServer(const ServerOptions& options,
                                              RequestHandler* handler) {
  auto server = std::make_unique<ServerImpl>(options, handler);
  RETURN_IF_ERROR(server->Bind());
  server->Run();
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace embedrec::http
