#include "http/server.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "common/random.h"
#include "http/errors.h"

namespace embedrec::http {
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

class ServerImpl;

bool SaneRequestId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, ServerImpl* server, const std::string* listener)
      : stream_(std::move(socket)), server_(server), listener_(listener) {}
  ~Session();

  void Start(uint64_t id);
  // Called (posted) at shutdown: closes the connection if it is waiting for a request.
  void OnShutdown();

 private:
  void ReadHeader();
  void OnHeader(beast::error_code ec, size_t);
  void OnBody(beast::error_code ec, size_t);
  void Dispatch();
  void Reply(Response r, bool close);
  void OnWrite(bool close, beast::error_code ec, size_t);
  void Close();

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::shared_ptr<bhttp::response<bhttp::string_body>> res_;
  ServerImpl* server_;
  const std::string* listener_;
  std::string request_id_;
  std::string remote_addr_;
  bool idle_ = false;
  bool counted_ = false;
  uint64_t id_ = 0;
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
    }
  }
  ~ServerImpl() override {
    Shutdown(std::chrono::milliseconds(0));
    // Destroy pending handlers (and the sessions they hold) while the members
    // sessions use are still alive.
    acceptors_.clear();
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
    for (auto& ioc : iocs_) threads_.emplace_back([ctx = ioc.get()] { ctx->run(); });
  }

  std::vector<int> ports() const override { return ports_; }
  int64_t in_flight() const override { return in_flight_.load(); }

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
  std::mutex sessions_mu_;
  std::unordered_map<uint64_t, std::weak_ptr<Session>> sessions_;
};

Session::~Session() {
  if (counted_) server_->RequestFinished();
  server_->Forget(id_);
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
    // Close only connections with nothing to answer: no bytes buffered or
    // waiting in the kernel. A request that has arrived is still served.
    beast::error_code ec;
    size_t waiting = self->stream_.socket().available(ec);
    if (self->idle_ && self->buffer_.size() == 0 && (ec || waiting == 0)) self->Close();
  });
}

void Session::ReadHeader() {
  if (server_->stopping() && buffer_.size() == 0) return Close();
  parser_.emplace();
  parser_->header_limit(server_->options().header_limit);
  parser_->body_limit(boost::none);  // checked per route once the header is known
  idle_ = true;
  stream_.expires_after(buffer_.size() ? server_->options().read_timeout
                                       : server_->options().idle_timeout);
  bhttp::async_read_header(stream_, buffer_, *parser_,
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
  if (!ec) {
    auto it = parser_->get().find("x-request-id");
    if (it != parser_->get().end() && SaneRequestId(it->value())) {
      request_id_ = std::string(it->value());
    }
  }
  if (request_id_.empty()) request_id_ = "req_" + FastRandomBase62(16);
  if (ec) {
    bool too_big = ec == bhttp::error::header_limit;
    Status s(too_big ? StatusCode::kPayloadTooLarge : StatusCode::kInvalidArgument,
             too_big ? "request header is too large" : "malformed HTTP request: " + ec.message(),
             too_big ? "header_too_large" : "malformed_http");
    return Reply(ErrorResponse(s, request_id_), /*close=*/true);
  }
  const auto& h = parser_->get();
  uint64_t limit = server_->handler()->BodyLimit(h.method_string(), h.target());
  auto declared = parser_->content_length();
  if (declared && *declared > limit) {
    return Reply(ErrorResponse(Status(StatusCode::kPayloadTooLarge,
                                      "request body of " + std::to_string(*declared) +
                                          " bytes exceeds this route's limit of " +
                                          std::to_string(limit) + " bytes",
                                      "payload_too_large",
                                      {{"limit_bytes", std::to_string(limit)}}),
                               request_id_),
                 /*close=*/true);
  }
  parser_->body_limit(limit);
  stream_.expires_after(server_->options().read_timeout);
  bhttp::async_read(stream_, buffer_, *parser_,
                    beast::bind_front_handler(&Session::OnBody, shared_from_this()));
}

void Session::OnBody(beast::error_code ec, size_t) {
  if (ec == bhttp::error::body_limit) {
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
    return Reply(ErrorResponse(Status(StatusCode::kInvalidArgument,
                                      "malformed HTTP request: " + ec.message(), "malformed_http"),
                               request_id_),
                 /*close=*/true);
  }
  Dispatch();
}

void Session::Dispatch() {
  auto msg = parser_->release();
  Request req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  req.headers.reserve(8);
  for (const auto& f : msg) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    req.headers.emplace_back(std::move(name), std::string(f.value()));
  }
  req.body = std::move(msg.body());
  req.request_id = request_id_;
  req.remote_addr = remote_addr_;
  req.listener = *listener_;
  bool keep_alive = msg.keep_alive();

  server_->RequestStarted();
  counted_ = true;
  auto self = shared_from_this();
  server_->handler()->Handle(std::move(req), [self, keep_alive](Response r) {
    net::post(self->stream_.get_executor(), [self, keep_alive, r = std::move(r)]() mutable {
      self->Reply(std::move(r), !keep_alive);
    });
  });
}

void Session::Reply(Response r, bool close) {
  res_ = std::make_shared<bhttp::response<bhttp::string_body>>();
  res_->version(11);
  res_->result(static_cast<unsigned>(r.status));
  res_->set(bhttp::field::server, server_->options().server_header);
  res_->set(bhttp::field::content_type, r.content_type);
  res_->set("X-Request-Id", request_id_);
  for (auto& [k, v] : r.headers) res_->set(k, v);
  res_->body() = std::move(r.body);
  bool keep = !close && !server_->stopping();
  res_->keep_alive(keep);
  res_->prepare_payload();
  stream_.expires_after(server_->options().write_timeout);
  bhttp::async_write(stream_, *res_,
                     beast::bind_front_handler(&Session::OnWrite, shared_from_this(), !keep));
}

void Session::OnWrite(bool close, beast::error_code ec, size_t) {
  if (counted_) {
    counted_ = false;
    server_->RequestFinished();
  }
  res_.reset();
  if (ec || close) return Close();
  ReadHeader();
}

void Session::Close() {
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
