#include "server/api.h"

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "server/http_status.h"

namespace portcullis::server {
namespace {

// Splits a route pattern at '/'.
std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> out;
  size_t start = 1;  // skip the leading '/'
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    out.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Whether every '%' in `raw` starts a two-hex-digit escape.
bool ValidEscapes(std::string_view raw) {
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '%') continue;
    if (i + 2 >= raw.size()) return false;
    if (HexDigit(raw[i + 1]) < 0 || HexDigit(raw[i + 2]) < 0) return false;
    i += 2;
  }
  return true;
}

// Whether the raw segment `raw` percent-decodes to `literal`, without
// decoding it into a buffer. REQUIRES: ValidEscapes(raw).
bool DecodesTo(std::string_view raw, std::string_view literal) {
  size_t j = 0;
  for (size_t i = 0; i < raw.size(); ++i, ++j) {
    char c = raw[i];
    if (c == '%') {
      c = static_cast<char>(HexDigit(raw[i + 1]) * 16 + HexDigit(raw[i + 2]));
      i += 2;
    }
    if (j >= literal.size() || literal[j] != c) return false;
  }
  return j == literal.size();
}

// A request id supplied by the client is used if it is short and printable.
bool UsableRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (unsigned char c : id) {
    if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') return false;
  }
  return true;
}

}  // namespace

bool Api::SplitRawPath(std::string_view path, PathSegments* out) {
  out->size = 0;
  if (path.empty() || path.front() != '/') return false;
  size_t start = 1;  // skip the leading '/'
  while (start <= path.size()) {
    if (out->size == kMaxSegments) return false;  // longer than any route
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    out->raw[out->size++] = path.substr(start, end - start);
    start = end + 1;
  }
  return true;
}

Api::Api(ApiOptions options, PolicyHolder* policy, DataSource* data,
         storage::Store* store, PolicyAdmin admin)
    : options_(std::move(options)),
      policy_(policy),
      data_(data),
      store_(store),
      admin_(std::move(admin)) {
  AddRoute("GET", "/healthz", Scope::kNone, &Api::Healthz);
  AddRoute("GET", "/readyz", Scope::kNone, &Api::Readyz);
  AddRoute("GET", "/metrics", Scope::kCheck, &Api::MetricsText);
  AddRoute("POST", "/v1/check", Scope::kCheck, &Api::Check);
  AddRoute("POST", "/v1/check/batch", Scope::kCheck, &Api::CheckBatch);
  AddRoute("POST", "/v1/actions", Scope::kCheck, &Api::Actions);
  AddRoute("POST", "/v1/lookup/resources", Scope::kCheck,
           &Api::LookupResources);
  AddRoute("POST", "/v1/lookup/subjects", Scope::kCheck,
           &Api::LookupSubjects);
  AddRoute("PUT", "/v1/resources/{type}/{id}", Scope::kAdmin,
           &Api::PutResource);
  AddRoute("GET", "/v1/resources/{type}/{id}", Scope::kCheck,
           &Api::GetResource);
  AddRoute("DELETE", "/v1/resources/{type}/{id}", Scope::kAdmin,
           &Api::DeleteResource);
  AddRoute("PUT", "/v1/subjects/{type}/{id}", Scope::kAdmin, &Api::PutSubject);
  AddRoute("GET", "/v1/subjects/{type}/{id}", Scope::kCheck, &Api::GetSubject);
  AddRoute("DELETE", "/v1/subjects/{type}/{id}", Scope::kAdmin,
           &Api::DeleteSubject);
  AddRoute("PUT", "/v1/bindings", Scope::kAdmin, &Api::PutBinding);
  AddRoute("GET", "/v1/bindings", Scope::kCheck, &Api::GetBindings);
  AddRoute("PUT", "/v1/restrictions", Scope::kAdmin, &Api::PutRestriction);
  AddRoute("GET", "/v1/restrictions", Scope::kCheck, &Api::GetRestrictions);
  AddRoute("GET", "/v1/changes", Scope::kCheck, &Api::Changes);
  AddRoute("POST", "/v1/import", Scope::kAdmin, &Api::Import);
  AddRoute("GET", "/v1/export", Scope::kAdmin, &Api::Export);
  AddRoute("GET", "/v1/policy", Scope::kCheck, &Api::GetPolicy);
  AddRoute("POST", "/v1/policy/validate", Scope::kAdmin,
           &Api::ValidatePolicy);
  AddRoute("POST", "/v1/policy/reload", Scope::kAdmin, &Api::ReloadPolicy);
  // Membership workflows (issue 5; workflow_handlers.cc).
  AddRoute("POST", "/v1/groups", Scope::kAdmin, &Api::CreateGroup);
  AddRoute("POST", "/v1/groups/{id}/invitations", Scope::kAdmin,
           &Api::InviteMembers);
  AddRoute("GET", "/v1/groups/{id}/invitations", Scope::kCheck,
           &Api::ListGroupInvitations);
  AddRoute("GET", "/v1/subjects/{type}/{id}/invitations", Scope::kCheck,
           &Api::ListSubjectInvitations);
  AddRoute("POST", "/v1/invitations/{id}/accept", Scope::kAdmin,
           &Api::AcceptInvitation);
  AddRoute("POST", "/v1/invitations/{id}/decline", Scope::kAdmin,
           &Api::DeclineInvitation);
  AddRoute("DELETE", "/v1/invitations/{id}", Scope::kAdmin,
           &Api::RevokeInvitation);
  AddRoute("PUT", "/v1/groups/{id}/members/{subject}", Scope::kAdmin,
           &Api::PutMember);
  AddRoute("DELETE", "/v1/groups/{id}/members/{subject}", Scope::kAdmin,
           &Api::DeleteMember);
  AddRoute("PUT", "/v1/permissions", Scope::kAdmin, &Api::PutPermissions);
  AddRoute("PUT", "/v1/accounts/{id}/administrators/{subject}", Scope::kAdmin,
           &Api::PutAccountAdministrator);
  AddRoute("DELETE", "/v1/accounts/{id}/administrators/{subject}",
           Scope::kAdmin, &Api::DeleteAccountAdministrator);
  AddRoute("DELETE", "/v1/accounts/{id}", Scope::kAdmin, &Api::DeleteAccount);
  AddRoute("GET", "/v1/accounts/{id}/people", Scope::kCheck, &Api::ListPeople);
  // OpenID AuthZEN Authorization API 1.0 (authzen.cc).
  AddRoute("POST", "/access/v1/evaluation", Scope::kCheck,
           &Api::AuthzenEvaluation);
  AddRoute("POST", "/access/v1/evaluations", Scope::kCheck,
           &Api::AuthzenEvaluations);
  AddRoute("POST", "/access/v1/search/subject", Scope::kCheck,
           &Api::AuthzenSearchSubject);
  AddRoute("POST", "/access/v1/search/resource", Scope::kCheck,
           &Api::AuthzenSearchResource);
  AddRoute("POST", "/access/v1/search/action", Scope::kCheck,
           &Api::AuthzenSearchAction);
  AddRoute("GET", "/.well-known/authzen-configuration", Scope::kNone,
           &Api::AuthzenConfiguration);

  std::vector<std::string> names;
  for (const Route& r : routes_) {
    names.push_back(std::string(r.method) + " " + std::string(r.pattern));
  }
  names.push_back("other");
  metrics_ = std::make_unique<Metrics>(std::move(names));
}

void Api::AddRoute(std::string_view method, std::string_view pattern,
                   Scope scope, Handler handler) {
  Route r{method, pattern, scope, handler, SplitPath(pattern), routes_.size()};
  if (r.segments.size() > kMaxSegments) std::abort();  // a bad route table
  routes_.push_back(std::move(r));
}

std::vector<std::string> Api::RouteNames() const {
  std::vector<std::string> names;
  for (const Route& r : routes_) {
    names.push_back(std::string(r.method) + " " + std::string(r.pattern));
  }
  return names;
}

bool Api::Match(const Route& route, const PathSegments& segs) {
  if (segs.size != route.segments.size()) return false;
  for (size_t i = 0; i < segs.size; ++i) {
    const std::string_view pat = route.segments[i];
    if (!pat.empty() && pat.front() == '{') {
      if (segs.raw[i].empty()) return false;
    } else if (!DecodesTo(segs.raw[i], pat)) {
      return false;
    }
  }
  return true;
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

Api::Admission Api::Admit(
    std::string_view method, std::string_view path,
    std::optional<std::string_view> authorization) const {
  Admission a;
  a.endpoint = routes_.size();  // "other"
  PathSegments segs;
  const bool split = SplitRawPath(path, &segs);
  for (size_t i = 0; split && i < segs.size; ++i) {
    if (!ValidEscapes(segs.raw[i])) {
      a.refusal = ErrorResponse(Status::InvalidArgument(
          "bad percent-escape in the request path", "path"));
      return a;
    }
  }
  std::string allowed_methods;  // built only when the method is wrong
  for (const Route& r : routes_) {
    if (!split || !Match(r, segs)) continue;
    if (r.method == method || (method == "HEAD" && r.method == "GET")) {
      a.route = &r;
      break;
    }
    if (!allowed_methods.empty()) allowed_methods += ", ";
    allowed_methods.append(r.method);
  }
  if (a.route == nullptr && allowed_methods.empty()) {
    a.refusal = ErrorResponse(
        Status::NotFound("no such endpoint: " + std::string(path)));
    return a;
  }
  if (a.route == nullptr) {
    const std::string message = "method " + std::string(method) +
                                " is not allowed on " + std::string(path) +
                                " (allowed: " + allowed_methods + ")";
    HttpResponse r;
    r.status = 405;
    r.body = ErrorJson("METHOD_NOT_ALLOWED", message);
    r.headers.emplace_back("Allow", allowed_methods);
    a.refusal = std::move(r);
    return a;
  }
  a.endpoint = a.route->index;
  if (a.route->scope == Scope::kNone || !options_.auth_enabled) {
    a.scope = Scope::kAdmin;
    return a;
  }
  a.scope = options_.tokens.AuthenticateBearer(authorization);
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

std::optional<HttpResponse> Api::CheckHead(const HttpRequestHead& head) {
  const auto start = std::chrono::steady_clock::now();
  Admission a =
      Admit(head.method(), head.path(), head.Header("authorization"));
  if (!a.refusal) return std::nullopt;
  const std::string request_id = RequestId(head.Header("x-request-id"));
  HttpResponse& response = *a.refusal;
  FinishResponse(&response, request_id, head.method() == "HEAD");
  Observe(request_id, head.remote(), head.method(), head.path(), head.query(),
          a.endpoint, response, /*bytes_in=*/0, start);
  return std::move(a.refusal);
}

void Api::FinishResponse(HttpResponse* response, const std::string& request_id,
                         bool head) {
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
  Call call{request, {}, {}, Scope::kNone, nullptr};
  const std::string* rid = request.Header("x-request-id");
  call.request_id = RequestId(rid ? std::optional<std::string_view>(*rid)
                                  : std::nullopt);
  const std::string* authorization = request.Header("authorization");
  Admission a = Admit(request.method, request.path,
                      authorization
                          ? std::optional<std::string_view>(*authorization)
                          : std::nullopt);
  HttpResponse response;
  if (a.refusal) {
    response = std::move(*a.refusal);
  } else {
    call.scope = a.scope;
    // Split at '/' first, then decode each segment: an escaped '/' stays
    // inside its segment. Path parameters become stored ids and JSON
    // strings: like JSON bodies (parsed with UTF-8 validation) they must be
    // valid UTF-8.
    PathSegments segs;
    SplitRawPath(request.path, &segs);
    bool ok = true;
    for (size_t i = 0; i < segs.size; ++i) {
      if (a.route->segments[i].empty() ||
          a.route->segments[i].front() != '{') {
        continue;
      }
      std::optional<std::string> param = PercentDecode(segs.raw[i]);
      if (!param || !IsValidUtf8(*param)) {
        ok = false;
        response = ErrorResponse(Status::InvalidArgument(
            "a path segment is not valid UTF-8", "path"));
        break;
      }
      call.params.push_back(std::move(*param));
    }
    // A parameter given twice would be read as its first value by the
    // handler and perhaps as its last by a proxy or an auditor.
    if (ok) {
      if (std::optional<std::string_view> repeated =
              request.RepeatedQueryParam()) {
        ok = false;
        response = ErrorResponse(Status::InvalidArgument(
            "query parameter " + std::string(*repeated) +
                " is given more than once",
            std::string(*repeated)));
      }
    }
    if (ok) {
      call.policy = policy_->Current();
      response = (this->*(a.route->handler))(call);
    }
  }
  const bool head = request.method == "HEAD";
  FinishResponse(&response, call.request_id, head);
  if (response.long_poll) {
    // The final answer comes from the poll: it gets the same headers, and
    // no body for HEAD.
    response.long_poll->poll =
        [poll = std::move(response.long_poll->poll), id = call.request_id,
         head](bool final) -> std::optional<HttpResponse> {
      std::optional<HttpResponse> r = poll(final);
      if (r) FinishResponse(&*r, id, head);
      return r;
    };
  }
  Observe(call.request_id, request.remote, request.method, request.path,
          request.query, a.endpoint, response, request.body.size(), start);
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
std::string LoggedPath(std::string_view path) {
  constexpr std::string_view kInvitations = "/v1/invitations/";
  std::string out;
  if (path.substr(0, kInvitations.size()) == kInvitations) {
    const size_t end = path.find('/', kInvitations.size());
    out.append(kInvitations).append("{redacted}");
    if (end != std::string_view::npos) {
      AppendValidUtf8(path.substr(end), &out);
    }
    return out;
  }
  AppendValidUtf8(path, &out);
  return out;
}

std::string LoggedQuery(std::string_view query) {
  std::string out;
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
  return out;
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
  metrics_->ObserveRequest(endpoint, response.status, seconds);
  if (!options_.access_log) return;
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("time");
  w.String(FormatRfc3339(NowMicros()));
  w.Key("request_id");
  w.String(request_id.data(), request_id.size());
  w.Key("remote");
  w.String(remote.data(), remote.size());
  w.Key("method");
  w.String(ValidUtf8(method));
  w.Key("path");
  w.String(LoggedPath(path));
  w.Key("query");
  w.String(LoggedQuery(query));
  w.Key("status");
  w.Int(response.long_poll ? 0 : response.status);
  w.Key("bytes_in");
  w.Uint64(bytes_in);
  w.Key("bytes_out");
  w.Uint64(response.body.size());
  w.Key("micros");
  w.Uint64(static_cast<uint64_t>(seconds * 1e6));
  w.EndObject();
  options_.access_log(std::string_view(buf.GetString(), buf.GetSize()));
}

HttpResponse Api::Healthz(Call&) {
  HttpResponse r;
  r.body = "{\"status\":\"ok\"}";
  return r;
}

HttpResponse Api::Readyz(Call& call) {
  HttpResponse r;
  if (!ready_.load() || call.policy == nullptr) {
    r.status = 503;
    r.body = "{\"status\":\"not ready\"}";
    return r;
  }
  r.body = "{\"status\":\"ready\"}";
  return r;
}

HttpResponse Api::MetricsText(Call&) {
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4";
  uint64_t revision = 0;
  if (auto snap = data_->Snapshot()) revision = (*snap)->revision();
  uint64_t bytes = 0;
  if (store_ != nullptr) {
    if (auto stats = store_->GetStats()) bytes = stats->used_bytes;
  }
  r.body = metrics_->Render(revision, bytes);
  return r;
}

void Api::LogDecision(const Call& call, std::string_view subject,
                      std::string_view action, std::string_view resource,
                      const engine::Decision& decision,
                      std::string_view reason_message, uint64_t revision) {
  metrics_->ObserveDecision(decision.allowed);
  if (!options_.decision_log) return;
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("time");
  w.String(FormatRfc3339(NowMicros()));
  w.Key("request_id");
  w.String(call.request_id);
  w.Key("subject");
  w.String(subject.data(), subject.size());
  w.Key("action");
  w.String(action.data(), action.size());
  w.Key("resource");
  w.String(resource.data(), resource.size());
  w.Key("decision");
  w.String(decision.allowed ? "allow" : "deny");
  w.Key("reason");
  const std::string_view code = engine::ReasonCodeName(decision.reason.code);
  w.String(code.data(), code.size());
  w.Key("message");
  w.String(reason_message.data(), reason_message.size());
  w.Key("policy_version");
  w.String(call.policy ? call.policy->policy->version : std::string());
  w.Key("revision");
  w.String(std::to_string(revision));
  w.EndObject();
  options_.decision_log(std::string_view(buf.GetString(), buf.GetSize()));
}

// ---- Policy administration ----

namespace {

void WriteDiagnostics(JsonWriter& w,
                      const std::vector<PolicyDiagnostic>& errors) {
  w.StartArray();
  for (const PolicyDiagnostic& d : errors) {
    w.StartObject();
    w.Key("file");
    w.String(d.file);
    w.Key("line");
    w.Uint(d.line);
    w.Key("column");
    w.Uint(d.column);
    w.Key("message");
    w.String(d.message);
    w.EndObject();
  }
  w.EndArray();
}

}  // namespace

Status Api::Reload(std::vector<PolicyDiagnostic>* errors) {
  if (!admin_.load) {
    return Status(StatusCode::kUnavailable, "no policy file is configured");
  }
  std::lock_guard<std::mutex> lock(reload_mu_);
  std::vector<PolicyDiagnostic> diags;
  std::shared_ptr<const engine::Policy> policy = admin_.load(&diags);
  if (policy == nullptr) {
    metrics_->ObserveReload(false);
    if (diags.empty()) diags.push_back({"", 0, 0, "the policy failed to load"});
    std::string first = diags.front().message;
    if (errors) *errors = std::move(diags);
    return Status::FailedPrecondition(
        "the policy failed validation; the running policy stays: " + first);
  }
  policy_->Publish(std::move(policy));
  metrics_->ObserveReload(true);
  return Status::Ok();
}

HttpResponse Api::GetPolicy(Call& call) {
  const LoadedPolicy& lp = *call.policy;
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("name");
  w.String(lp.policy->name);
  w.Key("version");
  w.String(lp.policy->version);
  w.Key("source_files");
  w.StartArray();
  for (const std::string& f : lp.policy->source_files) w.String(f);
  w.EndArray();
  w.Key("loaded_at");
  w.String(FormatRfc3339(lp.loaded_at));
  w.EndObject();
  return JsonResponse(buf);
}

HttpResponse Api::ValidatePolicy(Call& call) {
  if (!admin_.validate) {
    return ErrorResponse(
        Status(StatusCode::kUnavailable, "policy validation is not available"));
  }
  const std::vector<PolicyDiagnostic> errors =
      admin_.validate(call.request.body);
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("valid");
  w.Bool(errors.empty());
  w.Key("errors");
  WriteDiagnostics(w, errors);
  w.EndObject();
  return JsonResponse(buf);
}

HttpResponse Api::ReloadPolicy(Call&) {
  std::vector<PolicyDiagnostic> errors;
  Status s = Reload(&errors);
  if (!s.ok() && errors.empty()) return ErrorResponse(s);
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  if (s.ok()) {
    std::shared_ptr<const LoadedPolicy> lp = policy_->Current();
    w.Key("reloaded");
    w.Bool(true);
    w.Key("version");
    w.String(lp->policy->version);
  } else {
    w.Key("error");
    w.StartObject();
    w.Key("code");
    w.String("FAILED_PRECONDITION");
    w.Key("message");
    w.String(s.message());
    w.EndObject();
    w.Key("errors");
    WriteDiagnostics(w, errors);
  }
  w.EndObject();
  HttpResponse r = JsonResponse(buf);
  r.status = s.ok() ? 200 : HttpStatusFor(s.code());
  return r;
}

}  // namespace portcullis::server
