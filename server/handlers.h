// The handlers of the HTTP API: plain functions from one request (a Call)
// to its response, listed here by the file that holds them. The route table
// (server/routes.cc) maps method and path to these functions; Api (api.h)
// admits a request, builds its Call and calls one of them. Unit tests call
// them through Api::Handle, without sockets.
//
// A handler parses and validates the request, calls the engine, the store
// or the membership rules, and writes the JSON answer. It holds no policy
// logic and never throws: every failure is an error response.
//
// Thread safety: handlers run on many I/O threads at once. ApiContext is
// shared by them; everything in it is either immutable after start-up or
// safe to use from any thread (PolicyHolder, Store, Metrics, the atomics,
// reload_mu). A Call belongs to one request and one thread.
#ifndef PORTCULLIS_SERVER_HANDLERS_H_
#define PORTCULLIS_SERVER_HANDLERS_H_

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

#include "common/mutex.h"
#include "common/status.h"
#include "engine/evaluator.h"
#include "engine/lookup.h"
#include "index/index_view.h"
#include "server/auth.h"
#include "server/http/http_server.h"
#include "server/http_status.h"
#include "server/metrics.h"
#include "server/page_token.h"
#include "server/policy_holder.h"
#include "storage/store.h"

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
  std::function<std::vector<PolicyDiagnostic>(std::string_view yaml)> validate;
};

// Cluster mode (docs/scale-out.md): the store is a replica of a PostgreSQL
// source. What the replica says of itself, for /readyz and /metrics.
struct ReplicaStatus {
  uint64_t revision = 0;         // applied by this node's replica
  uint64_t source_revision = 0;  // the newest revision seen at the source
  int64_t lag_ms = 0;  // age of the oldest commit not yet applied (0: none)
  bool source_reachable = false;
  int64_t staleness_ms = 0;  // since the source was last read successfully
  uint64_t bootstraps = 0;   // snapshots loaded by this process
  uint64_t rebootstraps = 0;  // bootstraps again (start-up or in place)
  uint64_t applied_changes = 0;
  bool stuck = false;  // cannot follow any more: restart to bootstrap again
  std::string last_error;
};

// Set by `portcullis serve --source`; both empty in the embedded mode.
// Called from I/O threads: must be thread-safe.
struct ReplicaHooks {
  std::function<ReplicaStatus()> status;
  // The revision the replica has applied; cheap (no LMDB transaction).
  std::function<uint64_t()> revision;
  // Calls `wake` once (from the thread that applies; it must be cheap) when
  // the replica reaches `revision`, at once if it is there. Returns a handle
  // that cancels the call when dropped, or null when too many reads wait
  // already (the read is then answered 503 at once).
  std::function<std::shared_ptr<void>(uint64_t revision,
                                      std::function<void()> wake)>
      watch;
  // Runs `task` on a thread that may block for as long as a write takes
  // (a pool of its own), not on an I/O thread: in cluster mode a write
  // waits for its group's PostgreSQL commit, and writes that wait together
  // commit together. Empty: writes run on the I/O thread that read them.
  std::function<void(std::function<void()> task)> run_write;
  // Milliseconds since the replica last heard from its source, while the
  // source is unreachable; -1 while it is reachable. Decision answers carry
  // it as "stale_ms" when it is 0 or more. Called on every decision answer:
  // must be cheap.
  std::function<int64_t()> stale_ms;
};


struct ApiOptions {
  bool auth_enabled = true;
  TokenSet tokens;
  size_t max_batch = 1000;  // checks per batch request
  size_t max_page = 10000;  // items per lookup page
  size_t default_page = 100;
  // The base URL the AuthZEN metadata names ("https://pdp.example.com");
  // empty: "http://" + the request's Host header.
  std::string public_url;
  // Seals and opens every page token (server/page_token.h); random unless
  // the daemon is configured with a secret.
  PageTokenKey page_token_key;
  std::chrono::milliseconds max_wait{30000};  // long-poll bound
  ReplicaHooks replica;
  // How long a read with at_least_revision (or the
  // X-Portcullis-At-Least-Revision header) waits for the replica.
  std::chrono::milliseconds revision_wait{2000};
  // Lines of JSON; empty functions log nothing. Called from I/O threads,
  // must be thread-safe.
  std::function<void(std::string_view line)> access_log;
  std::function<void(std::string_view line)> decision_log;
};

// What the handlers act on: the daemon's configured parts. Owned by Api.
// Invariants: `policy` and `metrics` are never null; `store` may be null
// only in tests of routing and documents, and every endpoint that reads or
// writes data then answers 503 (NoStoreResponse).
struct ApiContext {
  ApiOptions options;
  PolicyHolder* policy = nullptr;
  storage::Store* store = nullptr;
  const index::DecisionIndex* index = nullptr;  // null: checks read LMDB
  PolicyAdmin admin;
  std::unique_ptr<Metrics> metrics;
  std::atomic<bool> ready{false};
  Mutex reload_mu;  // one policy reload at a time (ReloadPolicy)
};

// One request on its way through a handler.
struct Call {
  ApiContext& api;
  HttpRequest& request;
  std::vector<std::string> params;  // the {param} segments, decoded, in order
  std::string request_id;
  Scope scope = Scope::kNone;
  std::shared_ptr<const LoadedPolicy> policy;  // one snapshot per request
  // At_least_revision in cluster mode (AwaitRevision): whether this run of
  // the handler may leave the wait to the server (Api::Handle's first run),
  // and the revision it then waits for. The I/O thread is not held: Api
  // answers with a long poll that runs the handler again once the replica
  // has the revision, or at the deadline (then the answer is 503).
  bool may_wait = false;
  uint64_t waits_for = 0;
};

using Handler = HttpResponse (*)(Call& call);

// The replica's staleness (ReplicaHooks::stale_ms), or -1: in the embedded
// mode, and while the source is reachable.
inline int64_t StaleMs(const Call& call) {
  const std::function<int64_t()>& f = call.api.options.replica.stale_ms;
  return f ? f() : -1;
}

// Reloads the policy through PolicyAdmin::load and publishes it if it
// compiles; otherwise the running policy stays. Used by SIGHUP (Api::Reload)
// and POST /v1/policy/reload.
Status ReloadPolicy(ApiContext& api, std::vector<PolicyDiagnostic>* errors)
    EXCLUDES(api.reload_mu);

// Counts the decision and writes its decision-log line (when a decision log
// is configured). `reason_message` is the reason as text.
void LogDecision(const Call& call, std::string_view subject,
                 std::string_view action, std::string_view resource,
                 const engine::Decision& decision,
                 std::string_view reason_message, uint64_t revision);

// Opens one read view of the store for a decision endpoint and returns
// `fn(view, evaluator)` over it and the request's policy; or the error
// response when no view can be opened (503 without a store or with the
// reader table full). The view lives on this frame and is released when
// `fn` returns: no view outlives the handler or crosses a wait.
// The view reads through the decision index when there is one (and it is
// ready and current: index/index_view.h), else LMDB alone.
template <typename Fn>
HttpResponse WithReadView(const Call& call, Fn&& fn) {
  if (call.api.store == nullptr) return NoStoreResponse();
  Result<storage::ReadView> view = call.api.store->Read();
  if (!view) return ErrorResponse(view.error());
  const index::IndexView data(call.api.index, &*view);
  const engine::Evaluator evaluator(*call.policy->policy);
  return fn(data, evaluator);
}
// As WithReadView, over LMDB alone: for subject lookups, which gather their
// candidates from LMDB and may run long, and must not hold the index's lock
// meanwhile (a write waits for it).
template <typename Fn>
HttpResponse WithStoreView(const Call& call, Fn&& fn) {
  if (call.api.store == nullptr) return NoStoreResponse();
  Result<storage::ReadView> view = call.api.store->Read();
  if (!view) return ErrorResponse(view.error());
  const engine::Evaluator evaluator(*call.policy->policy);
  return fn(static_cast<const storage::ReadView&>(*view), evaluator);
}

// A read that asks for at least `revision` (at_least_revision): nullopt
// when the replica holds it. Else, in cluster mode: when call.may_wait, sets
// call.waits_for and returns a placeholder that the handler returns as it
// is (Api::Handle turns it into a wait of at most ApiOptions::revision_wait
// that blocks no thread, and runs the handler again); otherwise the 503
// answer with the replica's revision and lag. In the embedded mode it never
// waits and answers nullopt: the handler's own check answers 409.
std::optional<HttpResponse> AwaitRevision(Call& call, uint64_t revision);
// The same for the X-Portcullis-At-Least-Revision header, on any route (400
// if the header is not a revision; in the embedded mode, 409 when the store
// is older).
std::optional<HttpResponse> AwaitRevisionHeader(Call& call);
// Runs a route's handler for `call` (the X-Portcullis-At-Least-Revision
// header first) with may_wait set. When the handler waits for a revision
// (AwaitRevision), answers with a long poll (server/http/http_server.h)
// that is woken when the replica applies that revision (ReplicaHooks::watch;
// no thread waits and nothing polls) and then runs the handler again, or
// runs it at the deadline (ApiOptions::revision_wait), when it answers 503;
// or answers 503 at once when too many reads wait already.
HttpResponse RunWithRevisionWait(Call& call, Handler handler);
// Runs a write route's handler for `call` on ReplicaHooks::run_write and
// answers with a long poll woken when it is done, so that the I/O thread
// is free meanwhile. Takes the request's body (the rest is copied).
HttpResponse RunWriteOffThread(Call& call, Handler handler);
// AwaitRevision, then, in either mode, the 409 answer (naming `field`) if
// the store is still older than `revision`.
std::optional<HttpResponse> RequireRevision(Call& call, uint64_t revision,
                                            std::string_view field);
// Cluster mode's /readyz answer: 200 with the replica's state, or 503
// before the start-up catch-up or when the replica is stuck.
HttpResponse ReplicaReadyz(const Call& call);
// Cluster mode's lines of /metrics (empty in the embedded mode).
std::string ReplicaMetricsText(const Call& call);

// One page of a lookup, native or AuthZEN: the engine request of either
// direction, run over one read view; the two dialects differ only in how
// they parse the request and write the answer.
struct LookupQuery {
  enum class Dialect { kNative, kAuthzen };
  Dialect dialect = Dialect::kNative;
  bool of_subjects = false;  // who may act on a resource, else which resources
  engine::LookupResourcesRequest resources;  // when !of_subjects
  engine::LookupSubjectsRequest subjects;    // when of_subjects
  // What the answer's page token is bound to (PageTokenKey::Seal): the
  // endpoint's name and the request's canonical text.
  std::string_view endpoint;
  std::string query_text;
};
// Runs `query` (stamping its time) and answers it in its dialect: native
// {"resources"|"subjects", "next_page_token", "revision"}; AuthZEN
// {"results":[{"type","id"}], "page":{"next_token"}}, where an unknown
// entity matches nothing.
HttpResponse AnswerLookup(const Call& call, LookupQuery& query);

namespace handlers {

// Operations (operations_handlers.cc).
HttpResponse Healthz(Call& call);
HttpResponse Readyz(Call& call);
HttpResponse MetricsText(Call& call);
HttpResponse GetPolicy(Call& call);
HttpResponse ValidatePolicy(Call& call);
HttpResponse ReloadPolicy(Call& call);

// Decisions (decision_handlers.cc).
HttpResponse Check(Call& call);
HttpResponse CheckBatch(Call& call);
HttpResponse Actions(Call& call);
HttpResponse LookupResources(Call& call);
HttpResponse LookupSubjects(Call& call);

// OpenID AuthZEN 1.0 (authzen_handlers.cc).
HttpResponse AuthzenEvaluation(Call& call);
HttpResponse AuthzenEvaluations(Call& call);
HttpResponse AuthzenSearchSubject(Call& call);
HttpResponse AuthzenSearchResource(Call& call);
HttpResponse AuthzenSearchAction(Call& call);
HttpResponse AuthzenConfiguration(Call& call);

// Records of the store: entities, access, changes, import, export
// (store_handlers.cc).
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

// Membership workflows (workflow_handlers.cc).
HttpResponse CreateGroup(Call& call);
HttpResponse InviteMembers(Call& call);
HttpResponse ListGroupInvitations(Call& call);
HttpResponse ListSubjectInvitations(Call& call);
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

}  // namespace handlers
}  // namespace portcullis::server

#endif  // PORTCULLIS_SERVER_HANDLERS_H_
