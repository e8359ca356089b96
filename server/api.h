// Api: the daemon's HTTP API as plain functions from HttpRequest to
// HttpResponse. It parses and validates requests, authenticates them, calls
// the engine over one data snapshot and one policy snapshot, and writes the
// JSON reply. No policy logic lives here.
//
// Routing is one table (Api::routes_): method, path pattern with {param}
// segments, the scope a token needs, and the handler. The raw path is split
// at '/' first and each segment is then percent-decoded, so an escaped '/'
// ("%2F") stays inside its segment. A path that matches no pattern is 404;
// one that matches with another method is 405. Route, token and scope are
// decided from the request line and headers alone (Admit), so the server
// refuses an unauthorized request before reading its body (CheckHead).
//
// Thread safety: Handle() may be called from many threads at once. The
// policy and data snapshots are taken once per request.
#ifndef PORTCULLIS_SERVER_API_H_
#define PORTCULLIS_SERVER_API_H_

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/evaluator.h"
#include "server/auth.h"
#include "server/data_source.h"
#include "server/http/http_server.h"
#include "server/json.h"
#include "server/metrics.h"
#include "server/policy_holder.h"
#include "storage/store.h"

namespace portcullis::membership {
struct WorkflowContext;  // membership/membership.h
}  // namespace portcullis::membership

namespace portcullis::server {

// One problem found in a policy text.
struct PolicyDiagnostic {
  std::string file;
  uint32_t line = 0;
  uint32_t column = 0;
  std::string message;
};

// The control-plane operations the API exposes. Each may be empty, and the
// endpoint then answers 503 naming what is not configured.
struct PolicyAdmin {
  // Compiles the configured policy file(s). On failure returns the
  // diagnostics (never empty).
  std::function<std::shared_ptr<const engine::Policy>(
      std::vector<PolicyDiagnostic>* errors)>
      load;
  // Compiles YAML text without publishing it; returns its diagnostics
  // (empty when valid).
  std::function<std::vector<PolicyDiagnostic>(std::string_view yaml)>
      validate;
};

struct ApiOptions {
  bool auth_enabled = true;
  TokenSet tokens;
  size_t max_batch = 1000;          // checks per batch request
  size_t max_page = 10000;          // items per lookup page
  size_t default_page = 100;
  // The base URL the AuthZEN metadata names ("https://pdp.example.com");
  // empty: "http://" + the request's Host header.
  std::string public_url;
  std::chrono::milliseconds max_wait{30000};  // long-poll bound
  // Lines of JSON; empty functions log nothing. Called from I/O threads,
  // must be thread-safe.
  std::function<void(std::string_view line)> access_log;
  std::function<void(std::string_view line)> decision_log;
};

class Api {
 public:
  // `store` serves the data endpoints (writes, listings, changes, import,
  // export); when null they answer 503. `data` serves the decisions.
  Api(ApiOptions options, PolicyHolder* policy, DataSource* data,
      storage::Store* store, PolicyAdmin admin);

  // Answers one request. Never throws; every failure is an error response.
  HttpResponse Handle(HttpRequest& request);

  // The server's header callback (HttpServerOptions::on_header): the answer
  // Handle would give a request that its request line and headers alone
  // refuse (404 no such route, 405 wrong method, 400 bad escape, 401
  // missing or unknown token, 403 too narrow a scope), or nullopt when the
  // request may proceed to its body. The same decision as Handle's (both
  // use Admit); a refusal is counted and access-logged here.
  std::optional<HttpResponse> CheckHead(const HttpRequestHead& head);

  // Reloads the policy through PolicyAdmin::load and publishes it if it
  // compiles; otherwise the running policy stays. Used by SIGHUP and the
  // reload endpoint.
  Status Reload(std::vector<PolicyDiagnostic>* errors);

  // Marks the daemon ready (readyz 200) or draining (readyz 503).
  void SetReady(bool ready) { ready_.store(ready); }

  Metrics& metrics() { return *metrics_; }

  // Every route as "METHOD /pattern/{param}", in table order
  // (docs/openapi.yaml lists the same set; a test checks it).
  std::vector<std::string> RouteNames() const;

  // Per-request state handed to handlers.
  struct Call {
    HttpRequest& request;
    std::vector<std::string> params;  // the {param} segments, in order
    std::string request_id;
    Scope scope = Scope::kNone;
    std::shared_ptr<const LoadedPolicy> policy;  // snapshot for the request
  };

 private:
  using Handler = HttpResponse (Api::*)(Call& call);
  struct Route {
    std::string_view method;
    std::string_view pattern;  // "/v1/resources/{type}/{id}"
    Scope scope;               // kNone: no token needed
    Handler handler;
    std::vector<std::string_view> segments;
    size_t index = 0;  // in routes_ and in the metrics
  };

  // A raw path split at '/', segments still percent-encoded. No route has
  // more than kMaxSegments segments.
  static constexpr size_t kMaxSegments = 8;
  struct PathSegments {
    std::array<std::string_view, kMaxSegments> raw;
    size_t size = 0;
  };
  // False if `path` does not start with '/' or has more segments than any
  // route (no route matches it).
  static bool SplitRawPath(std::string_view path, PathSegments* out);

  // What the request line and the Authorization header decide: the route,
  // or the refusal (400, 404, 405, 401, 403).
  struct Admission {
    const Route* route = nullptr;
    size_t endpoint = 0;  // in the metrics ("other" when no route)
    Scope scope = Scope::kNone;
    std::optional<HttpResponse> refusal;
  };
  Admission Admit(std::string_view method, std::string_view path,
                  std::optional<std::string_view> authorization) const;

  // The client's X-Request-ID if usable, else a new "pc-N".
  std::string RequestId(std::optional<std::string_view> supplied);
  // Adds X-Request-ID; for HEAD, drops the body (Content-Length then says
  // its length).
  static void FinishResponse(HttpResponse* response,
                             const std::string& request_id, bool head);
  // Metrics and the access log line of one answered request.
  void Observe(std::string_view request_id, std::string_view remote,
               std::string_view method, std::string_view path,
               std::string_view query, size_t endpoint,
               const HttpResponse& response, size_t bytes_in,
               std::chrono::steady_clock::time_point start);

  void AddRoute(std::string_view method, std::string_view pattern,
                Scope scope, Handler handler);
  // Whether `segs` matches the route (literal segments compared decoded).
  static bool Match(const Route& route, const PathSegments& segs);

  // Operations.
  HttpResponse Healthz(Call& call);
  HttpResponse Readyz(Call& call);
  HttpResponse MetricsText(Call& call);
  // Decisions (check_handlers.cc).
  HttpResponse Check(Call& call);
  HttpResponse CheckBatch(Call& call);
  HttpResponse Actions(Call& call);
  HttpResponse LookupResources(Call& call);
  HttpResponse LookupSubjects(Call& call);
  // OpenID AuthZEN 1.0 (authzen.cc).
  HttpResponse AuthzenEvaluation(Call& call);
  HttpResponse AuthzenEvaluations(Call& call);
  HttpResponse AuthzenSearchSubject(Call& call);
  HttpResponse AuthzenSearchResource(Call& call);
  HttpResponse AuthzenSearchAction(Call& call);
  HttpResponse AuthzenConfiguration(Call& call);
  HttpResponse AuthzenSingle(const Call& call, const rapidjson::Document& doc);
  engine::Decision AuthzenDecide(const Call& call,
                                 const engine::Evaluator& evaluator,
                                 const engine::DataView& view,
                                 const engine::CheckRequest& request,
                                 uint64_t revision);
  // Data over the store (data_handlers.cc).
  HttpResponse PutResource(Call& call);
  HttpResponse GetResource(Call& call);
  HttpResponse DeleteResource(Call& call);
  HttpResponse PutSubject(Call& call);
  HttpResponse GetSubject(Call& call);
  HttpResponse DeleteSubject(Call& call);
  HttpResponse PutBinding(Call& call);
  HttpResponse GetBindings(Call& call);
  HttpResponse PutRestriction(Call& call);
  HttpResponse GetRestrictions(Call& call);
  HttpResponse Changes(Call& call);
  HttpResponse Import(Call& call);
  HttpResponse Export(Call& call);
  // Runs a write and answers {"revision": "N"} or the error.
  HttpResponse WriteAndAnswer(const Call& call,
                              const std::function<Status(storage::WriteTxn&)>& fn);
  // Membership workflows (workflow_handlers.cc).
  // The context of a workflow call: its decisions go to the decision log.
  membership::WorkflowContext Workflow(const Call& call);
  HttpResponse CreateGroup(Call& call);
  HttpResponse InviteMembers(Call& call);
  HttpResponse ListGroupInvitations(Call& call);
  HttpResponse ListSubjectInvitations(Call& call);
  HttpResponse AnswerInvitation(Call& call, bool accept);
  HttpResponse AcceptInvitation(Call& call);
  HttpResponse DeclineInvitation(Call& call);
  HttpResponse RevokeInvitation(Call& call);
  HttpResponse PutMember(Call& call);
  HttpResponse DeleteMember(Call& call);
  HttpResponse PutPermissions(Call& call);
  HttpResponse PutAccountAdministrator(Call& call);
  HttpResponse DeleteAccountAdministrator(Call& call);
  HttpResponse DeleteAccount(Call& call);
  HttpResponse ListPeople(Call& call);
  // Policy administration.
  HttpResponse GetPolicy(Call& call);
  HttpResponse ValidatePolicy(Call& call);
  HttpResponse ReloadPolicy(Call& call);

  void LogDecision(const Call& call, std::string_view subject,
                   std::string_view action, std::string_view resource,
                   const engine::Decision& decision,
                   std::string_view reason_message, uint64_t revision);

  ApiOptions options_;
  PolicyHolder* policy_;
  DataSource* data_;
  storage::Store* store_;
  PolicyAdmin admin_;
  std::vector<Route> routes_;
  std::unique_ptr<Metrics> metrics_;  // one endpoint per route, then "other"
  std::atomic<bool> ready_{false};
  std::atomic<uint64_t> next_request_id_{1};
  std::mutex reload_mu_;  // one reload at a time
  std::atomic<uint64_t> last_revision_{0};
};

}  // namespace portcullis::server

#endif  // PORTCULLIS_SERVER_API_H_
