// Cluster mode in the API: at_least_revision waits, the replica's state in
// /readyz and /metrics (docs/scale-out.md).
#include <algorithm>
#include <charconv>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/thread_annotations.h"
#include "server/handlers.h"
#include "server/http_status.h"
#include "server/json.h"

namespace portcullis::server {
namespace {

void WriteReplica(JsonWriter& w, const ReplicaStatus& st) {
  w.Key("replica");
  w.StartObject();
  w.Key("revision");
  w.String(std::to_string(st.revision));
  w.Key("source_revision");
  w.String(std::to_string(st.source_revision));
  w.Key("lag_revisions");
  w.Uint64(st.source_revision - std::min(st.source_revision, st.revision));
  w.Key("lag_ms");
  w.Int64(st.lag_ms);
  w.Key("source_reachable");
  w.Bool(st.source_reachable);
  w.Key("staleness_ms");
  w.Int64(st.staleness_ms);
  w.Key("stuck");
  w.Bool(st.stuck);
  if (!st.last_error.empty()) {
    w.Key("last_error");
    w.String(ValidUtf8(st.last_error));
  }
  w.EndObject();
}

// The 503 answer to a read whose at_least_revision this replica does not
// hold: `message`, and where the replica is.
HttpResponse BehindResponse(const Call& call, uint64_t revision,
                            const std::string& message) {
  const ApiOptions& options = call.api.options;
  ReplicaStatus st;
  if (options.replica.status) {
    st = options.replica.status();
  } else {
    st.revision = call.api.store->revision();
  }
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("error");
  w.StartObject();
  w.Key("code");
  w.String("unavailable");
  w.Key("message");
  w.String(message);
  w.Key("field");
  w.String("at_least_revision");
  w.EndObject();
  w.Key("at_least_revision");
  w.String(std::to_string(revision));
  WriteReplica(w, st);
  w.EndObject();
  HttpResponse r = JsonResponse(buf);
  r.status = 503;
  return r;
}

// One run of a route's handler: the X-Portcullis-At-Least-Revision header
// first, then the handler.
HttpResponse RunRoute(Call& call, Handler handler) {
  if (std::optional<HttpResponse> behind = AwaitRevisionHeader(call)) {
    return std::move(*behind);
  }
  return handler(call);
}

// What a read waiting for a revision keeps until it is answered: a copy of
// its request (the connection reuses its own) and its registration with
// the replica (dropped when the wait ends, whichever way).
struct RevisionWait {
  ApiContext* api = nullptr;
  Handler handler = nullptr;
  HttpRequest request;
  std::vector<std::string> params;
  std::string request_id;
  Scope scope = Scope::kNone;
  std::shared_ptr<const LoadedPolicy> policy;
  uint64_t revision = 0;
  std::shared_ptr<void> watch;
};

// A write run off the I/O thread (RunWriteOffThread): the call's parts, and
// its answer once the worker has it.
struct OffThreadWrite {
  RevisionWait call;  // its revision and watch are not used
  Mutex mu;
  std::optional<HttpResponse> response GUARDED_BY(mu);
};

// How long a write may run off-thread before its client is told that its
// outcome is unknown (a write's own waits are bounded well below this).
constexpr std::chrono::minutes kWriteDeadline{5};

}  // namespace

HttpResponse RunWriteOffThread(Call& call, Handler handler) {
  auto w = std::make_shared<OffThreadWrite>();
  RevisionWait& c = w->call;
  c.api = &call.api;
  c.handler = handler;
  c.request.method = call.request.method;
  c.request.target = call.request.target;
  c.request.path = call.request.path;
  c.request.query = call.request.query;
  c.request.headers = call.request.headers;
  c.request.remote = call.request.remote;
  c.request.body = std::move(call.request.body);
  c.params = call.params;
  c.request_id = call.request_id;
  c.scope = call.scope;
  c.policy = call.policy;
  auto wake = std::make_shared<PollWake>();
  call.api.options.replica.run_write([w, wake] {
    RevisionWait& c = w->call;
    Call again{*c.api, c.request, c.params, c.request_id, c.scope, c.policy};
    HttpResponse r = RunRoute(again, c.handler);
    {
      MutexLock lock(&w->mu);
      w->response = std::move(r);
    }
    wake->Wake();
  });
  auto lp = std::make_shared<LongPoll>();
  lp->deadline = std::chrono::steady_clock::now() + kWriteDeadline;
  lp->interval = kWriteDeadline;
  lp->wake = std::move(wake);
  lp->poll = [w](bool final) -> std::optional<HttpResponse> {
    MutexLock lock(&w->mu);
    if (w->response) return std::move(*w->response);
    if (!final) return std::nullopt;
    return ErrorResponse(Status(
        StatusCode::kUnavailable,
        "the write is still in progress; its outcome is unknown: read it "
        "back before retrying"));
  };
  HttpResponse r;
  r.long_poll = std::move(lp);
  return r;
}

std::optional<HttpResponse> AwaitRevision(Call& call, uint64_t revision) {
  const ApiOptions& options = call.api.options;
  if (revision == 0 || call.api.store == nullptr ||
      !options.replica.revision) {
    return std::nullopt;
  }
  if (options.replica.revision() >= revision) return std::nullopt;
  if (call.may_wait) {
    call.waits_for = std::max(call.waits_for, revision);
    return HttpResponse();  // RunWithRevisionWait answers with the wait
  }
  return BehindResponse(
      call, revision,
      "this node's replica is at revision " +
          std::to_string(options.replica.revision()) +
          " and did not reach at_least_revision " + std::to_string(revision) +
          " within " + std::to_string(options.revision_wait.count()) +
          " ms; retry, or ask another node");
}

HttpResponse RunWithRevisionWait(Call& call, Handler handler) {
  call.may_wait = true;
  HttpResponse first = RunRoute(call, handler);
  call.may_wait = false;
  if (call.waits_for == 0) return first;
  const ApiOptions& options = call.api.options;
  auto wait = std::make_shared<RevisionWait>();
  wait->api = &call.api;
  wait->handler = handler;
  wait->request = call.request;
  wait->params = call.params;
  wait->request_id = call.request_id;
  wait->scope = call.scope;
  wait->policy = call.policy;
  wait->revision = call.waits_for;
  auto wake = std::make_shared<PollWake>();
  if (options.replica.watch) {
    wait->watch = options.replica.watch(wait->revision, [wake] { wake->Wake(); });
  }
  if (wait->watch == nullptr) {
    return BehindResponse(
        call, wait->revision,
        "this node's replica is at revision " +
            std::to_string(options.replica.revision()) +
            ", behind at_least_revision " + std::to_string(wait->revision) +
            ", and too many reads are waiting for revisions here already; "
            "retry, or ask another node");
  }
  auto lp = std::make_shared<LongPoll>();
  lp->deadline = std::chrono::steady_clock::now() + options.revision_wait;
  lp->interval = std::max(options.revision_wait, std::chrono::milliseconds(1));
  lp->wake = std::move(wake);
  lp->poll = [wait](bool final) -> std::optional<HttpResponse> {
    if (!final && wait->api->options.replica.revision() < wait->revision) {
      return std::nullopt;
    }
    wait->watch.reset();
    Call again{*wait->api, wait->request,    wait->params,
               wait->request_id, wait->scope, wait->policy};
    // may_wait is false: a replica still behind answers 503.
    return RunRoute(again, wait->handler);
  };
  HttpResponse r;
  r.long_poll = std::move(lp);
  return r;
}

std::optional<HttpResponse> AwaitRevisionHeader(Call& call) {
  const std::string* header =
      call.request.Header("x-portcullis-at-least-revision");
  if (header == nullptr) return std::nullopt;
  uint64_t revision = 0;
  const char* end = header->data() + header->size();
  auto [ptr, ec] = std::from_chars(header->data(), end, revision);
  if (ec != std::errc() || ptr != end || header->empty()) {
    return ErrorResponse(Status::InvalidArgument(
        "X-Portcullis-At-Least-Revision must be a revision (a decimal "
        "number)",
        "X-Portcullis-At-Least-Revision"));
  }
  return RequireRevision(call, revision, "X-Portcullis-At-Least-Revision");
}

std::optional<HttpResponse> RequireRevision(Call& call, uint64_t revision,
                                            std::string_view field) {
  if (std::optional<HttpResponse> r = AwaitRevision(call, revision)) return r;
  if (call.api.store != nullptr && call.api.store->revision() < revision) {
    return ErrorResponse(Status::FailedPrecondition(
        "the store is at revision " +
            std::to_string(call.api.store->revision()) +
            ", older than at_least_revision " + std::to_string(revision),
        std::string(field)));
  }
  return std::nullopt;
}

HttpResponse ReplicaReadyz(const Call& call) {
  const ReplicaStatus st = call.api.options.replica.status();
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("status");
  w.String(st.stuck ? "not ready" : "ready");
  WriteReplica(w, st);
  w.EndObject();
  HttpResponse r = JsonResponse(buf);
  if (st.stuck) r.status = 503;
  return r;
}

std::string ReplicaMetricsText(const Call& call) {
  if (!call.api.options.replica.status) return "";
  const ReplicaStatus st = call.api.options.replica.status();
  std::string out;
  auto gauge = [&out](const char* name, const char* help, auto value,
                      const char* type = "gauge") {
    out += "# HELP ";
    out += name;
    out += " ";
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += " ";
    out += type;
    out += "\n";
    out += name;
    out += " ";
    out += std::to_string(value);
    out += "\n";
  };
  gauge("portcullis_replica_source_revision",
        "Newest revision seen at the source (PostgreSQL).",
        st.source_revision);
  gauge("portcullis_replica_lag_revisions",
        "Revisions committed at the source and not yet applied here.",
        st.source_revision - std::min(st.source_revision, st.revision));
  gauge("portcullis_replica_lag_seconds",
        "Age of the oldest commit not yet applied here.",
        static_cast<double>(st.lag_ms) / 1000.0);
  gauge("portcullis_replica_source_reachable",
        "1 if the source answered the last read, else 0.",
        st.source_reachable ? 1 : 0);
  gauge("portcullis_replica_staleness_seconds",
        "Seconds since the source was last read successfully.",
        static_cast<double>(st.staleness_ms) / 1000.0);
  gauge("portcullis_replica_stuck",
        "1 if the change log no longer reaches this replica (restart it).",
        st.stuck ? 1 : 0);
  gauge("portcullis_replica_bootstraps_total",
        "Snapshots of the source loaded by this process.", st.bootstraps,
        "counter");
  gauge("portcullis_replica_rebootstraps_total",
        "Replicas bootstrapped again: stores discarded at start-up (a "
        "bootstrap cut short, another cluster's, past the change log's "
        "retention, ahead of the source, left open by a machine that went "
        "down) or replaced in place while serving (retention).",
        st.rebootstraps, "counter");
  gauge("portcullis_replica_applied_changes_total",
        "Change sets applied from the source by this process.",
        st.applied_changes, "counter");
  return out;
}

}  // namespace portcullis::server
