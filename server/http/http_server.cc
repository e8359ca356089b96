// The Beast/Asio implementation of HttpServer. Keep Beast out of every other
// translation unit: it is heavy to compile.
#include "server/http/http_server.h"

#include <algorithm>
#include <limits>
#include <csignal>
#include <set>
#include <thread>
#include <utility>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/mutex.h"
#include "common/thread_annotations.h"

namespace portcullis::server {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
using tcp = boost::asio::ip::tcp;
// A connection's strand, by its concrete type: every operation of a session
// runs on it without the type-erased any_io_executor (copying and
// dispatching through which showed in the profile).
using Strand = net::strand<net::io_context::executor_type>;
using Socket = net::basic_stream_socket<tcp, Strand>;
using SteadyTimer = net::basic_waitable_timer<
    std::chrono::steady_clock, net::wait_traits<std::chrono::steady_clock>,
    Strand>;

namespace {

constexpr const char* kBodyTooLarge = "request body exceeds the size limit";

// What a connection does after a read error: answer `status` (400 or 413)
// and close, or close silently (status 0).
struct ReadErrorAction {
  int status = 0;
  const char* code = "";
  std::string message;
};

ReadErrorAction ClassifyReadError(beast::error_code ec) {
  if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
      ec == net::error::operation_aborted ||
      ec == net::error::connection_reset || ec == net::error::eof ||
      ec == net::error::bad_descriptor || ec == http::error::partial_message) {
    return {};
  }
  if (ec == http::error::header_limit || ec == http::error::body_limit ||
      ec == http::error::buffer_overflow) {
    return {413, "RESOURCE_EXHAUSTED",
            ec == http::error::body_limit
                ? kBodyTooLarge
                : "request header exceeds the size limit"};
  }
  if (ec.category() ==
      http::make_error_code(http::error::bad_method).category()) {
    return {400, "INVALID_ARGUMENT",
            std::string("malformed HTTP request: ") + ec.message()};
  }
  return {};
}

using RequestHeader = http::request_header<>;

std::optional<std::string_view> FindField(const void* fields,
                                          std::string_view name) {
  const auto& h = *static_cast<const RequestHeader*>(fields);
  const auto it = h.find(beast::string_view(name.data(), name.size()));
  if (it == h.end()) return std::nullopt;
  return std::string_view(it->value().data(), it->value().size());
}

// What to do once a request's header is read, before its body.
struct HeaderVerdict {
  enum class Kind { kReadBody, kRefused, kTooLarge };
  Kind kind = Kind::kReadBody;
  size_t body_limit = 0;  // kReadBody: the limit for this body
  HttpResponse refusal;   // kRefused
};

// The header callback first (an unauthorized request never reaches the
// route's body limit), then the route's body limit, checked here against
// a declared Content-Length: the parser read the header with no limit,
// since Beast checks a Content-Length against the limit in force while it
// parses the header, before the route is known.
HeaderVerdict JudgeHeader(const HttpServerOptions& options,
                          const RequestHeader& header,
                          boost::optional<uint64_t> content_length,
                          std::string_view remote) {
  HeaderVerdict v;
  const std::string_view target(header.target().data(),
                                header.target().size());
  const std::string_view method(header.method_string().data(),
                                header.method_string().size());
  if (options.on_header) {
    const HttpRequestHead head(method, target, remote, &FindField, &header);
    if (std::optional<HttpResponse> r = options.on_header(head)) {
      v.kind = HeaderVerdict::Kind::kRefused;
      v.refusal = std::move(*r);
      return v;
    }
  }
  v.body_limit = options.body_limit;
  if (options.body_limit_for) {
    const std::string_view path = target.substr(0, target.find('?'));
    if (auto l = options.body_limit_for(method, path)) v.body_limit = *l;
  }
  if (content_length && *content_length > v.body_limit) {
    v.kind = HeaderVerdict::Kind::kTooLarge;
  }
  return v;
}

// Converts a parsed message into *req, which may hold the previous request
// of the connection: every field is overwritten, into the capacity its
// strings already have (the header names and values, the target, and the
// header vector of a connection's requests usually fit those of the one
// before, so a steady connection converts without allocating). The body is
// moved, not copied; `remote` is copied into req->remote's capacity.
void ToHttpRequest(http::request<http::string_body>& msg,
                   std::string_view remote, HttpRequest* req) {
  const beast::string_view method = msg.method_string();
  req->method.assign(method.data(), method.size());
  const beast::string_view target = msg.target();
  req->target.assign(target.data(), target.size());
  const std::string_view t = req->target;
  const size_t q = t.find('?');
  req->path.assign(t.substr(0, q));
  if (q != std::string_view::npos) {
    req->query.assign(t.substr(q + 1));
  } else {
    req->query.clear();
  }
  auto& headers = req->headers;
  size_t n = 0;
  for (const auto& field : msg) {
    if (n == headers.size()) headers.emplace_back();
    auto& [name, value] = headers[n++];
    const beast::string_view fname = field.name_string();
    name.assign(fname.data(), fname.size());
    for (char& c : name) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    const beast::string_view fvalue = field.value();
    value.assign(fvalue.data(), fvalue.size());
  }
  headers.resize(n);
  req->body = std::move(msg.body());
  req->remote.assign(remote);
}

}  // namespace

ParsedHttpRequest ParseHttpRequest(std::string_view bytes,
                                   const HttpServerOptions& options) {
  ParsedHttpRequest out;
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<uint32_t>(options.header_limit));
  parser.body_limit(boost::none);  // the route's limit comes after the header
  parser.eager(false);  // stop after the header: its verdict comes next
  beast::error_code ec;
  bool limit_set = false;
  while (!parser.is_done()) {
    const size_t n = parser.put(
        net::buffer(bytes.data() + out.consumed, bytes.size() - out.consumed),
        ec);
    out.consumed += n;
    if ((!ec || ec == http::error::need_more) && parser.is_header_done() &&
        !limit_set) {
      limit_set = true;
      HeaderVerdict v = JudgeHeader(options, parser.get().base(),
                                    parser.content_length(), "");
      if (v.kind == HeaderVerdict::Kind::kRefused) {
        out.kind = ParsedHttpRequest::Kind::kRefused;
        out.refusal = std::move(v.refusal);
        return out;
      }
      if (v.kind == HeaderVerdict::Kind::kTooLarge) {
        out.kind = ParsedHttpRequest::Kind::kError;
        out.error_status = 413;
        out.error_code = "RESOURCE_EXHAUSTED";
        out.error_message = kBodyTooLarge;
        return out;
      }
      parser.body_limit(v.body_limit);
      parser.eager(true);
    }
    if (ec == http::error::need_more && n > 0 &&
        out.consumed < bytes.size()) {
      ec = {};
      continue;
    }
    if (ec == http::error::need_more || (!ec && n == 0 && !parser.is_done())) {
      // Everything the client sent is used: it is now at end of stream.
      ec = {};
      if (parser.got_some()) parser.put_eof(ec);
      else ec = http::error::end_of_stream;
      if (!ec && !parser.is_done()) ec = http::error::partial_message;
      break;
    }
    if (ec) break;
  }
  if (ec) {
    ReadErrorAction a = ClassifyReadError(ec);
    if (a.status == 0) return out;  // kClose
    out.kind = ParsedHttpRequest::Kind::kError;
    out.error_status = a.status;
    out.error_code = a.code;
    out.error_message = std::move(a.message);
    return out;
  }
  http::request<http::string_body> msg = parser.release();
  out.keep_alive = msg.keep_alive();
  ToHttpRequest(msg, "", &out.request);
  out.kind = ParsedHttpRequest::Kind::kRequest;
  return out;
}

class Session;

struct HttpServer::Impl {
  HttpServerOptions options;
  HttpHandler handler;
  HttpServer* owner = nullptr;
  std::atomic<bool> draining{false};
  std::atomic<bool> stopped{false};

  Mutex sessions_mu;
  std::set<Session*> sessions GUARDED_BY(sessions_mu);

  Mutex signal_mu;
  CondVar signal_cv;
  std::vector<int> pending_signals GUARDED_BY(signal_mu);

  // Declared last: destroying the context destroys pending sessions, which
  // use the members above.
  net::io_context ioc;
  std::optional<tcp::acceptor> acceptor;
  std::optional<net::signal_set> signals;
  std::vector<std::thread> threads;

  Impl(HttpServerOptions o, HttpHandler h)
      : options(std::move(o)), handler(std::move(h)) {}

  // Timeouts: each session keeps a deadline (an atomic time stamp, set per
  // phase of a request); one timer sweeps all sessions every
  // `sweep_interval` and closes those past their deadline. This replaces a
  // per-operation timer (tcp_stream::expires_after), which cost a timer-queue
  // update and a cancelled-timer completion three times per request. A
  // timeout therefore fires up to one sweep interval late.
  std::optional<net::steady_timer> sweep_timer;
  std::chrono::milliseconds sweep_interval{250};
  void Sweep();

  void Accept();
  void WaitSignal();
  void ConnectionClosed() { owner->open_connections_.fetch_sub(1); }
  std::string ErrorBody(int status, std::string_view code,
                        std::string_view message) const {
    if (options.error_body) return options.error_body(status, code, message);
    std::string body = "{\"error\":{\"code\":\"";
    body.append(code).append("\",\"message\":\"");
    body.append(message).append("\"}}");
    return body;
  }
};

// One connection. All its operations run on its strand, one at a time.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Socket&& socket, HttpServer::Impl* server)
      : stream_(std::move(socket)),
        server_(server),
        poll_timer_(stream_.get_executor()) {}

  static int64_t NowNanos() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  // Whether the current phase is past its deadline (any thread).
  bool Late(int64_t now) const {
    return deadline_.load(std::memory_order_relaxed) <= now;
  }

  // Called by the sweeper (any thread, without sessions_mu): closes the
  // connection, on its strand, if it is still past its deadline there.
  void Expire() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      if (!self->Late(NowNanos())) return;
      beast::error_code ec;
      self->stream_.shutdown(tcp::socket::shutdown_both, ec);
      self->stream_.close(ec);
    });
  }

  ~Session() {
    {
      MutexLock lock(&server_->sessions_mu);
      server_->sessions.erase(this);
    }
    if (server_->options.on_connection) server_->options.on_connection(-1);
    server_->ConnectionClosed();
  }

  void Start() {
    {
      MutexLock lock(&server_->sessions_mu);
      server_->sessions.insert(this);
    }
    beast::error_code ec;
    const tcp::endpoint ep = stream_.remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&Session::DoRead,
                                            shared_from_this()));
  }

  // Called on drain: closes the connection if it waits for a new request.
  // Called without sessions_mu (the last reference may be released here,
  // and the destructor takes sessions_mu).
  void CloseIfIdle() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->idle_) {
        beast::error_code ec;
        self->stream_.shutdown(tcp::socket::shutdown_both, ec);
        self->stream_.close(ec);
      }
    });
  }

 private:
  void DoRead() {
    if (server_->draining.load()) {
      Close();
      return;
    }
    parser_.emplace();
    parser_->header_limit(
        static_cast<uint32_t>(server_->options.header_limit));
    // No limit while the header is read: Beast would check a Content-Length
    // against it before the route is known. JudgeHeader sets the route's.
    parser_->body_limit(boost::none);
    head_ = false;
    idle_ = buffer_.size() == 0;
    ExpiresAfter(idle_ ? server_->options.idle_timeout
                       : server_->options.read_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        beast::bind_front_handler(&Session::OnHeader, shared_from_this()));
  }

  void OnHeader(beast::error_code ec, size_t) {
    const bool was_idle = idle_;
    idle_ = false;
    if (ec) {
      HandleReadError(ec);
      return;
    }
    const RequestHeader& header = parser_->get().base();
    head_ = header.method() == http::verb::head;
    HeaderVerdict v = JudgeHeader(server_->options, header,
                                  parser_->content_length(), remote_);
    if (v.kind == HeaderVerdict::Kind::kRefused) {
      // Answered from the header: none of the body is read (the lingering
      // close discards what the client still sends, without keeping it).
      Write(std::move(v.refusal), /*keep_alive=*/false, header.version());
      return;
    }
    if (v.kind == HeaderVerdict::Kind::kTooLarge) {
      SendError(413, "RESOURCE_EXHAUSTED", kBodyTooLarge);
      return;
    }
    parser_->body_limit(v.body_limit);
    if (was_idle) ExpiresAfter(server_->options.read_timeout);
    http::async_read(
        stream_, buffer_, *parser_,
        beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void HandleReadError(beast::error_code ec) {
    ReadErrorAction a = ClassifyReadError(ec);
    if (a.status == 0) {
      Close();
      return;
    }
    SendError(a.status, a.code, a.message);
  }

  void SendError(int status, std::string_view code, std::string_view message) {
    HttpResponse r;
    r.status = status;
    r.body = server_->ErrorBody(status, code, message);
    Write(std::move(r), /*keep_alive=*/false, 11);
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec) {
      HandleReadError(ec);
      return;
    }
    http::request<http::string_body> msg = parser_->release();
    const bool keep_alive = msg.keep_alive();
    const unsigned version = msg.version();
    ToHttpRequest(msg, remote_, &request_);
    HttpResponse response = server_->handler(request_);
    // The body is not reused (the next one is moved in from the parser):
    // free it now rather than hold an upload while the connection idles.
    request_.body = std::string();
    if (response.stream && !head_) {
      WriteStream(std::move(response), keep_alive, version);
      return;
    }
    if (response.long_poll) {
      StartPoll(std::move(response.long_poll), keep_alive, version);
      return;
    }
    Write(std::move(response), keep_alive, version);
  }

  void StartPoll(std::shared_ptr<LongPoll> lp, bool keep_alive,
                 unsigned version) {
    const auto now = std::chrono::steady_clock::now();
    const bool final = now >= lp->deadline;
    std::optional<HttpResponse> r = lp->poll(final);
    if (r && r->stream && !head_) {  // a read that waited: the export
      WriteStream(std::move(*r), keep_alive, version);
      return;
    }
    if (r) {
      Write(std::move(*r), keep_alive, version);
      return;
    }
    if (final) {  // a poll that broke its contract: answer anyway
      SendError(500, "INTERNAL", "long poll produced no response");
      return;
    }
    NoDeadline();  // the long poll bounds itself
    poll_timer_.expires_at(std::min(now + lp->interval, lp->deadline));
    const uint64_t wait = ++poll_waits_;
    if (lp->wake) {
      // A wake cancels this wait, on this connection's strand, if it is
      // still the one in progress.
      lp->wake->Arm([weak = weak_from_this(), wait] {
        if (std::shared_ptr<Session> self = weak.lock()) {
          net::post(self->stream_.get_executor(), [self, wait] {
            if (self->poll_waits_ != wait || !self->poll_waiting_) return;
            self->poll_woken_ = true;
            self->poll_timer_.cancel();
          });
        }
      });
    }
    poll_waiting_ = true;
    poll_timer_.async_wait([self = shared_from_this(), lp = std::move(lp),
                            keep_alive, version](beast::error_code ec) mutable {
      self->poll_waiting_ = false;
      const bool woken = std::exchange(self->poll_woken_, false);
      if (ec && !(woken && ec == net::error::operation_aborted)) {
        self->Close();
        return;
      }
      self->StartPoll(std::move(lp), keep_alive, version);
    });
  }

  void Write(HttpResponse r, bool keep_alive, unsigned version) {
    // One response is in flight at a time: the message object is reused.
    response_.base().clear();
    response_.result(static_cast<http::status>(r.status));
    response_.version(version);
    response_.set(http::field::server, "portcullis");
    response_.set(http::field::content_type, r.content_type);
    for (auto& [name, value] : r.headers) response_.set(name, value);
    response_.keep_alive(keep_alive && !server_->draining.load());
    if (head_) {
      // The answer to HEAD is the header alone, whatever the handler put in
      // the body; its Content-Length is the handler's (that of the GET
      // body), else the size of the body it gave, else none.
      if (response_.find(http::field::content_length) == response_.end() &&
          !r.body.empty()) {
        response_.content_length(r.body.size());
      }
      response_.body().clear();
      auto sr = std::make_shared<http::response_serializer<http::string_body>>(
          response_);
      ExpiresAfter(server_->options.write_timeout);
      http::async_write_header(
          stream_, *sr,
          [self = shared_from_this(), sr](beast::error_code ec, size_t) {
            self->OnWrite(ec, self->response_.keep_alive());
          });
      return;
    }
    response_.body() = std::move(r.body);
    response_.prepare_payload();
    ExpiresAfter(server_->options.write_timeout);
    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        self->OnWrite(ec, self->response_.keep_alive());
                      });
  }

  // A streamed body (see BodyStream): the header now, then one chunk per
  // Pull, then the last chunk.
  void WriteStream(HttpResponse r, bool keep_alive, unsigned version) {
    auto res = std::make_shared<http::response<http::empty_body>>(
        static_cast<http::status>(r.status), version);
    res->set(http::field::server, "portcullis");
    res->set(http::field::content_type, r.content_type);
    for (auto& [name, value] : r.headers) res->set(name, value);
    const bool chunked = version >= 11;
    if (chunked) {
      res->chunked(true);
    } else {
      keep_alive = false;  // HTTP/1.0: the end of the body is the close
    }
    res->keep_alive(keep_alive && !server_->draining.load());
    auto sr =
        std::make_shared<http::response_serializer<http::empty_body>>(*res);
    ExpiresAfter(server_->options.write_timeout);
    http::async_write_header(
        stream_, *sr,
        [self = shared_from_this(), res, sr, body = std::move(r.stream),
         chunked](beast::error_code ec, size_t) mutable {
          if (ec) {
            self->Close();
            return;
          }
          self->PullChunk(std::move(body), chunked, res->keep_alive());
        });
  }

  void PullChunk(std::shared_ptr<BodyStream> body, bool chunked,
                 bool keep_alive) {
    constexpr size_t kChunk = 64 * 1024;
    switch (body->Pull(&chunk_, kChunk)) {
      case BodyStream::State::kData: {
        ExpiresAfter(server_->options.write_timeout);
        auto next = [self = shared_from_this(), body = std::move(body),
                     chunked, keep_alive](beast::error_code ec,
                                          size_t) mutable {
          if (ec) {
            self->Close();
            return;
          }
          self->PullChunk(std::move(body), chunked, keep_alive);
        };
        if (chunked) {
          net::async_write(stream_, http::make_chunk(net::buffer(chunk_)),
                           std::move(next));
        } else {
          net::async_write(stream_, net::buffer(chunk_), std::move(next));
        }
        return;
      }
      case BodyStream::State::kWait:
        NoDeadline();  // waiting for the source, not for the client
        poll_timer_.expires_after(std::chrono::milliseconds(2));
        poll_timer_.async_wait([self = shared_from_this(),
                                body = std::move(body), chunked,
                                keep_alive](beast::error_code ec) mutable {
          if (ec) {
            self->Close();
            return;
          }
          self->PullChunk(std::move(body), chunked, keep_alive);
        });
        return;
      case BodyStream::State::kEnd:
        body.reset();
        chunk_ = std::string();
        if (!chunked) {
          Close();
          return;
        }
        ExpiresAfter(server_->options.write_timeout);
        net::async_write(stream_, http::make_chunk_last(),
                         [self = shared_from_this(), keep_alive](
                             beast::error_code ec, size_t) {
                           self->OnWrite(ec, keep_alive);
                         });
        return;
      case BodyStream::State::kFailed:
        Close();
        return;
    }
  }

  void OnWrite(beast::error_code ec, bool keep_alive) {
    if (ec || !keep_alive) {
      Close();
      return;
    }
    DoRead();
  }

  // Lingering close: after our last answer, stop sending but keep reading
  // (and discarding) what the client still sends, for at most a second, so
  // that a client still writing an oversized body reads the 413 instead of
  // a connection reset.
  void Close() {
    beast::error_code ec;
    stream_.shutdown(tcp::socket::shutdown_send, ec);
    if (ec || lingering_) {
      NoDeadline();
      stream_.close(ec);
      return;
    }
    lingering_ = true;
    ExpiresAfter(std::chrono::milliseconds(1000));
    DiscardInput();
  }

  void DiscardInput() {
    stream_.async_read_some(
        net::buffer(discard_),
        [self = shared_from_this()](beast::error_code ec, std::size_t) {
          if (ec) {
            beast::error_code ignored;
            self->NoDeadline();
            self->stream_.close(ignored);
            return;
          }
          self->DiscardInput();
        });
  }

  void ExpiresAfter(std::chrono::milliseconds timeout) {
    deadline_.store(
        NowNanos() +
            std::chrono::duration_cast<std::chrono::nanoseconds>(timeout)
                .count(),
        std::memory_order_relaxed);
  }
  void NoDeadline() {
    deadline_.store(std::numeric_limits<int64_t>::max(),
                    std::memory_order_relaxed);
  }

  Socket stream_;
  // When the current phase (idle, reading, writing) times out, in
  // steady-clock nanoseconds. Written on the strand, read by the sweeper.
  std::atomic<int64_t> deadline_{std::numeric_limits<int64_t>::max()};
  bool lingering_ = false;            // Close() has begun a lingering close
  std::array<char, 4096> discard_;   // what a lingering close reads
  http::response<http::string_body> response_;  // the one being written
  beast::flat_buffer buffer_;
  HttpServer::Impl* server_;
  SteadyTimer poll_timer_;
  // Long-poll waits (StartPoll): how many began on this connection, whether
  // one is in progress, and whether a wake cancelled it. Strand only.
  uint64_t poll_waits_ = 0;
  bool poll_waiting_ = false;
  bool poll_woken_ = false;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string remote_;  // the peer, formatted once per connection (Start)
  // The request being handled, reused by the next one on this connection
  // (ToHttpRequest writes into the capacity its strings already have).
  HttpRequest request_;
  std::string chunk_;  // the piece of a streamed body being written
  bool idle_ = false;  // waiting for the first byte of a new request
  bool head_ = false;  // the current request is HEAD: answer the header only
};

void PollWake::Wake() {
  std::function<void()> fn;
  {
    MutexLock lock(&mu_);
    if (!fn_) {
      pending_ = true;
      return;
    }
    fn = fn_;
  }
  fn();
}

void PollWake::Arm(std::function<void()> fn) {
  bool run;
  {
    MutexLock lock(&mu_);
    fn_ = fn;
    run = std::exchange(pending_, false);
  }
  if (run) fn();
}

void HttpServer::Impl::Accept() {
  acceptor->async_accept(
      net::make_strand(ioc), [this](beast::error_code ec, Socket socket) {
        if (ec) {
          if (ec == net::error::operation_aborted || !acceptor->is_open()) {
            return;
          }
        } else if (draining.load()) {
          return;
        } else {
          // Answers are single small writes; with Nagle on, a response
          // written while the previous one (pipelining) is still unacked
          // would wait for the client's delayed ACK (40 ms on Linux).
          beast::error_code nodelay_ec;
          socket.set_option(tcp::no_delay(true), nodelay_ec);
          owner->open_connections_.fetch_add(1);
          if (options.on_connection) options.on_connection(+1);
          std::make_shared<Session>(std::move(socket), this)->Start();
        }
        Accept();
      });
}

void HttpServer::Impl::Sweep() {
  sweep_timer->expires_after(sweep_interval);
  sweep_timer->async_wait([this](beast::error_code ec) {
    if (ec || stopped.load()) return;
    const int64_t now = Session::NowNanos();
    std::vector<std::shared_ptr<Session>> late;
    {
      MutexLock lock(&sessions_mu);
      for (Session* session : sessions) {
        if (!session->Late(now)) continue;
        // Null when the session is being destroyed (it then waits for
        // sessions_mu to unregister itself).
        if (auto p = session->weak_from_this().lock()) {
          late.push_back(std::move(p));
        }
      }
    }
    // Outside the lock: dropping the last reference runs the destructor,
    // which takes sessions_mu.
    for (const auto& session : late) session->Expire();
    late.clear();
    Sweep();
  });
}

void HttpServer::Impl::WaitSignal() {
  signals->async_wait([this](beast::error_code ec, int signo) {
    if (ec) return;
    {
      MutexLock lock(&signal_mu);
      pending_signals.push_back(signo);
    }
    signal_cv.NotifyAll();
    if (signo == SIGHUP) WaitSignal();
  });
}

HttpServer::HttpServer(HttpServerOptions options, HttpHandler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {
  impl_->owner = this;
}

HttpServer::~HttpServer() { Stop(std::chrono::milliseconds(0)); }

Status HttpServer::Start() {
  Impl& s = *impl_;
  beast::error_code ec;
  const net::ip::address address = net::ip::make_address(s.options.address, ec);
  if (ec) {
    return Status::InvalidArgument(
        "listen address '" + s.options.address + "' is not an IP address",
        "listen");
  }
  const tcp::endpoint endpoint(address, s.options.port);
  s.acceptor.emplace(net::make_strand(s.ioc));
  s.acceptor->open(endpoint.protocol(), ec);
  if (!ec) s.acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor->bind(endpoint, ec);
  if (!ec) s.acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status(StatusCode::kUnavailable,
                  "cannot listen on " + s.options.address + ":" +
                      std::to_string(s.options.port) + ": " + ec.message(),
                  "listen");
  }
  port_ = s.acceptor->local_endpoint().port();
  s.signals.emplace(s.ioc, SIGTERM, SIGINT, SIGHUP);
  s.WaitSignal();
  const auto shortest = std::min({s.options.read_timeout,
                                  s.options.write_timeout,
                                  s.options.idle_timeout});
  s.sweep_interval = std::clamp(shortest / 4, std::chrono::milliseconds(5),
                                std::chrono::milliseconds(250));
  s.sweep_timer.emplace(s.ioc);
  s.Sweep();
  s.Accept();
  const int n = std::max(1, s.options.threads);
  for (int i = 0; i < n; ++i) s.threads.emplace_back([&s] { s.ioc.run(); });
  return Status::Ok();
}

int HttpServer::WaitForShutdownSignal(std::function<void()> on_hup) {
  Impl& s = *impl_;
  s.signal_mu.Lock();
  for (;;) {
    while (s.pending_signals.empty()) s.signal_cv.Wait(&s.signal_mu);
    std::vector<int> sigs;
    sigs.swap(s.pending_signals);
    for (int sig : sigs) {
      if (sig != SIGHUP) {
        s.signal_mu.Unlock();
        return sig;
      }
      s.signal_mu.Unlock();
      if (on_hup) on_hup();
      s.signal_mu.Lock();
    }
  }
}

void HttpServer::Stop(std::chrono::milliseconds drain) {
  Impl& s = *impl_;
  if (s.stopped.exchange(true)) return;
  s.draining.store(true);
  if (s.acceptor) {
    net::post(s.acceptor->get_executor(), [&s] {
      beast::error_code ec;
      s.acceptor->close(ec);
    });
  }
  const auto deadline = std::chrono::steady_clock::now() + drain;
  do {
    // Take owning references under the lock and use them outside it: the
    // last reference to a session may be dropped here, and ~Session takes
    // sessions_mu (holding it meanwhile deadlocked Stop; see
    // tests/concurrent StopWhileClientsComeAndGo).
    std::vector<std::shared_ptr<Session>> live;
    {
      MutexLock lock(&s.sessions_mu);
      live.reserve(s.sessions.size());
      for (Session* session : s.sessions) {
        if (auto p = session->weak_from_this().lock()) live.push_back(std::move(p));
      }
    }
    for (const std::shared_ptr<Session>& session : live) session->CloseIfIdle();
    live.clear();
    if (open_connections_.load() == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  } while (std::chrono::steady_clock::now() < deadline);
  s.ioc.stop();
  for (std::thread& t : s.threads) {
    if (t.joinable()) t.join();
  }
  s.threads.clear();
}

}  // namespace portcullis::server
