// The AuthZEN Authorization API 1.0 endpoints: request parsing (authzen.h)
// and the Api handlers that call the engine.
#include "server/authzen.h"

#include <algorithm>
#include <cctype>
#include <initializer_list>

#include "engine/lookup.h"
#include "explain/reason_text.h"
#include "server/api.h"
#include "server/decision_json.h"
#include "server/http_status.h"

namespace portcullis::server {
namespace authzen {
namespace {

using rapidjson::Value;

// The member `name` of `obj`, or nullptr when `obj` is null or not an
// object, or the member is absent or JSON null.
const Value* Member(const Value* obj, const char* name) {
  if (obj == nullptr || !obj->IsObject()) return nullptr;
  auto it = obj->FindMember(name);
  if (it == obj->MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

std::string Join(std::string_view prefix, std::string_view a,
                 std::string_view b = {}) {
  std::string f(prefix);
  f.append(a);
  if (!b.empty()) f.append(".").append(b);
  return f;
}

Status Required(std::string field) {
  std::string message = field + " is required";
  return Status::InvalidArgument(std::move(message), std::move(field));
}

// A non-empty string member; `field` names it in errors.
Status NonEmptyString(const Value& v, const std::string& field,
                      std::string_view* out) {
  if (!v.IsString()) {
    return Status::InvalidArgument(field + " must be a string", field);
  }
  if (v.GetStringLength() == 0) {
    return Status::InvalidArgument(field + " must not be empty", field);
  }
  *out = std::string_view(v.GetString(), v.GetStringLength());
  return Status::Ok();
}

// An entity member ("subject", "action", "resource") of `obj`: nullptr when
// absent; an error when present but not an object.
Status EntityMember(const Value* obj, const char* what,
                    std::string_view prefix, const Value** out) {
  *out = Member(obj, what);
  if (*out != nullptr && !(*out)->IsObject()) {
    return Status::InvalidArgument(Join(prefix, what) + " must be an object",
                                   Join(prefix, what));
  }
  return Status::Ok();
}

// Resolves one entity of an evaluation from the item's own object and the
// default one: `keys` are its required string fields, taken from `own`
// when there, else from `fallback`. Properties come from `own` when it is
// present, else from `fallback` (entity-level replacement).
Status ResolveEntity(const Value* item, const Value* defaults,
                     const char* what, std::string_view prefix,
                     std::initializer_list<const char*> keys,
                     std::initializer_list<std::string_view*> outs,
                     AttributeArena* arena,
                     std::vector<engine::Attribute>* properties) {
  const Value* own = nullptr;
  const Value* fallback = nullptr;
  if (Status s = EntityMember(item, what, prefix, &own); !s.ok()) return s;
  if (Status s = EntityMember(defaults, what, "", &fallback); !s.ok()) {
    return s;
  }
  if (own == nullptr && fallback == nullptr) {
    return Required(Join(prefix, what));
  }
  auto out = outs.begin();
  for (const char* key : keys) {
    std::string_view* target = *out++;
    if (const Value* v = Member(own, key)) {
      if (Status s = NonEmptyString(*v, Join(prefix, what, key), target);
          !s.ok()) {
        return s;
      }
    } else if (const Value* d = Member(fallback, key)) {
      if (Status s = NonEmptyString(*d, Join("", what, key), target);
          !s.ok()) {
        return s;
      }
    } else {
      return Required(Join(own != nullptr ? prefix : "", what, key));
    }
  }
  const Value* source = own != nullptr ? own : fallback;
  if (const Value* p = Member(source, "properties")) {
    return arena->Flatten(
        *p, Join(own != nullptr ? prefix : "", what, "properties"),
        properties);
  }
  return Status::Ok();
}

}  // namespace

Result<Semantic> ParseSemantic(const Value& doc) {
  const Value* options = Member(&doc, "options");
  if (options == nullptr) return Semantic::kExecuteAll;
  if (!options->IsObject()) {
    return Fail(Status::InvalidArgument("options must be an object",
                                        "options"));
  }
  const Value* v = Member(options, "evaluations_semantic");
  if (v == nullptr) return Semantic::kExecuteAll;
  const std::string field = "options.evaluations_semantic";
  if (v->IsString()) {
    const std::string_view s(v->GetString(), v->GetStringLength());
    if (s == "execute_all") return Semantic::kExecuteAll;
    if (s == "deny_on_first_deny") return Semantic::kDenyOnFirstDeny;
    if (s == "permit_on_first_permit") return Semantic::kPermitOnFirstPermit;
  }
  return Fail(Status::InvalidArgument(
      field +
          " must be one of execute_all, deny_on_first_deny, "
          "permit_on_first_permit",
      field));
}

void Evaluation::Clear() {
  request = engine::CheckRequest();
  subject_properties.clear();
  resource_properties.clear();
  action_properties.clear();
  context.clear();
}

Status ResolveEvaluation(const Value* item, const Value* defaults,
                         std::string_view prefix, AttributeArena* arena,
                         Evaluation* out) {
  if (item != nullptr && !item->IsObject()) {
    std::string field(prefix.substr(0, prefix.empty() ? 0 : prefix.size() - 1));
    return Status::InvalidArgument(field + " must be an object", field);
  }
  engine::CheckRequest& r = out->request;
  if (Status s = ResolveEntity(item, defaults, "subject", prefix,
                               {"type", "id"},
                               {&r.subject.type, &r.subject.id}, arena,
                               &out->subject_properties);
      !s.ok()) {
    return s;
  }
  if (Status s = ResolveEntity(item, defaults, "action", prefix, {"name"},
                               {&r.action}, arena, &out->action_properties);
      !s.ok()) {
    return s;
  }
  if (Status s = ResolveEntity(item, defaults, "resource", prefix,
                               {"type", "id"},
                               {&r.resource.type, &r.resource.id}, arena,
                               &out->resource_properties);
      !s.ok()) {
    return s;
  }
  if (const Value* c = Member(item, "context")) {
    if (Status s = arena->Flatten(*c, Join(prefix, "context"), &out->context);
        !s.ok()) {
      return s;
    }
  } else if (const Value* d = Member(defaults, "context")) {
    if (Status s = arena->Flatten(*d, "context", &out->context); !s.ok()) {
      return s;
    }
  }
  r.subject_properties = out->subject_properties;
  r.resource_properties = out->resource_properties;
  r.action_properties = out->action_properties;
  r.context = out->context;
  r.now = NowMicros();
  return Status::Ok();
}

Status ParseSearch(const Value& doc, SearchKind kind, size_t default_limit,
                   size_t max_limit, AttributeArena* arena,
                   SearchInput* out) {
  const bool subject_id = kind != SearchKind::kSubject;
  const bool resource_id = kind != SearchKind::kResource;
  struct Part {
    const char* what;
    bool wanted;
    std::vector<const char*> keys;
    std::vector<std::string_view*> outs;
    std::vector<engine::Attribute>* properties;
  };
  std::vector<Part> parts;
  parts.push_back({"subject", true,
                   subject_id ? std::vector<const char*>{"type", "id"}
                              : std::vector<const char*>{"type"},
                   {&out->subject.type, &out->subject.id},
                   &out->subject_properties});
  parts.push_back({"action", kind != SearchKind::kAction,
                   {"name"},
                   {&out->action},
                   &out->action_properties});
  parts.push_back({"resource", true,
                   resource_id ? std::vector<const char*>{"type", "id"}
                               : std::vector<const char*>{"type"},
                   {&out->resource.type, &out->resource.id},
                   &out->resource_properties});
  for (const Part& p : parts) {
    if (!p.wanted) continue;  // action search: an action is ignored
    const Value* obj = nullptr;
    if (Status s = EntityMember(&doc, p.what, "", &obj); !s.ok()) return s;
    if (obj == nullptr) return Required(p.what);
    for (size_t i = 0; i < p.keys.size(); ++i) {
      const Value* v = Member(obj, p.keys[i]);
      if (v == nullptr) return Required(Join("", p.what, p.keys[i]));
      if (Status s = NonEmptyString(*v, Join("", p.what, p.keys[i]),
                                    p.outs[i]);
          !s.ok()) {
        return s;
      }
    }
    if (const Value* props = Member(obj, "properties")) {
      if (Status s = arena->Flatten(*props, Join("", p.what, "properties"),
                                    p.properties);
          !s.ok()) {
        return s;
      }
    }
  }
  if (const Value* c = Member(&doc, "context")) {
    if (Status s = arena->Flatten(*c, "context", &out->context); !s.ok()) {
      return s;
    }
  }
  out->limit = default_limit;
  out->page_token.clear();
  const Value* page = Member(&doc, "page");
  if (page == nullptr) return Status::Ok();
  if (!page->IsObject()) {
    return Status::InvalidArgument("page must be an object", "page");
  }
  const char* token_key = Member(page, "token") ? "token" : "next_token";
  if (const Value* t = Member(page, token_key)) {
    const std::string field = std::string("page.") + token_key;
    if (!t->IsString()) {
      return Status::InvalidArgument(field + " must be a string", field);
    }
    const std::string_view text(t->GetString(), t->GetStringLength());
    if (!text.empty()) {
      auto decoded = DecodePageToken(text, field);
      if (!decoded) return decoded.error();
      out->page_token = std::move(*decoded);
      if (out->page_token.empty() ||
          (kind != SearchKind::kAction &&
           !engine::ParseEntityRef(out->page_token))) {
        return Status::InvalidArgument(
            field + " is not a page token this server issued", field);
      }
    }
  }
  auto limit = OptionalUint(*page, "limit", "page.limit", default_limit);
  if (!limit) return limit.error();
  if (*limit == 0) {
    return Status::InvalidArgument("page.limit must be at least 1",
                                   "page.limit");
  }
  out->limit = static_cast<size_t>(std::min<uint64_t>(*limit, max_limit));
  return Status::Ok();
}

Status CheckJsonContentType(const std::string* content_type) {
  if (content_type != nullptr) {
    std::string_view v(*content_type);
    v = v.substr(0, v.find(';'));
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) {
      v.remove_suffix(1);
    }
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) {
      v.remove_prefix(1);
    }
    constexpr std::string_view kJson = "application/json";
    if (v.size() == kJson.size() &&
        std::equal(v.begin(), v.end(), kJson.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == b;
        })) {
      return Status::Ok();
    }
  }
  return Status::InvalidArgument(
      "the Content-Type of an AuthZEN request must be application/json",
      "Content-Type");
}

Result<std::string> BaseUrl(std::string_view configured,
                            const std::string* host) {
  if (!configured.empty()) {
    while (!configured.empty() && configured.back() == '/') {
      configured.remove_suffix(1);
    }
    return std::string(configured);
  }
  if (host == nullptr || host->empty() || host->size() > 255) {
    return Fail(Status::InvalidArgument(
        "a Host header is needed to name the endpoints (or configure "
        "public_url)",
        "Host"));
  }
  for (unsigned char c : *host) {
    const bool ok = std::isalnum(c) || c == '.' || c == '-' || c == ':' ||
                    c == '[' || c == ']' || c == '_';
    if (!ok) {
      return Fail(
          Status::InvalidArgument("the Host header is not a host name", "Host"));
    }
  }
  return "http://" + *host;
}

std::string MetadataJson(std::string_view base) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  auto url = [&](const char* key, std::string_view path) {
    w.Key(key);
    std::string u(base);
    u.append(path);
    w.String(u);
  };
  url("policy_decision_point", "");
  url("access_evaluation_endpoint", "/access/v1/evaluation");
  url("access_evaluations_endpoint", "/access/v1/evaluations");
  url("search_subject_endpoint", "/access/v1/search/subject");
  url("search_resource_endpoint", "/access/v1/search/resource");
  url("search_action_endpoint", "/access/v1/search/action");
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace authzen

// ---- Handlers ----

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

HttpResponse EmptyResults() {
  HttpResponse r;
  r.body = "{\"results\":[],\"page\":{\"next_token\":\"\"}}";
  return r;
}

// {"results":[{"type","id"}...],"page":{"next_token"}}
HttpResponse RefResults(const engine::LookupPage& page) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("results");
  w.StartArray();
  for (const std::string& ref : page.refs) {
    const std::optional<engine::EntityRef> r = engine::ParseEntityRef(ref);
    if (!r) continue;
    w.StartObject();
    w.Key("type");
    w.String(r->type.data(), r->type.size());
    w.Key("id");
    w.String(r->id.data(), r->id.size());
    w.EndObject();
  }
  w.EndArray();
  w.Key("page");
  w.StartObject();
  w.Key("next_token");
  w.String(page.next_page_token.empty()
               ? std::string()
               : EncodePageToken(page.next_page_token));
  w.EndObject();
  w.EndObject();
  return JsonResponse(buf);
}

}  // namespace

engine::Decision Api::AuthzenDecide(const Call& call,
                                    const engine::Evaluator& evaluator,
                                    const engine::DataView& view,
                                    const engine::CheckRequest& request,
                                    uint64_t revision) {
  const engine::Decision d = evaluator.Check(request, view);
  if (!options_.decision_log) {
    metrics_->ObserveDecision(d.allowed);
    return d;
  }
  const std::string message =
      explain::ReasonText(evaluator.policy(), d.reason, request.action);
  LogDecision(call, request.subject.ToString(), request.action,
              request.resource.ToString(), d, message, revision);
  return d;
}

HttpResponse Api::AuthzenEvaluation(Call& call) {
  rapidjson::Document doc;
  Status s = ParseAuthzenBody(call.request, &doc);
  if (!s.ok()) return ErrorResponse(s);
  return AuthzenSingle(call, doc);
}

HttpResponse Api::AuthzenSingle(const Call& call,
                                const rapidjson::Document& doc) {
  AttributeArena arena;
  authzen::Evaluation ev;
  Status s = authzen::ResolveEvaluation(&doc, nullptr, "", &arena, &ev);
  if (!s.ok()) return ErrorResponse(s);
  auto opened = data_->Snapshot();
  if (!opened) return ErrorResponse(opened.error());
  std::unique_ptr<DataSnapshot> snap = std::move(*opened);
  engine::Evaluator evaluator(*call.policy->policy);
  const engine::Decision d = AuthzenDecide(call, evaluator, snap->view(),
                                           ev.request, snap->revision());
  HttpResponse r;
  r.body = d.allowed ? "{\"decision\":true}" : "{\"decision\":false}";
  return r;
}

HttpResponse Api::AuthzenEvaluations(Call& call) {
  rapidjson::Document doc;
  Status s = ParseAuthzenBody(call.request, &doc);
  if (!s.ok()) return ErrorResponse(s);
  auto items = doc.FindMember("evaluations");
  if (items == doc.MemberEnd() || items->value.IsNull() ||
      (items->value.IsArray() && items->value.Empty())) {
    // Backwards compatible with the single Access Evaluation API.
    return AuthzenSingle(call, doc);
  }
  if (!items->value.IsArray()) {
    return ErrorResponse(Status::InvalidArgument(
        "evaluations must be an array", "evaluations"));
  }
  if (items->value.Size() > options_.max_batch) {
    return ErrorResponse(Status(
        StatusCode::kResourceExhausted,
        "a request holds at most " + std::to_string(options_.max_batch) +
            " evaluations, got " + std::to_string(items->value.Size()),
        "evaluations"));
  }
  // Defaults of the wrong type fail the whole payload.
  for (const char* key : {"subject", "action", "resource", "context"}) {
    auto it = doc.FindMember(key);
    if (it != doc.MemberEnd() && !it->value.IsNull() &&
        !it->value.IsObject()) {
      return ErrorResponse(Status::InvalidArgument(
          std::string(key) + " must be an object", key));
    }
  }
  auto semantic = authzen::ParseSemantic(doc);
  if (!semantic) return ErrorResponse(semantic.error());

  auto opened = data_->Snapshot();
  if (!opened) return ErrorResponse(opened.error());
  std::unique_ptr<DataSnapshot> snap = std::move(*opened);
  engine::Evaluator evaluator(*call.policy->policy);
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
      metrics_->ObserveDecision(false);
    } else {
      allowed = AuthzenDecide(call, evaluator, snap->view(), ev.request,
                              snap->revision())
                    .allowed;
      w.StartObject();
      w.Key("decision");
      w.Bool(allowed);
      w.EndObject();
    }
    // Short-circuit semantics: the answer ends with the deciding item.
    if (*semantic == authzen::Semantic::kDenyOnFirstDeny && !allowed) break;
    if (*semantic == authzen::Semantic::kPermitOnFirstPermit && allowed) break;
  }
  w.EndArray();
  w.EndObject();
  return JsonResponse(buf);
}

HttpResponse Api::AuthzenSearchSubject(Call& call) {
  rapidjson::Document doc;
  Status s = ParseAuthzenBody(call.request, &doc);
  if (!s.ok()) return ErrorResponse(s);
  AttributeArena arena;
  authzen::SearchInput in;
  s = authzen::ParseSearch(doc, authzen::SearchKind::kSubject,
                           options_.default_page, options_.max_page, &arena,
                           &in);
  if (!s.ok()) return ErrorResponse(s);
  // Types or actions the policy does not know match nothing.
  const engine::Policy& policy = *call.policy->policy;
  const engine::TypeId rt = policy.FindType(in.resource.type);
  const engine::TypeId st = policy.FindType(in.subject.type);
  const engine::ActionId a = policy.FindAction(in.action);
  if (rt == engine::kNoType || policy.types[rt].is_subject ||
      st == engine::kNoType || !policy.types[st].is_subject ||
      a == engine::kNoAction || !policy.types[rt].actions.Contains(a)) {
    return EmptyResults();
  }
  engine::LookupSubjectsRequest req;
  req.action = in.action;
  req.resource = in.resource;
  req.subject_type = in.subject.type;
  req.limit = in.limit;
  req.page_token = in.page_token;
  req.context = in.context;
  req.resource_properties = in.resource_properties;
  req.action_properties = in.action_properties;
  req.now = NowMicros();
  auto opened = data_->Snapshot();
  if (!opened) return ErrorResponse(opened.error());
  std::unique_ptr<DataSnapshot> snap = std::move(*opened);
  engine::Evaluator evaluator(policy);
  Result<engine::LookupPage> page =
      engine::LookupSubjects(evaluator, snap->view(), req);
  if (!page) {
    if (page.error().code() == StatusCode::kNotFound) return EmptyResults();
    return ErrorResponse(page.error());
  }
  return RefResults(*page);
}

HttpResponse Api::AuthzenSearchResource(Call& call) {
  rapidjson::Document doc;
  Status s = ParseAuthzenBody(call.request, &doc);
  if (!s.ok()) return ErrorResponse(s);
  AttributeArena arena;
  authzen::SearchInput in;
  s = authzen::ParseSearch(doc, authzen::SearchKind::kResource,
                           options_.default_page, options_.max_page, &arena,
                           &in);
  if (!s.ok()) return ErrorResponse(s);
  const engine::Policy& policy = *call.policy->policy;
  const engine::TypeId rt = policy.FindType(in.resource.type);
  const engine::ActionId a = policy.FindAction(in.action);
  if (rt == engine::kNoType || policy.types[rt].is_subject ||
      a == engine::kNoAction || !policy.types[rt].actions.Contains(a)) {
    return EmptyResults();
  }
  engine::LookupResourcesRequest req;
  req.subject = in.subject;
  req.action = in.action;
  req.type = in.resource.type;
  req.limit = in.limit;
  req.page_token = in.page_token;
  req.context = in.context;
  req.subject_properties = in.subject_properties;
  req.action_properties = in.action_properties;
  req.now = NowMicros();
  auto opened = data_->Snapshot();
  if (!opened) return ErrorResponse(opened.error());
  std::unique_ptr<DataSnapshot> snap = std::move(*opened);
  engine::Evaluator evaluator(policy);
  Result<engine::LookupPage> page =
      engine::LookupResources(evaluator, snap->view(), req);
  if (!page) {
    if (page.error().code() == StatusCode::kNotFound) return EmptyResults();
    return ErrorResponse(page.error());
  }
  return RefResults(*page);
}

HttpResponse Api::AuthzenSearchAction(Call& call) {
  rapidjson::Document doc;
  Status s = ParseAuthzenBody(call.request, &doc);
  if (!s.ok()) return ErrorResponse(s);
  AttributeArena arena;
  authzen::SearchInput in;
  s = authzen::ParseSearch(doc, authzen::SearchKind::kAction,
                           options_.default_page, options_.max_page, &arena,
                           &in);
  if (!s.ok()) return ErrorResponse(s);
  const engine::Policy& policy = *call.policy->policy;
  // The page token is the last action name of the previous page.
  engine::ActionId after = engine::kNoAction;
  if (!in.page_token.empty()) {
    after = policy.FindAction(in.page_token);
    if (after == engine::kNoAction) {
      return ErrorResponse(Status::InvalidArgument(
          "page.token is not a page token this server issued", "page.token"));
    }
  }
  engine::CheckRequest req;
  req.subject = in.subject;
  req.resource = in.resource;
  req.subject_properties = in.subject_properties;
  req.resource_properties = in.resource_properties;
  req.context = in.context;
  req.now = NowMicros();
  auto opened = data_->Snapshot();
  if (!opened) return ErrorResponse(opened.error());
  std::unique_ptr<DataSnapshot> snap = std::move(*opened);
  engine::Evaluator evaluator(policy);
  const engine::ActionSet actions =
      evaluator.AllowedActions(req, snap->view());
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
      next = EncodePageToken(policy.actions[after].name);
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
}

HttpResponse Api::AuthzenConfiguration(Call& call) {
  auto base = authzen::BaseUrl(options_.public_url, call.request.Header("host"));
  if (!base) return ErrorResponse(base.error());
  HttpResponse r;
  r.body = authzen::MetadataJson(*base);
  return r;
}

}  // namespace portcullis::server
