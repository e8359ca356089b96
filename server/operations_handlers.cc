// The operations endpoints (health, readiness, metrics) and policy
// administration (show, validate, reload).
#include "common/clock.h"
#include "server/handlers.h"
#include "server/http_status.h"
#include "server/json.h"

namespace portcullis::server {
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

Status ReloadPolicy(ApiContext& api, std::vector<PolicyDiagnostic>* errors) {
  if (!api.admin.load) {
    return Status(StatusCode::kUnavailable, "no policy file is configured");
  }
  MutexLock lock(&api.reload_mu);
  std::vector<PolicyDiagnostic> diags;
  std::shared_ptr<const engine::Policy> policy = api.admin.load(&diags);
  if (policy == nullptr) {
    api.metrics->ObserveReload(false);
    if (diags.empty()) diags.push_back({"", 0, 0, "the policy failed to load"});
    std::string first = diags.front().message;
    if (errors) *errors = std::move(diags);
    return Status::FailedPrecondition(
        "the policy failed validation; the running policy stays: " + first);
  }
  api.policy->Publish(std::move(policy));
  api.metrics->ObserveReload(true);
  return Status::Ok();
}

namespace handlers {

HttpResponse Healthz(Call&) {
  HttpResponse r;
  r.body = "{\"status\":\"ok\"}";
  return r;
}

HttpResponse Readyz(Call& call) {
  HttpResponse r;
  if (!call.api.ready.load() || call.policy == nullptr) {
    r.status = 503;
    r.body = "{\"status\":\"not ready\"}";
    return r;
  }
  if (call.api.options.replica.status) return ReplicaReadyz(call);
  r.body = "{\"status\":\"ready\"}";
  return r;
}

HttpResponse MetricsText(Call& call) {
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4";
  uint64_t revision = 0;
  uint64_t bytes = 0;
  if (call.api.store != nullptr) {
    revision = call.api.store->revision();
    if (auto stats = call.api.store->GetStats()) bytes = stats->used_bytes;
  }
  r.body = call.api.metrics->Render(revision, bytes);
  r.body += ReplicaMetricsText(call);
  if (call.api.index != nullptr) {
    const index::DecisionIndex::Stats s = call.api.index->stats();
    r.body += "# HELP portcullis_decision_index_ready 1 when checks read the "
              "decision index, 0 while it builds or after it failed\n"
              "# TYPE portcullis_decision_index_ready gauge\n"
              "portcullis_decision_index_ready " +
              std::to_string(s.ready ? 1 : 0) +
              "\n# TYPE portcullis_decision_index_revision gauge\n"
              "portcullis_decision_index_revision " +
              std::to_string(s.revision) +
              "\n# TYPE portcullis_decision_index_resources gauge\n"
              "portcullis_decision_index_resources " +
              std::to_string(s.resources) +
              "\n# TYPE portcullis_decision_index_bytes gauge\n"
              "portcullis_decision_index_bytes " + std::to_string(s.bytes) +
              "\n";
  }
  return r;
}

HttpResponse GetPolicy(Call& call) {
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

HttpResponse ValidatePolicy(Call& call) {
  if (!call.api.admin.validate) {
    return ErrorResponse(
        Status(StatusCode::kUnavailable, "policy validation is not available"));
  }
  const std::vector<PolicyDiagnostic> errors =
      call.api.admin.validate(call.request.body);
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

HttpResponse ReloadPolicy(Call& call) {
  std::vector<PolicyDiagnostic> errors;
  Status s = server::ReloadPolicy(call.api, &errors);
  if (!s.ok() && errors.empty()) return ErrorResponse(s);
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  if (s.ok()) {
    std::shared_ptr<const LoadedPolicy> lp = call.api.policy->Current();
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

}  // namespace handlers
}  // namespace portcullis::server
