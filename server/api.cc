#include "server/api.h"

#include <chrono>
#include <cstdio>

#include "server/http_status.h"

namespace portcullis::server {
namespace {

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

// A request id supplied by the client is used if it is short and printable.
bool UsableRequestId(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (unsigned char c : id) {
    if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') return false;
  }
  return true;
}

}  // namespace

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
  routes_.push_back(std::move(r));
}

std::vector<std::string> Api::RouteNames() const {
  std::vector<std::string> names;
  for (const Route& r : routes_) {
    names.push_back(std::string(r.method) + " " + std::string(r.pattern));
  }
  return names;
}

bool Api::Match(const Route& route,
                const std::vector<std::string_view>& segs,
                std::vector<std::string>* params) {
  if (segs.size() != route.segments.size()) return false;
  params->clear();
  for (size_t i = 0; i < segs.size(); ++i) {
    const std::string_view pat = route.segments[i];
    if (!pat.empty() && pat.front() == '{') {
      if (segs[i].empty()) return false;
      params->emplace_back(segs[i]);
    } else if (pat != segs[i]) {
      return false;
    }
  }
  return true;
}

HttpResponse Api::Handle(HttpRequest& request) {
  const auto start = std::chrono::steady_clock::now();
  Call call{request, {}, {}, Scope::kNone, nullptr};
  const std::string* rid = request.Header("x-request-id");
  if (rid != nullptr && UsableRequestId(*rid)) {
    call.request_id = *rid;
  } else {
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
    call.request_id.assign(p, static_cast<size_t>(end - p));
  }

  HttpResponse response;
  size_t endpoint = routes_.size();  // "other"
  const Route* route = nullptr;
  std::string allowed_methods;
  std::vector<std::string> params;
  // The path is split once; each route compares segments (no allocation
  // per route tried).
  std::vector<std::string_view> segs;
  if (!request.path.empty() && request.path.front() == '/') {
    segs = SplitPath(request.path);
  }
  for (const Route& r : routes_) {
    if (segs.empty() || !Match(r, segs, &params)) continue;
    if (r.method == request.method ||
        (request.method == "HEAD" && r.method == "GET")) {
      route = &r;
      call.params = std::move(params);
      break;
    }
    if (!allowed_methods.empty()) allowed_methods += ", ";
    allowed_methods.append(r.method);
  }

  if (route == nullptr && allowed_methods.empty()) {
    response = ErrorResponse(
        Status::NotFound("no such endpoint: " + request.path));
  } else if (route == nullptr) {
    response = ErrorResponse(Status(
        StatusCode::kInvalidArgument,
        "method " + request.method + " is not allowed on " + request.path +
            " (allowed: " + allowed_methods + ")"));
    response.status = 405;
    response.body = ErrorJson("METHOD_NOT_ALLOWED",
                              "method " + request.method +
                                  " is not allowed on " + request.path +
                                  " (allowed: " + allowed_methods + ")");
    response.headers.emplace_back("Allow", allowed_methods);
  } else {
    endpoint = route->index;
    bool authorized = true;
    if (route->scope != Scope::kNone && options_.auth_enabled) {
      call.scope = options_.tokens.Authenticate(request.Header("authorization"));
      if (call.scope == Scope::kNone) {
        authorized = false;
        response = ErrorResponse(Status(StatusCode::kUnauthenticated,
                                        "a valid bearer token is required"));
        response.headers.emplace_back(
            "WWW-Authenticate",
            call.scope == Scope::kNone && request.Header("authorization")
                ? "Bearer realm=\"portcullis\", error=\"invalid_token\""
                : "Bearer realm=\"portcullis\"");
      } else if (call.scope < route->scope) {
        authorized = false;
        response = ErrorResponse(Status::PermissionDenied(
            "this endpoint needs a token with the " +
            std::string(ScopeName(route->scope)) + " scope"));
      }
    } else {
      call.scope = Scope::kAdmin;
    }
    // Path parameters become stored ids and JSON strings: like JSON bodies
    // (parsed with UTF-8 validation) they must be valid UTF-8.
    for (size_t i = 0; authorized && i < call.params.size(); ++i) {
      if (!IsValidUtf8(call.params[i])) {
        authorized = false;
        response = ErrorResponse(Status::InvalidArgument(
            "a path segment is not valid UTF-8", "path"));
      }
    }
    if (authorized) {
      call.policy = policy_->Current();
      response = (this->*(route->handler))(call);
    }
  }
  response.headers.emplace_back("X-Request-ID", call.request_id);
  if (request.method == "HEAD") {
    response.body.clear();
    response.stream.reset();
  }

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  metrics_->ObserveRequest(endpoint, response.status, seconds);
  if (options_.access_log) {
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    w.Key("time");
    w.String(FormatRfc3339(NowMicros()));
    w.Key("request_id");
    w.String(call.request_id);
    w.Key("remote");
    w.String(request.remote);
    w.Key("method");
    w.String(request.method);
    w.Key("path");
    w.String(request.path);
    w.Key("status");
    w.Int(response.long_poll ? 0 : response.status);
    w.Key("bytes_in");
    w.Uint64(request.body.size());
    w.Key("bytes_out");
    w.Uint64(response.body.size());
    w.Key("micros");
    w.Uint64(static_cast<uint64_t>(seconds * 1e6));
    w.EndObject();
    options_.access_log(std::string_view(buf.GetString(), buf.GetSize()));
  }
  return response;
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
  HttpResponse r;
  r.body.assign(buf.GetString(), buf.GetSize());
  return r;
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
  HttpResponse r;
  r.body.assign(buf.GetString(), buf.GetSize());
  return r;
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
  HttpResponse r;
  r.status = s.ok() ? 200 : HttpStatusFor(s.code());
  r.body.assign(buf.GetString(), buf.GetSize());
  return r;
}

}  // namespace portcullis::server
