// HttpServer: an HTTP/1.1 server on a pool of I/O threads, behind a plain
// request/response interface. It is the only part of Portcullis that sees
// Boost.Beast or Asio (server/http/, library portcullis_http); everything
// else works with the HttpRequest and HttpResponse structs below, so that
// handlers are plain functions that unit tests call without sockets.
//
// Behaviour: keep-alive and pipelining (requests on one connection are
// answered in order), a header size limit; a header callback
// (HttpServerOptions::on_header) that may refuse a request from its header
// alone, before any of its body is read; a per-route body size limit (413)
// that applies whatever the framing (Content-Length or chunked); HEAD
// answered with the header alone; read and write timeouts (a slow or idle client is disconnected and
// holds no thread), malformed HTTP answered with 400. The handler runs
// inline on the I/O thread that read the request. Accepted sockets have
// TCP_NODELAY. Timeouts are checked by one periodic sweep (every quarter of
// the shortest timeout, 5 ms to 250 ms), so a timeout fires up to one sweep
// interval late; there is no timer per operation.
//
// Thread safety: Start, Stop and WaitForShutdownSignal are called from one
// controlling thread. The handler is called concurrently from every I/O
// thread and must be thread-safe.
#ifndef PORTCULLIS_SERVER_HTTP_HTTP_SERVER_H_
#define PORTCULLIS_SERVER_HTTP_HTTP_SERVER_H_

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "common/thread_annotations.h"

namespace portcullis::server {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: "/v1/changes?since=4"
  // Target before '?', as sent (not percent-decoded): a router splits it at
  // '/' first and then decodes each segment, so that "%2F" never makes a
  // new segment.
  std::string path;
  std::string query;   // target after '?', raw
  // Header names in lower case, in arrival order.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string remote;  // "127.0.0.1:53412"

  // The first header of that (lower-case) name, or nullptr.
  const std::string* Header(std::string_view lower_name) const;
  // The percent-decoded value of a query parameter, or nullopt. A
  // parameter given twice is the first; Api refuses such requests before
  // any handler runs (see RepeatedQueryParam).
  std::optional<std::string> QueryParam(std::string_view name) const;
  // The name (as sent) of the first query parameter that appears more than
  // once, or nullopt.
  std::optional<std::string_view> RepeatedQueryParam() const;
};

struct HttpResponse;

// Wakes a waiting long poll early (LongPoll::wake). Wake() may be called
// from any thread, any number of times, before, during or after the wait:
// the server then polls again at once instead of at the next interval.
// Thread-safe.
class PollWake {
 public:
  void Wake() EXCLUDES(mu_);
  // The server's side: what Wake() does from now on (set before each wait);
  // runs it at once if a Wake() came while none was set.
  void Arm(std::function<void()> fn) EXCLUDES(mu_);

 private:
  Mutex mu_;
  std::function<void()> fn_ GUARDED_BY(mu_);
  bool pending_ GUARDED_BY(mu_) = false;
};

// A long-poll: the server calls `poll(false)` every `interval` (or as soon
// as `wake` is woken, if set) until it returns a response, and `poll(true)`
// once at `deadline`, which must return one. The I/O thread is free in
// between.
struct LongPoll {
  std::function<std::optional<HttpResponse>(bool final)> poll;
  std::chrono::steady_clock::time_point deadline;
  std::chrono::milliseconds interval{20};
  std::shared_ptr<PollWake> wake;  // may be null
};

// A response body produced while it is sent (the export). The server sends
// the status and headers at once, then calls Pull on the connection's I/O
// thread each time the previous piece has been written, and sends each piece
// as one chunk (Transfer-Encoding: chunked; to an HTTP/1.0 client, the raw
// bytes and then it closes the connection). The I/O thread is never blocked
// by the body: a source that has nothing ready says kWait and is asked again
// a moment later. The write timeout applies to each piece, not to the whole
// body. The stream is destroyed when the response is complete or the
// connection closes, on the connection's I/O thread.
class BodyStream {
 public:
  enum class State {
    kData,    // *out holds the next piece (not empty)
    kWait,    // nothing ready yet: ask again in a moment
    kEnd,     // the body is complete
    kFailed,  // the body cannot be completed: the server closes the
              // connection without the last chunk, so that the client sees
              // a truncated (failed) response rather than a short one
  };
  virtual ~BodyStream() = default;
  // Replaces *out with at most `max` bytes of the body.
  virtual State Pull(std::string* out, size_t max) = 0;
};

// The extra header fields of a response (name, value), in order. The first
// kInline live inside the object, so that the usual answer (one field,
// X-Request-ID) needs no heap block for the list; more go to a vector.
// Thread safety: a value type, one owner.
class HttpHeaders {
 public:
  using Field = std::pair<std::string, std::string>;
  static constexpr size_t kInline = 2;

  template <bool kConst>
  class Iterator {
   public:
    using Owner = std::conditional_t<kConst, const HttpHeaders, HttpHeaders>;
    using iterator_category = std::forward_iterator_tag;
    using value_type = Field;
    using difference_type = std::ptrdiff_t;
    using pointer = std::conditional_t<kConst, const Field*, Field*>;
    using reference = std::conditional_t<kConst, const Field&, Field&>;
    Iterator() = default;
    Iterator(Owner* owner, size_t i) : owner_(owner), i_(i) {}
    reference operator*() const { return (*owner_)[i_]; }
    pointer operator->() const { return &(*owner_)[i_]; }
    Iterator& operator++() {
      ++i_;
      return *this;
    }
    Iterator operator++(int) {
      Iterator old = *this;
      ++i_;
      return old;
    }
    bool operator==(const Iterator& o) const { return i_ == o.i_; }
    bool operator!=(const Iterator& o) const { return i_ != o.i_; }

   private:
    Owner* owner_ = nullptr;
    size_t i_ = 0;
  };
  using iterator = Iterator<false>;
  using const_iterator = Iterator<true>;

  template <typename Name, typename Value>
  Field& emplace_back(Name&& name, Value&& value) {
    if (size_ < kInline) {
      Field& f = inline_[size_++];
      f.first = std::forward<Name>(name);
      f.second = std::forward<Value>(value);
      return f;
    }
    ++size_;
    return more_.emplace_back(std::forward<Name>(name),
                              std::forward<Value>(value));
  }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  void clear() {
    for (size_t i = 0; i < kInline; ++i) inline_[i] = Field();
    more_.clear();
    size_ = 0;
  }
  Field& operator[](size_t i) {
    return i < kInline ? inline_[i] : more_[i - kInline];
  }
  const Field& operator[](size_t i) const {
    return i < kInline ? inline_[i] : more_[i - kInline];
  }
  iterator begin() { return {this, 0}; }
  iterator end() { return {this, size_}; }
  const_iterator begin() const { return {this, 0}; }
  const_iterator end() const { return {this, size_}; }

 private:
  std::array<Field, kInline> inline_;
  std::vector<Field> more_;
  size_t size_ = 0;
};

struct HttpResponse {
  int status = 200;
  // A literal (static storage): every content type the API sends is one,
  // and a string of that length would cost a heap block per response.
  std::string_view content_type = "application/json";
  std::string body;
  HttpHeaders headers;
  // When set, the response is produced later by the poll (see LongPoll);
  // the fields above are then ignored.
  std::shared_ptr<LongPoll> long_poll;
  // When set, the body is this stream and `body` is ignored.
  std::shared_ptr<BodyStream> stream;
};

// Reads a whole stream into a string (tests and in-process callers), waiting
// `poll` between kWait answers. Fails if the stream says kFailed.
Result<std::string> DrainBodyStream(BodyStream& stream,
                                    std::chrono::milliseconds poll =
                                        std::chrono::milliseconds(1));

using HttpHandler = std::function<HttpResponse(HttpRequest&)>;

// A request as the server knows it once its header is read, before its
// body: the request line, the peer, and the header fields, looked up in
// place (nothing is copied). Valid only during the call it is passed to.
class HttpRequestHead {
 public:
  using FieldLookup = std::optional<std::string_view> (*)(
      const void* fields, std::string_view name);
  HttpRequestHead(std::string_view method, std::string_view target,
                  std::string_view remote, FieldLookup lookup,
                  const void* fields)
      : method_(method),
        target_(target),
        remote_(remote),
        lookup_(lookup),
        fields_(fields) {}

  std::string_view method() const { return method_; }
  std::string_view target() const { return target_; }
  // The target before '?', as sent (see HttpRequest::path).
  std::string_view path() const { return target_.substr(0, target_.find('?')); }
  // The target after '?', raw; empty if none.
  std::string_view query() const {
    const size_t q = target_.find('?');
    return q == std::string_view::npos ? std::string_view()
                                       : target_.substr(q + 1);
  }
  std::string_view remote() const { return remote_; }
  // The value of the first header field called `name` (any case), or
  // nullopt.
  std::optional<std::string_view> Header(std::string_view name) const {
    return lookup_(fields_, name);
  }

 private:
  std::string_view method_, target_, remote_;
  FieldLookup lookup_;
  const void* fields_;
};

// Called once a request's header is parsed and before its body is read.
// Returns nullopt to let the request through, or the response to send
// instead (401, 403, 404, ...): the server then sends it with
// "Connection: close", reads none of the body and closes the connection.
using HttpHeadHandler =
    std::function<std::optional<HttpResponse>(const HttpRequestHead&)>;

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 8181;  // 0 picks a free port
  int threads = 2;
  size_t header_limit = 16 * 1024;
  size_t body_limit = 1024 * 1024;
  // Refuses requests from their header (authentication, routing) before the
  // body is read; may be empty. Called from I/O threads, must be
  // thread-safe.
  HttpHeadHandler on_header;
  // Overrides body_limit for some routes (the import endpoint): returns the
  // limit for that method and (raw) path, or nullopt for the default. Asked
  // only for a request on_header let through, so that a large limit serves
  // only authorized callers. The limit applies to the body however it is
  // framed: a Content-Length above it is refused (413) before the body is
  // read, a chunked body as soon as it passes it.
  std::function<std::optional<size_t>(std::string_view method,
                                      std::string_view path)>
      body_limit_for;
  std::chrono::milliseconds read_timeout{30000};   // one whole request
  std::chrono::milliseconds write_timeout{30000};  // one whole response
  std::chrono::milliseconds idle_timeout{60000};   // between requests
  // Called when a connection opens (+1) or closes (-1).
  std::function<void(int delta)> on_connection;
  // Builds the body of an error the server answers itself (400 malformed
  // HTTP, 413 too large, 503 draining). Returns the JSON body.
  std::function<std::string(int status, std::string_view code,
                            std::string_view message)>
      error_body;
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, HttpHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds, listens and starts the I/O threads. Fails if the address does
  // not parse or cannot be bound.
  Status Start();

  // The bound port (the chosen one when the options said 0). Valid after
  // Start succeeded.
  uint16_t port() const { return port_; }

  // Blocks until SIGTERM or SIGINT; calls on_hup (on an I/O thread) for each
  // SIGHUP meanwhile. Returns the signal number that ended the wait.
  int WaitForShutdownSignal(std::function<void()> on_hup);

  // Stops accepting, lets in-flight requests finish (each connection closes
  // after its current response), waits up to `drain` for them, then stops
  // the threads. Idempotent.
  void Stop(std::chrono::milliseconds drain = std::chrono::seconds(10));

  size_t open_connections() const { return open_connections_.load(); }

  struct Impl;  // defined in http_server.cc, the only file that sees Beast

 private:
  std::unique_ptr<Impl> impl_;
  uint16_t port_ = 0;
  std::atomic<size_t> open_connections_{0};
};

// The outcome of reading one request from a connection's bytes, as a
// connection would read it (ParseHttpRequest below).
struct ParsedHttpRequest {
  enum class Kind {
    kRequest,   // `request` holds a complete request for the handler
    kError,     // the server answers `error_status` itself and closes
    kRefused,   // on_header refused it: the server sends `refusal`, closes
    kClose,     // the server closes without answering (eof, incomplete)
  };
  Kind kind = Kind::kClose;
  HttpRequest request;
  bool keep_alive = false;
  int error_status = 0;  // 400 or 413 for kError
  std::string error_code;
  std::string error_message;
  HttpResponse refusal;  // kRefused: what on_header answered
  size_t consumed = 0;  // bytes of the input this request used
};

// Parses the first request in `bytes` with the limits and header callback of
// `options` (header limit, on_header, body limit, body_limit_for) through
// the same parser, limits and conversion a connection uses, without a
// socket: the fuzz target of the
// HTTP session and the tests of malformed input use it. `bytes` is all the
// client ever sent: a request it does not complete is kClose.
ParsedHttpRequest ParseHttpRequest(std::string_view bytes,
                                   const HttpServerOptions& options);

// Percent-decodes `s` ('+' stays '+'). Returns nullopt on a bad escape.
std::optional<std::string> PercentDecode(std::string_view s);

}  // namespace portcullis::server

#endif  // PORTCULLIS_SERVER_HTTP_HTTP_SERVER_H_
