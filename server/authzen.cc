// The AuthZEN Authorization API 1.0 request codec (authzen.h).
#include "server/authzen.h"

#include <algorithm>
#include <cctype>
#include <initializer_list>

#include "server/decision_json.h"
#include "server/page_token.h"

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

std::string FieldPath(std::string_view prefix, std::string_view a,
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
Status EntityMember(const Value* obj, const char* what, std::string_view prefix,
                    const Value** out) {
  *out = Member(obj, what);
  if (*out != nullptr && !(*out)->IsObject()) {
    return Status::InvalidArgument(FieldPath(prefix, what) + " must be an object",
                                   FieldPath(prefix, what));
  }
  return Status::Ok();
}

// Resolves one entity of an evaluation. Per the specification ("Default
// values"), an entity key present in the item overrides the top-level
// default as a whole: its required string fields (`keys`) and its
// properties all come from the item's object, and a required field it
// lacks is an error naming the item's field. Only when the item has no
// such key is the default entity used, again as a whole.
Status ResolveEntity(const Value* item, const Value* defaults, const char* what,
                     std::string_view prefix,
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
    return Required(FieldPath(prefix, what));
  }
  const Value* source = own != nullptr ? own : fallback;
  const std::string_view source_prefix = own != nullptr ? prefix : "";
  auto out = outs.begin();
  for (const char* key : keys) {
    std::string_view* target = *out++;
    const Value* v = Member(source, key);
    if (v == nullptr) return Required(FieldPath(source_prefix, what, key));
    if (Status s =
            NonEmptyString(*v, FieldPath(source_prefix, what, key), target);
        !s.ok()) {
      return s;
    }
  }
  if (const Value* p = Member(source, "properties")) {
    return arena->Flatten(*p, FieldPath(source_prefix, what, "properties"),
                          properties);
  }
  return Status::Ok();
}

// page.limit: a non-negative integer (a JSON number without a fraction);
// a string, a fraction or a negative number is an error naming the field.
Result<uint64_t> PageLimit(const Value& v) {
  if (v.IsUint64()) return v.GetUint64();
  if (v.IsDouble()) {
    const double d = v.GetDouble();
    if (d >= 0 && d == static_cast<double>(static_cast<uint64_t>(d)) &&
        d < 1.8e19) {
      return static_cast<uint64_t>(d);
    }
  }
  return Fail(Status::InvalidArgument(
      "page.limit must be a non-negative integer (a JSON number)",
      "page.limit"));
}

}  // namespace

Result<Semantic> ParseSemantic(const Value& doc) {
  const Value* options = Member(&doc, "options");
  if (options == nullptr) return Semantic::kExecuteAll;
  if (!options->IsObject()) {
    return Fail(
        Status::InvalidArgument("options must be an object", "options"));
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
      field + " must be one of execute_all, deny_on_first_deny, "
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
                               {"type", "id"}, {&r.subject.type, &r.subject.id},
                               arena, &out->subject_properties);
      !s.ok()) {
    return s;
  }
  if (Status s = ResolveEntity(item, defaults, "action", prefix, {"name"},
                               {&r.action}, arena, &out->action_properties);
      !s.ok()) {
    return s;
  }
  if (Status s = ResolveEntity(
          item, defaults, "resource", prefix, {"type", "id"},
          {&r.resource.type, &r.resource.id}, arena, &out->resource_properties);
      !s.ok()) {
    return s;
  }
  if (const Value* c = Member(item, "context")) {
    if (Status s = arena->Flatten(*c, FieldPath(prefix, "context"), &out->context);
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
                   size_t max_limit, AttributeArena* arena, SearchInput* out) {
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
  parts.push_back({"subject",
                   true,
                   subject_id ? std::vector<const char*>{"type", "id"}
                              : std::vector<const char*>{"type"},
                   {&out->subject.type, &out->subject.id},
                   &out->subject_properties});
  parts.push_back({"action",
                   kind != SearchKind::kAction,
                   {"name"},
                   {&out->action},
                   &out->action_properties});
  parts.push_back({"resource",
                   true,
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
      if (v == nullptr) return Required(FieldPath("", p.what, p.keys[i]));
      if (Status s = NonEmptyString(*v, FieldPath("", p.what, p.keys[i]), p.outs[i]);
          !s.ok()) {
        return s;
      }
    }
    if (const Value* props = Member(obj, "properties")) {
      if (Status s = arena->Flatten(*props, FieldPath("", p.what, "properties"),
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
  out->page_token_field = "page.token";
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
    out->page_token.assign(t->GetString(), t->GetStringLength());
    out->page_token_field = field;
  }
  if (const Value* l = Member(page, "limit")) {
    auto limit = PageLimit(*l);
    if (!limit) return limit.error();
    // 0 asks for no particular size: the default page size applies.
    if (*limit != 0) {
      out->limit = static_cast<size_t>(std::min<uint64_t>(*limit, max_limit));
    }
  }
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
      return Fail(Status::InvalidArgument("the Host header is not a host name",
                                          "Host"));
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

std::string SearchQueryText(const Value& doc) {
  return QueryText(doc, {"page"});
}

bool IsAuthzenPath(std::string_view path) {
  return path.starts_with("/access/v1/") ||
         path == "/.well-known/authzen-configuration";
}

void UseErrorBody(HttpResponse* response) {
  rapidjson::Document doc;
  doc.Parse(response->body.data(), response->body.size());
  if (doc.HasParseError() || !doc.IsObject()) return;
  const Value* message = Member(Member(&doc, "error"), "message");
  if (message == nullptr || !message->IsString()) return;
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.String(message->GetString(), message->GetStringLength());
  response->body.assign(buf.GetString(), buf.GetSize());
}

}  // namespace authzen
}  // namespace portcullis::server
