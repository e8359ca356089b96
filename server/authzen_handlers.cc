// The AuthZEN Authorization API 1.0 endpoints: evaluation, evaluations,
// the three searches and the metadata document. Requests are parsed by the
// codec in authzen.h; lookups run through AnswerLookup like the native ones.
#include <optional>

#include "common/clock.h"
#include "explain/reason_text.h"
#include "server/authzen.h"
#include "server/decision_json.h"
#include "server/handlers.h"
#include "server/http_status.h"
#include "server/json.h"

namespace portcullis::server {
namespace {

// Parses an AuthZEN POST body: application/json, a JSON object.
Status ParseAuthzenBody(const HttpRequest& request, rapidjson::Document* doc) {
  Status s = authzen::CheckJsonContentType(request.Header("content-type"));
  if (!s.ok()) return s;
  return ParseJsonObject(request.body, doc);
}

// {"decision":false,"context":{"error":{"status":400,"message":"..."}}}
void WriteItemError(JsonWriter& w, const Status& s) {
  w.StartObject();
  w.Key("decision");
  w.Bool(false);
  w.Key("context");
  w.StartObject();
  w.Key("error");
  w.StartObject();
  w.Key("status");
  w.Int(HttpStatusFor(s.code()));
  w.Key("message");
  w.String(s.message());
  w.EndObject();
  w.EndObject();
  w.EndObject();
}

// Counts the decision and logs it (with its reason as text) when a decision
// log is configured.
engine::Decision Decide(const Call& call, const engine::Evaluator& evaluator,
                        const engine::DataView& view,
                        const engine::CheckRequest& request,
                        uint64_t revision) {
  const engine::Decision d = evaluator.Check(request, view);
  if (!call.api.options.decision_log) {
    call.api.metrics->ObserveDecision(d.allowed);
    return d;
  }
  const std::string message =
      explain::ReasonText(evaluator.policy(), d.reason, request.action);
  LogDecision(call, request.subject.ToString(), request.action,
              request.resource.ToString(), d, message, revision);
  return d;
}

HttpResponse Single(const Call& call, const rapidjson::Document& doc) {
  AttributeArena arena;
  authzen::Evaluation ev;
  Status s = authzen::ResolveEvaluation(&doc, nullptr, "", &arena, &ev);
  if (!s.ok()) return ErrorResponse(s);
  return WithReadView(call, [&](const index::IndexView& view,
                                const engine::Evaluator& evaluator) {
    const engine::Decision d =
        Decide(call, evaluator, view, ev.request, view.revision());
    HttpResponse r;
    r.body = d.allowed ? "{\"decision\":true" : "{\"decision\":false";
    // AuthZEN's response context: a replica that cannot reach its source
    // says how old its data may be.
    if (const int64_t stale = StaleMs(call); stale >= 0) {
      r.body += ",\"context\":{\"stale_ms\":" + std::to_string(stale) + "}";
    }
    r.body += "}";
    return r;
  });
}

// A search request's body, parsed, and the cursor its page token holds
// (empty for the first page); *query_text is what the endpoint's page
// tokens are bound to. The error response when the body is not a search
// request or the token was not issued for this endpoint and query.
std::optional<HttpResponse> ParseSearchBody(
    const Call& call, authzen::SearchKind kind, std::string_view endpoint,
    rapidjson::Document* doc, AttributeArena* arena, authzen::SearchInput* in,
    std::string* query_text, std::string* cursor) {
  Status s = ParseAuthzenBody(call.request, doc);
  if (s.ok()) {
    s = authzen::ParseSearch(*doc, kind, call.api.options.default_page,
                             call.api.options.max_page, arena, in);
  }
  if (!s.ok()) return ErrorResponse(s);
  *query_text = authzen::SearchQueryText(*doc);
  cursor->clear();
  if (!in->page_token.empty()) {
    Result<std::string> c = call.api.options.page_token_key.Open(
        in->page_token, endpoint, *query_text, in->page_token_field);
    if (!c) return ErrorResponse(c.error());
    *cursor = std::move(*c);
  }
  return std::nullopt;
}

// The endpoints' names, to which their page tokens are bound.
constexpr std::string_view kSearchSubject = "authzen/search/subject";
constexpr std::string_view kSearchResource = "authzen/search/resource";
constexpr std::string_view kSearchAction = "authzen/search/action";

HttpResponse EmptyResults() {
  HttpResponse r;
  r.body = "{\"results\":[],\"page\":{\"next_token\":\"\"}}";
  return r;
}

}  // namespace

namespace handlers {

HttpResponse AuthzenEvaluation(Call& call) {
  rapidjson::Document doc;
  Status s = ParseAuthzenBody(call.request, &doc);
  if (!s.ok()) return ErrorResponse(s);
  return Single(call, doc);
}

HttpResponse AuthzenEvaluations(Call& call) {
  rapidjson::Document doc;
  Status s = ParseAuthzenBody(call.request, &doc);
  if (!s.ok()) return ErrorResponse(s);
  auto items = doc.FindMember("evaluations");
  if (items == doc.MemberEnd() || items->value.IsNull() ||
      (items->value.IsArray() && items->value.Empty())) {
    // Backwards compatible with the single Access Evaluation API.
    return Single(call, doc);
  }
  if (!items->value.IsArray()) {
    return ErrorResponse(
        Status::InvalidArgument("evaluations must be an array", "evaluations"));
  }
  if (items->value.Size() > call.api.options.max_batch) {
    return ErrorResponse(Status(StatusCode::kResourceExhausted,
                                "a request holds at most " +
                                    std::to_string(call.api.options.max_batch) +
                                    " evaluations, got " +
                                    std::to_string(items->value.Size()),
                                "evaluations"));
  }
  // Defaults of the wrong type fail the whole payload.
  for (const char* key : {"subject", "action", "resource", "context"}) {
    auto it = doc.FindMember(key);
    if (it != doc.MemberEnd() && !it->value.IsNull() && !it->value.IsObject()) {
      return ErrorResponse(Status::InvalidArgument(
          std::string(key) + " must be an object", key));
    }
  }
  auto semantic = authzen::ParseSemantic(doc);
  if (!semantic) return ErrorResponse(semantic.error());

  return WithReadView(call, [&](const index::IndexView& view,
                                const engine::Evaluator& evaluator) {
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    w.Key("evaluations");
    w.StartArray();
    AttributeArena arena;
    authzen::Evaluation ev;
    std::string prefix;
    size_t index = 0;
    for (const rapidjson::Value& item : items->value.GetArray()) {
      prefix.assign("evaluations[");
      prefix.append(std::to_string(index++)).append("].");
      ev.Clear();
      s = authzen::ResolveEvaluation(&item, &doc, prefix, &arena, &ev);
      bool allowed = false;
      if (!s.ok()) {
        // An evaluation-level error: a deny for that item, with the error.
        WriteItemError(w, s);
        call.api.metrics->ObserveDecision(false);
      } else {
        allowed =
            Decide(call, evaluator, view, ev.request, view.revision()).allowed;
        w.StartObject();
        w.Key("decision");
        w.Bool(allowed);
        w.EndObject();
      }
      // Short-circuit semantics: the answer ends with the deciding item.
      if (*semantic == authzen::Semantic::kDenyOnFirstDeny && !allowed) break;
      if (*semantic == authzen::Semantic::kPermitOnFirstPermit && allowed)
        break;
    }
    w.EndArray();
    w.EndObject();
    return JsonResponse(buf);
  });
}

HttpResponse AuthzenSearchSubject(Call& call) {
  rapidjson::Document doc;
  AttributeArena arena;
  authzen::SearchInput in;
  LookupQuery query;
  query.endpoint = kSearchSubject;
  std::string cursor;
  if (auto bad = ParseSearchBody(call, authzen::SearchKind::kSubject,
                                 query.endpoint, &doc, &arena, &in,
                                 &query.query_text, &cursor)) {
    return std::move(*bad);
  }
  // Types or actions the policy does not know match nothing.
  const engine::Policy& policy = *call.policy->policy;
  const engine::TypeId rt = policy.FindType(in.resource.type);
  const engine::TypeId st = policy.FindType(in.subject.type);
  const engine::ActionId a = policy.FindAction(in.action);
  if (rt == engine::kNoType || !policy.types[rt].IsResource() ||
      st == engine::kNoType || !policy.types[st].is_subject ||
      a == engine::kNoAction || !policy.types[rt].actions.Contains(a)) {
    return EmptyResults();
  }
  query.dialect = LookupQuery::Dialect::kAuthzen;
  query.of_subjects = true;
  engine::LookupSubjectsRequest& req = query.subjects;
  req.action = in.action;
  req.resource = in.resource;
  req.subject_type = in.subject.type;
  req.limit = in.limit;
  req.page_token = cursor;
  req.context = in.context;
  req.resource_properties = in.resource_properties;
  req.action_properties = in.action_properties;
  return AnswerLookup(call, query);
}

HttpResponse AuthzenSearchResource(Call& call) {
  rapidjson::Document doc;
  AttributeArena arena;
  authzen::SearchInput in;
  LookupQuery query;
  query.endpoint = kSearchResource;
  std::string cursor;
  if (auto bad = ParseSearchBody(call, authzen::SearchKind::kResource,
                                 query.endpoint, &doc, &arena, &in,
                                 &query.query_text, &cursor)) {
    return std::move(*bad);
  }
  const engine::Policy& policy = *call.policy->policy;
  const engine::TypeId rt = policy.FindType(in.resource.type);
  const engine::ActionId a = policy.FindAction(in.action);
  if (rt == engine::kNoType || !policy.types[rt].IsResource() ||
      a == engine::kNoAction || !policy.types[rt].actions.Contains(a)) {
    return EmptyResults();
  }
  query.dialect = LookupQuery::Dialect::kAuthzen;
  engine::LookupResourcesRequest& req = query.resources;
  req.subject = in.subject;
  req.action = in.action;
  req.type = in.resource.type;
  req.limit = in.limit;
  req.page_token = cursor;
  req.context = in.context;
  req.subject_properties = in.subject_properties;
  req.action_properties = in.action_properties;
  return AnswerLookup(call, query);
}

HttpResponse AuthzenSearchAction(Call& call) {
  rapidjson::Document doc;
  AttributeArena arena;
  authzen::SearchInput in;
  std::string query_text;
  std::string cursor;
  if (auto bad = ParseSearchBody(call, authzen::SearchKind::kAction,
                                 kSearchAction, &doc, &arena, &in, &query_text,
                                 &cursor)) {
    return std::move(*bad);
  }
  const engine::Policy& policy = *call.policy->policy;
  // The cursor is the last action name of the previous page (an action a
  // reloaded policy no longer has restarts from the first).
  engine::ActionId after = engine::kNoAction;
  if (!cursor.empty()) after = policy.FindAction(cursor);
  engine::CheckRequest req;
  req.subject = in.subject;
  req.resource = in.resource;
  req.subject_properties = in.subject_properties;
  req.resource_properties = in.resource_properties;
  req.context = in.context;
  req.now = NowMicros();
  return WithReadView(call, [&](const index::IndexView& view,
                                const engine::Evaluator& evaluator) {
    const engine::ActionSet actions = evaluator.AllowedActions(req, view);
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    w.Key("results");
    w.StartArray();
    size_t written = 0;
    std::string next;
    actions.ForEach([&](engine::ActionId id) {
      if (after != engine::kNoAction && id <= after) return;
      if (!next.empty()) return;
      const std::string& name = policy.actions[id].name;
      if (written == in.limit) {
        // One more exists: the page ends at the previous action.
        next = call.api.options.page_token_key.Seal(
            kSearchAction, query_text, policy.actions[after].name);
        return;
      }
      w.StartObject();
      w.Key("name");
      w.String(name);
      w.EndObject();
      after = id;
      ++written;
    });
    w.EndArray();
    w.Key("page");
    w.StartObject();
    w.Key("next_token");
    w.String(next);
    w.EndObject();
    w.EndObject();
    return JsonResponse(buf);
  });
}

HttpResponse AuthzenConfiguration(Call& call) {
  auto base = authzen::BaseUrl(call.api.options.public_url,
                               call.request.Header("host"));
  if (!base) return ErrorResponse(base.error());
  HttpResponse r;
  r.body = authzen::MetadataJson(*base);
  return r;
}

}  // namespace handlers
}  // namespace portcullis::server
