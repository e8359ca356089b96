// Cluster mode in the API: at_least_revision waits, the replica's state in
// /readyz and /metrics (docs/scale-out.md).
#include <charconv>
#include <string>

#include "common/clock.h"
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

}  // namespace

std::optional<HttpResponse> AwaitRevision(const Call& call,
                                          uint64_t revision) {
  const ApiOptions& options = call.api.options;
  if (revision == 0 || call.api.store == nullptr ||
      !options.replica.wait_for_revision) {
    return std::nullopt;
  }
  if (call.api.store->revision() >= revision) return std::nullopt;
  if (options.replica.wait_for_revision(revision, options.revision_wait)) {
    return std::nullopt;
  }
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
  w.String("this node's replica is at revision " +
           std::to_string(st.revision) + " and did not reach at_least_revision " +
           std::to_string(revision) + " within " +
           std::to_string(options.revision_wait.count()) +
           " ms; retry, or ask another node");
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

std::optional<HttpResponse> AwaitRevisionHeader(const Call& call) {
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

std::optional<HttpResponse> RequireRevision(const Call& call,
                                            uint64_t revision,
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
        "Replicas discarded at start-up because the change log no longer "
        "reached them (retention) or they were ahead of the source.",
        st.rebootstraps, "counter");
  gauge("portcullis_replica_applied_changes_total",
        "Change sets applied from the source by this process.",
        st.applied_changes, "counter");
  return out;
}

}  // namespace portcullis::server
