#include "server/api.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "common/clock.h"
#include "common/utf8.h"
#include "server/authzen.h"
#include "server/http_status.h"
#include "server/json.h"

namespace portcullis::server {
namespace {

// A request id supplied by the client is echoed whenever it is a valid
// HTTP field value (RFC 9110, section 5.5): visible ASCII, spaces and tabs
// inside, and bytes 0x80-0xFF (obs-text); no other control character. The
// parser has already removed the spaces around it, and the header limit
// bounds its length. An empty value names no request.
bool UsableRequestId(std::string_view id) {
  if (id.empty()) return false;
  for (unsigned char c : id) {
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  }
  return true;
}

}  // namespace

Api::Api(ApiOptions options, PolicyHolder* policy, storage::Store* store,
         PolicyAdmin admin)
    : router_(Routes()) {
  context_.options = std::move(options);
  context_.policy = policy;
  context_.store = store;
  context_.admin = std::move(admin);
  std::vector<std::string> names = RouteNames();
  names.push_back("other");
  context_.metrics = std::make_unique<Metrics>(std::move(names));
}

Api::Admission Api::Admit(std::string_view method, std::string_view path,
                          std::optional<std::string_view> authorization) const {
  Admission a;
  a.endpoint = router_.routes().size();  // "other"
  PathSegments& segs = a.segments;
  const bool split = SplitRawPath(path, &segs);
  for (size_t i = 0; split && i < segs.size; ++i) {
    if (!ValidEscapes(segs.raw[i])) {
      a.refusal = ErrorResponse(Status::InvalidArgument(
          "bad percent-escape in the request path", "path"));
      return a;
    }
  }
  Router::Match match;
  if (split) match = router_.Find(method, segs);
  a.route = match.route;
  if (a.route == nullptr && match.allowed.empty()) {
    a.refusal = ErrorResponse(
        Status::NotFound("no such endpoint: " + std::string(path)));
    return a;
  }
  if (a.route == nullptr) {
    const std::string message = "method " + std::string(method) +
                                " is not allowed on " + std::string(path) +
                                " (allowed: " + match.allowed + ")";
    HttpResponse r;
    r.status = 405;
    r.body = ErrorJson("METHOD_NOT_ALLOWED", message);
    r.headers.emplace_back("Allow", match.allowed);
    a.refusal = std::move(r);
    return a;
  }
  a.endpoint = match.index;
  const ApiOptions& options = context_.options;
  if (a.route->scope == Scope::kNone || !options.auth_enabled) {
    a.scope = Scope::kAdmin;
    return a;
  }
  a.scope = options.tokens.AuthenticateBearer(authorization);
  if (a.scope == Scope::kNone) {
    HttpResponse r = ErrorResponse(Status(StatusCode::kUnauthenticated,
                                          "a valid bearer token is required"));
    r.headers.emplace_back(
        "WWW-Authenticate",
        authorization ? "Bearer realm=\"portcullis\", error=\"invalid_token\""
                      : "Bearer realm=\"portcullis\"");
    a.refusal = std::move(r);
  } else if (a.scope < a.route->scope) {
    a.refusal = ErrorResponse(Status::PermissionDenied(
        "this endpoint needs a token with the " +
        std::string(ScopeName(a.route->scope)) + " scope"));
  }
  return a;
}

std::optional<HttpResponse> Api::DecodeParams(const Admission& a,
                                              Call* call) const {
  // Split at '/' first, then decode each segment: an escaped '/' stays
  // inside its segment. Path parameters become stored ids and JSON
  // strings: like JSON bodies (parsed with UTF-8 validation) they must be
  // valid UTF-8.
  const uint32_t mask = router_.ParamMask(a.endpoint);
  for (size_t i = 0; i < a.segments.size; ++i) {
    if ((mask & (1u << i)) == 0) continue;
    std::optional<std::string> param = PercentDecode(a.segments.raw[i]);
    if (!param || !IsValidUtf8(*param)) {
      return ErrorResponse(
          Status::InvalidArgument("a path segment is not valid UTF-8", "path"));
    }
    call->params.push_back(std::move(*param));
  }
  return std::nullopt;
}

std::string Api::RequestId(std::optional<std::string_view> supplied) {
  if (supplied && UsableRequestId(*supplied)) return std::string(*supplied);
  // "pc-" and the counter in hex (snprintf costs more than the check).
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t n = next_request_id_.fetch_add(1, std::memory_order_relaxed);
  char buf[3 + 16];
  char* end = buf + sizeof(buf);
  char* p = end;
  do {
    *--p = kHex[n & 15];
    n >>= 4;
  } while (n != 0);
  *--p = '-';
  *--p = 'c';
  *--p = 'p';
  return std::string(p, static_cast<size_t>(end - p));
}

std::optional<HttpResponse> Api::CheckHead(const HttpRequestHead& head) {
  const auto start = std::chrono::steady_clock::now();
  Admission a = Admit(head.method(), head.path(), head.Header("authorization"));
  if (!a.refusal) return std::nullopt;
  const std::string request_id = RequestId(head.Header("x-request-id"));
  HttpResponse& response = *a.refusal;
  FinishResponse(&response, request_id, head.method() == "HEAD", head.path());
  Observe(request_id, head.remote(), head.method(), head.path(), head.query(),
          a.endpoint, response, /*bytes_in=*/0, start);
  return std::move(a.refusal);
}

void Api::FinishResponse(HttpResponse* response, const std::string& request_id,
                         bool head, std::string_view path) {
  if (response->status >= 400 && authzen::IsAuthzenPath(path)) {
    authzen::UseErrorBody(response);
  }
  response->headers.emplace_back("X-Request-ID", request_id);
  if (!head) return;
  // The answer to HEAD carries the GET answer's headers without its body;
  // Content-Length says how long that body is (none for a streamed one).
  if (!response->body.empty() && !response->stream) {
    response->headers.emplace_back("Content-Length",
                                   std::to_string(response->body.size()));
  }
  response->body.clear();
  response->stream.reset();
}

HttpResponse Api::Handle(HttpRequest& request) {
  const auto start = std::chrono::steady_clock::now();
  Call call{context_, request, {}, {}, Scope::kNone, nullptr};
  const size_t bytes_in = request.body.size();  // a write off-thread takes it
  const std::string* rid = request.Header("x-request-id");
  call.request_id =
      RequestId(rid ? std::optional<std::string_view>(*rid) : std::nullopt);
  const std::string* authorization = request.Header("authorization");
  Admission a =
      Admit(request.method, request.path,
            authorization ? std::optional<std::string_view>(*authorization)
                          : std::nullopt);
  HttpResponse response;
  if (a.refusal) {
    response = std::move(*a.refusal);
  } else if (std::optional<HttpResponse> bad = DecodeParams(a, &call)) {
    response = std::move(*bad);
  } else if (std::optional<std::string_view> repeated =
                 request.RepeatedQueryParam()) {
    // A parameter given twice would be read as its first value by the
    // handler and perhaps as its last by a proxy or an auditor.
    response = ErrorResponse(
        Status::InvalidArgument("query parameter " + std::string(*repeated) +
                                    " is given more than once",
                                std::string(*repeated)));
  } else {
    call.scope = a.scope;
    call.policy = context_.policy->Current();
    if (context_.options.replica.run_write && a.route->scope == Scope::kAdmin &&
        request.method != "GET" && request.method != "HEAD") {
      response = RunWriteOffThread(call, a.route->handler);
    } else {
      response = RunWithRevisionWait(call, a.route->handler);
    }
  }
  const bool head = request.method == "HEAD";
  FinishResponse(&response, call.request_id, head, request.path);
  if (response.long_poll) {
    // The final answer comes from the poll: it gets the same headers, and
    // no body for HEAD.
    response.long_poll->poll =
        [poll = std::move(response.long_poll->poll), id = call.request_id,
         head](bool final) -> std::optional<HttpResponse> {
      std::optional<HttpResponse> r = poll(final);
      if (r) FinishResponse(&*r, id, head, /*path=*/{});
      return r;
    };
  }
  Observe(call.request_id, request.remote, request.method, request.path,
          request.query, a.endpoint, response, bytes_in, start);
  return response;
}

namespace {

// Query parameters whose values the access log shows; any other
// parameter's value is replaced by "{redacted}" (a client may put a
// secret where it does not belong).
bool LoggedQueryParam(std::string_view name) {
  for (std::string_view known : {"actor", "limit", "page_token", "resource",
                                 "since", "state", "subject", "wait"}) {
    if (name == known) return true;
  }
  return false;
}

// The path as the access log shows it: an invitation id is a bearer secret
// (whoever holds it may accept the invitation), so the segment after
// /v1/invitations/ is replaced by "{redacted}".
// Both write into *out, which they clear first (a reused buffer).
void LoggedPath(std::string_view path, std::string* out) {
  constexpr std::string_view kInvitations = "/v1/invitations/";
  out->clear();
  if (path.substr(0, kInvitations.size()) == kInvitations) {
    const size_t end = path.find('/', kInvitations.size());
    out->append(kInvitations).append("{redacted}");
    if (end != std::string_view::npos) {
      AppendValidUtf8(path.substr(end), out);
    }
    return;
  }
  AppendValidUtf8(path, out);
}

void LoggedQuery(std::string_view query, std::string* out_text) {
  std::string& out = *out_text;
  out.clear();
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view()
                                          : query.substr(amp + 1);
    if (!out.empty()) out.push_back('&');
    const size_t eq = pair.find('=');
    const std::string_view name = pair.substr(0, eq);
    if (eq == std::string_view::npos || LoggedQueryParam(name)) {
      AppendValidUtf8(pair, &out);
    } else {
      AppendValidUtf8(name, &out);
      out.append("={redacted}");
    }
  }
}

void WriteString(JsonWriter& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

}  // namespace

void Api::Observe(std::string_view request_id, std::string_view remote,
                  std::string_view method, std::string_view path,
                  std::string_view query, size_t endpoint,
                  const HttpResponse& response, size_t bytes_in,
                  std::chrono::steady_clock::time_point start) {
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  context_.metrics->ObserveRequest(endpoint, response.status, seconds);
  if (!context_.options.access_log) return;
  // The line and its pieces are written into this thread's buffers: no
  // heap block once they have grown to fit.
  thread_local ReusedJsonWriter line;
  thread_local std::string method_text, path_text, query_text;
  JsonWriter& w = line.Start();
  Rfc3339Buffer time;
  w.StartObject();
  w.Key("time");
  WriteString(w, FormatRfc3339(NowMicros(), &time));
  w.Key("request_id");
  // A client's id may hold bytes that are not UTF-8 (obs-text).
  thread_local std::string request_id_text;
  request_id_text.clear();
  AppendValidUtf8(request_id, &request_id_text);
  WriteString(w, request_id_text);
  w.Key("remote");
  WriteString(w, remote);
  w.Key("method");
  method_text.clear();
  AppendValidUtf8(method, &method_text);
  WriteString(w, method_text);
  w.Key("path");
  LoggedPath(path, &path_text);
  WriteString(w, path_text);
  w.Key("query");
  LoggedQuery(query, &query_text);
  WriteString(w, query_text);
  w.Key("status");
  w.Int(response.long_poll ? 0 : response.status);
  w.Key("bytes_in");
  w.Uint64(bytes_in);
  w.Key("bytes_out");
  w.Uint64(response.body.size());
  w.Key("micros");
  w.Uint64(static_cast<uint64_t>(seconds * 1e6));
  w.EndObject();
  context_.options.access_log(line.text());
}

}  // namespace portcullis::server
