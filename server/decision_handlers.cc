// The decision endpoints of the native API: check, batch, actions, lookups;
// and the one lookup runner both dialects share (AnswerLookup).
#include <algorithm>
#include <array>
#include <charconv>

#include "common/clock.h"
#include "engine/lookup.h"
#include "explain/reason_text.h"
#include "server/decision_json.h"
#include "server/handlers.h"
#include "server/http_status.h"
#include "server/json.h"

namespace portcullis::server {
namespace {

// One parsed check. Views point into the request's JSON document.
struct CheckInput {
  std::string_view subject;
  std::string_view action;
  std::string_view resource;
  engine::CheckRequest request;
  std::vector<engine::Attribute> context;
  bool explain = false;
  uint64_t at_least_revision = 0;
};

std::string FieldName(std::string_view prefix, std::string_view name) {
  std::string f(prefix);
  f.append(name);
  return f;
}

// `s` (whose message starts with its field's name) for the item at
// `prefix` ("checks[3]."). Field names are prefixed only on this error path,
// so that a well-formed batch item builds no strings.
Status Prefixed(Status s, std::string_view prefix) {
  if (prefix.empty() || s.ok()) return s;
  return Status(
      s.code(), FieldName(prefix, s.message()),
      s.field().empty() ? std::string() : FieldName(prefix, s.field()));
}

Status ParseCheckInput(const rapidjson::Value& obj, std::string_view prefix,
                       bool needs_action, AttributeArena* arena,
                       CheckInput* in) {
  if (!obj.IsObject()) {
    std::string field(prefix.substr(0, prefix.empty() ? 0 : prefix.size() - 1));
    return Status::InvalidArgument(
        (field.empty() ? std::string("the request") : field) +
            " must be an object",
        field);
  }
  auto subject = RequiredString(obj, "subject", "subject");
  if (!subject) return Prefixed(subject.error(), prefix);
  auto resource = RequiredString(obj, "resource", "resource");
  if (!resource) return Prefixed(resource.error(), prefix);
  in->subject = *subject;
  in->resource = *resource;
  auto sref = ParseRef(*subject, "subject");
  if (!sref) return Prefixed(sref.error(), prefix);
  auto rref = ParseRef(*resource, "resource");
  if (!rref) return Prefixed(rref.error(), prefix);
  in->request.subject = *sref;
  in->request.resource = *rref;
  if (needs_action) {
    auto action = RequiredString(obj, "action", "action");
    if (!action) return Prefixed(action.error(), prefix);
    if (action->empty()) {
      return Prefixed(
          Status::InvalidArgument("action must not be empty", "action"),
          prefix);
    }
    in->action = *action;
    in->request.action = *action;
  }
  auto ctx = obj.FindMember("context");
  if (ctx != obj.MemberEnd()) {
    Status s = arena->Flatten(ctx->value, "context", &in->context);
    if (!s.ok()) return Prefixed(s, prefix);
  }
  in->request.context = in->context;
  auto explain = OptionalBool(obj, "explain", "explain", false);
  if (!explain) return Prefixed(explain.error(), prefix);
  in->explain = *explain;
  auto rev = OptionalUint(obj, "at_least_revision", "at_least_revision", 0);
  if (!rev) return Prefixed(rev.error(), prefix);
  in->at_least_revision = *rev;
  in->request.now = NowMicros();
  return Status::Ok();
}

Status CheckRevision(const CheckInput& in, uint64_t revision,
                     std::string_view prefix) {
  if (in.at_least_revision <= revision) return Status::Ok();
  return Status::FailedPrecondition("the store is at revision " +
                                        std::to_string(revision) +
                                        ", older than at_least_revision " +
                                        std::to_string(in.at_least_revision),
                                    FieldName(prefix, "at_least_revision"));
}

void WriteError(JsonWriter& w, const Status& s) {
  w.Key("error");
  w.StartObject();
  w.Key("code");
  const std::string_view code = StatusCodeName(s.code());
  w.String(code.data(), code.size());
  w.Key("message");
  w.String(s.message());
  if (!s.field().empty()) {
    w.Key("field");
    w.String(s.field());
  }
  w.EndObject();
}

// A request document whose values and parse stacks live first in a buffer
// inside this object (on the handler's stack): rapidjson's default pool
// starts with a 64 KiB heap chunk per document, and its default stacks
// allocate on every parse, which a check (and a batch of 100) does not need.
class PooledDocument {
 public:
  PooledDocument()
      : pool_(buffer_, sizeof(buffer_)), doc_(&pool_, kStackBytes, &pool_) {}
  PooledDocument(const PooledDocument&) = delete;
  PooledDocument& operator=(const PooledDocument&) = delete;
  PooledJsonDocument& doc() { return doc_; }

 private:
  static constexpr size_t kStackBytes = 1024;
  alignas(16) char buffer_[32 * 1024];
  rapidjson::MemoryPoolAllocator<> pool_;
  PooledJsonDocument doc_;
};

// Response buffer capacity of a batch: one item's answer is about 300 bytes.
constexpr size_t kBatchItemBytes = 384;

// The reason objects of one batch, memoized. The items of a batch often
// share their reason (the same role bound on the same folder grants the same
// action), and describing a reason (explain::AppendReasonText) and writing it
// as JSON cost more than evaluating the check. An entry is keyed by every
// field of the reason that its text or JSON depends on, plus the action;
// `at` and the action are copied into the entry (the views a Reason holds
// may point into buffers that the next lookup reuses). One batch, one
// policy: the cache must not outlive either.
class ReasonCache {
 public:
  struct Entry {
    engine::ReasonCode code{};
    engine::RoleId role = engine::kNoRole;
    const engine::Grant* grant = nullptr;
    const engine::Rule* rule = nullptr;
    const engine::Condition* condition = nullptr;
    engine::EvalErrorKind error_kind{};
    const engine::ExprNode* error_node = nullptr;
    std::string at_type, at_id, action;
    std::string message;  // explain::AppendReasonText
    std::string json;     // the reason object as WriteReason writes it
  };

  const Entry& Get(const engine::Policy& policy, const engine::Reason& r,
                   std::string_view action) {
    for (size_t i = 0; i < used_; ++i) {
      const Entry& e = entries_[i];
      if (e.code == r.code && e.role == r.role && e.grant == r.grant &&
          e.rule == r.rule && e.condition == r.condition &&
          e.error_kind == r.error.kind && e.error_node == r.error.node &&
          e.at_type == r.at.type && e.at_id == r.at.id && e.action == action) {
        return e;
      }
    }
    Entry& e = entries_[next_];
    next_ = (next_ + 1) % kSize;
    if (used_ < kSize) ++used_;
    e.code = r.code;
    e.role = r.role;
    e.grant = r.grant;
    e.rule = r.rule;
    e.condition = r.condition;
    e.error_kind = r.error.kind;
    e.error_node = r.error.node;
    e.at_type.assign(r.at.type);
    e.at_id.assign(r.at.id);
    e.action.assign(action);
    e.message.clear();  // keeps its capacity
    explain::AppendReasonText(policy, r, action, &e.message);
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    WriteReason(w, policy, r, action, e.message);
    e.json.assign(buf.GetString(), buf.GetSize());
    return e;
  }

 private:
  static constexpr size_t kSize = 16;
  std::array<Entry, kSize> entries_;
  size_t used_ = 0;
  size_t next_ = 0;
};

std::string ItemPrefix(size_t index) {
  return "checks[" + std::to_string(index) + "].";
}

Result<size_t> ParseLimit(const rapidjson::Value& obj, size_t fallback,
                          size_t max) {
  auto limit = OptionalUint(obj, "limit", "limit", fallback);
  if (!limit) return Fail(limit.error());
  if (*limit == 0 || *limit > max) {
    return Fail(Status::InvalidArgument(
        "limit must be between 1 and " + std::to_string(max), "limit"));
  }
  return static_cast<size_t>(*limit);
}

}  // namespace

namespace {

// The subject and resource of a batch item, read without parsing the item,
// for the prefetch hints of the items ahead (engine::PrefetchAhead); empty
// refs for an item that does not name them as "type:id" strings.
std::pair<engine::EntityRef, engine::EntityRef> ItemRefs(
    const rapidjson::Value& item) {
  if (!item.IsObject()) return {};
  auto ref = [&](const char* key) {
    const auto m = item.FindMember(key);
    if (m == item.MemberEnd() || !m->value.IsString()) {
      return engine::EntityRef{};
    }
    return engine::ParseEntityRef(
               std::string_view(m->value.GetString(),
                                m->value.GetStringLength()))
        .value_or(engine::EntityRef{});
  };
  return {ref("subject"), ref("resource")};
}

}  // namespace

namespace handlers {

HttpResponse Check(Call& call) {
  PooledDocument pooled;
  PooledJsonDocument& doc = pooled.doc();
  Status s = ParseJsonObject(call.request.body, &doc);
  if (!s.ok()) return ErrorResponse(s);
  AttributeArena arena;
  CheckInput in;
  s = ParseCheckInput(doc, "", /*needs_action=*/true, &arena, &in);
  if (!s.ok()) return ErrorResponse(s);
  if (auto behind = AwaitRevision(call, in.at_least_revision)) {
    return std::move(*behind);
  }
  return WithReadView(call, [&](const index::IndexView& view,
                                const engine::Evaluator& evaluator) {
    const engine::Policy& policy = evaluator.policy();
    const uint64_t revision = view.revision();  // one read per request
    Status stale = CheckRevision(in, revision, "");
    if (!stale.ok()) return ErrorResponse(stale);
    engine::Trace trace;
    const engine::Decision d =
        evaluator.Check(in.request, view, in.explain ? &trace : nullptr);
    // Rendered once, into this thread's buffer, for the answer and the log.
    thread_local std::string message;
    message.clear();
    explain::AppendReasonText(policy, d.reason, in.action, &message);

    // The answer is written into this thread's buffer and copied once into
    // the response body (the one heap block of a check).
    thread_local ReusedJsonWriter answer;
    JsonWriter& w = answer.Start();
    char revision_text[24];
    const auto revision_end =
        std::to_chars(revision_text, revision_text + sizeof(revision_text),
                      revision)
            .ptr;
    w.StartObject();
    w.Key("allowed");
    w.Bool(d.allowed);
    w.Key("revision");
    w.String(revision_text,
             static_cast<rapidjson::SizeType>(revision_end - revision_text));
    w.Key("policy_version");
    w.String(policy.version);
    if (const int64_t stale = StaleMs(call); stale >= 0) {
      w.Key("stale_ms");
      w.Int64(stale);
    }
    w.Key("reason");
    WriteReason(w, policy, d.reason, in.action, message);
    if (in.explain) {
      w.Key("trace");
      WriteTrace(w, trace);
    }
    w.EndObject();
    LogDecision(call, in.subject, in.action, in.resource, d, message, revision);
    return JsonResponse(answer.buffer());
  });
}

// One read snapshot, one policy and one evaluator for the whole batch; the
// document, the attribute arena, the input and the trace are reused across
// items, and an item's field names ("checks[3].subject") are built only when
// it is malformed.
HttpResponse CheckBatch(Call& call) {
  PooledDocument pooled;
  PooledJsonDocument& doc = pooled.doc();
  Status s = ParseJsonObject(call.request.body, &doc);
  if (!s.ok()) return ErrorResponse(s);
  auto checks = doc.FindMember("checks");
  if (checks == doc.MemberEnd()) {
    return ErrorResponse(
        Status::InvalidArgument("checks is required", "checks"));
  }
  if (!checks->value.IsArray()) {
    return ErrorResponse(
        Status::InvalidArgument("checks must be an array", "checks"));
  }
  if (checks->value.Size() > call.api.options.max_batch) {
    return ErrorResponse(Status(
        StatusCode::kResourceExhausted,
        "a batch holds at most " + std::to_string(call.api.options.max_batch) +
            " checks, got " + std::to_string(checks->value.Size()),
        "checks"));
  }
  // The newest at_least_revision of the items, waited for once; an item's
  // malformed value is that item's error, found below.
  uint64_t at_least = 0;
  for (const rapidjson::Value& item : checks->value.GetArray()) {
    if (!item.IsObject()) continue;
    auto rev = OptionalUint(item, "at_least_revision", "at_least_revision", 0);
    if (rev) at_least = std::max<uint64_t>(at_least, *rev);
  }
  if (auto behind = AwaitRevision(call, at_least)) return std::move(*behind);

  return WithReadView(call, [&](const index::IndexView& view,
                                const engine::Evaluator& evaluator) {
    const engine::Policy& policy = evaluator.policy();
    const uint64_t revision_number = view.revision();  // one read per batch
    const std::string revision = std::to_string(revision_number);
    rapidjson::StringBuffer buf(nullptr,
                                64 + kBatchItemBytes * checks->value.Size());
    JsonWriter w(buf);
    w.StartObject();
    w.Key("revision");
    w.String(revision);
    w.Key("policy_version");
    w.String(policy.version);
    if (const int64_t stale = StaleMs(call); stale >= 0) {
      w.Key("stale_ms");
      w.Int64(stale);
    }
    w.Key("results");
    w.StartArray();
    AttributeArena arena;
    CheckInput in;
    engine::Trace trace;
    ReasonCache reasons;
    size_t index = 0;
    const auto& items = checks->value;
    auto refs_of = [&](size_t k) {
      return ItemRefs(items[static_cast<rapidjson::SizeType>(k)]);
    };
    for (const rapidjson::Value& item : checks->value.GetArray()) {
      const size_t i = index++;
      engine::PrefetchAhead(view, i, items.Size(), refs_of);
      in.context.clear();
      trace.steps.clear();
      Status item_status;
      if (!item.IsObject()) {
        item_status = ParseCheckInput(item, ItemPrefix(i), true, &arena, &in);
      } else {
        item_status = ParseCheckInput(item, "", true, &arena, &in);
        if (!item_status.ok())
          item_status = Prefixed(item_status, ItemPrefix(i));
      }
      if (item_status.ok() && in.at_least_revision > revision_number) {
        item_status = CheckRevision(in, revision_number, ItemPrefix(i));
      }
      w.StartObject();
      w.Key("allowed");
      if (!item_status.ok()) {
        // A malformed item is a deny for that item, not a failed batch.
        w.Bool(false);
        WriteError(w, item_status);
        w.EndObject();
        call.api.metrics->ObserveDecision(false);
        continue;
      }
      const engine::Decision d =
          evaluator.Check(in.request, view, in.explain ? &trace : nullptr);
      const ReasonCache::Entry& reason =
          reasons.Get(policy, d.reason, in.action);
      w.Bool(d.allowed);
      w.Key("revision");
      w.String(revision);
      w.Key("policy_version");
      w.String(policy.version);
      w.Key("reason");
      w.RawValue(reason.json.data(), reason.json.size(),
                 rapidjson::kObjectType);
      if (in.explain) {
        w.Key("trace");
        WriteTrace(w, trace);
      }
      w.EndObject();
      LogDecision(call, in.subject, in.action, in.resource, d, reason.message,
                  revision_number);
    }
    w.EndArray();
    w.EndObject();
    return JsonResponse(buf);
  });
}

HttpResponse Actions(Call& call) {
  rapidjson::Document doc;
  Status s = ParseJsonObject(call.request.body, &doc);
  if (!s.ok()) return ErrorResponse(s);
  AttributeArena arena;
  CheckInput in;
  s = ParseCheckInput(doc, "", /*needs_action=*/false, &arena, &in);
  if (!s.ok()) return ErrorResponse(s);
  if (auto behind = AwaitRevision(call, in.at_least_revision)) {
    return std::move(*behind);
  }
  return WithReadView(call, [&](const index::IndexView& view,
                                const engine::Evaluator& evaluator) {
    const engine::Policy& policy = evaluator.policy();
    Status stale = CheckRevision(in, view.revision(), "");
    if (!stale.ok()) return ErrorResponse(stale);
    engine::Reason reason;
    const engine::ActionSet actions =
        evaluator.AllowedActions(in.request, view, &reason);
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    w.Key("actions");
    w.StartArray();
    actions.ForEach(
        [&](engine::ActionId a) { w.String(policy.actions[a].name); });
    w.EndArray();
    w.Key("revision");
    w.String(std::to_string(view.revision()));
    w.Key("policy_version");
    w.String(policy.version);
    if (const int64_t stale = StaleMs(call); stale >= 0) {
      w.Key("stale_ms");
      w.Int64(stale);
    }
    if (actions.empty()) {
      w.Key("reason");
      WriteReason(w, policy, reason, "",
                  explain::ReasonText(policy, reason, ""));
    }
    w.EndObject();
    return JsonResponse(buf);
  });
}

}  // namespace handlers

namespace {

// The native lookups' names, to which their page tokens are bound.
constexpr std::string_view kLookupResources = "v1/lookup/resources";
constexpr std::string_view kLookupSubjects = "v1/lookup/subjects";

// The fields common to both lookups: limit, page_token (opened: the
// engine's cursor), context; and what the endpoint's page tokens are bound
// to (the request without page_token and limit).
struct LookupPaging {
  size_t limit = 0;
  std::string cursor;
  std::string query_text;
  std::vector<engine::Attribute> context;
};

Status ParseLookupPaging(const Call& call, const rapidjson::Value& doc,
                         std::string_view endpoint, AttributeArena* arena,
                         LookupPaging* out) {
  const ApiOptions& options = call.api.options;
  auto limit = ParseLimit(doc, options.default_page, options.max_page);
  if (!limit) return limit.error();
  out->limit = *limit;
  auto token = OptionalString(doc, "page_token", "page_token");
  if (!token) return token.error();
  out->query_text = QueryText(doc, {"page_token", "limit"});
  if (!token->empty()) {
    Result<std::string> cursor = options.page_token_key.Open(
        *token, endpoint, out->query_text, "page_token");
    if (!cursor) return cursor.error();
    out->cursor = std::move(*cursor);
  }
  if (auto ctx = doc.FindMember("context"); ctx != doc.MemberEnd()) {
    return arena->Flatten(ctx->value, "context", &out->context);
  }
  return Status::Ok();
}

// The engine names no field; the request's field for its errors.
Status WithField(Status s, std::string_view fallback) {
  if (!s.field().empty()) return s;
  std::string field(fallback);
  const std::string& m = s.message();
  if (m.find("limit") != std::string::npos)
    field = "limit";
  else if (m.find("action") != std::string::npos)
    field = "action";
  else if (m.find("token") != std::string::npos)
    field = "page_token";
  return Status(s.code(), s.message(), field);
}

// The page token that continues after `page` (empty on the last page).
std::string NextToken(const Call& call, const LookupQuery& query,
                      const engine::LookupPage* page) {
  if (page == nullptr || page->next_page_token.empty()) return {};
  return call.api.options.page_token_key.Seal(query.endpoint, query.query_text,
                                              page->next_page_token);
}

// {"results":[{"type","id"}...],"page":{"next_token"}}
HttpResponse AuthzenResults(const engine::LookupPage* page,
                            const std::string& next_token) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("results");
  w.StartArray();
  for (size_t i = 0; page != nullptr && i < page->refs.size(); ++i) {
    const std::optional<engine::EntityRef> r =
        engine::ParseEntityRef(page->refs[i]);
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
  w.String(next_token);
  w.EndObject();
  w.EndObject();
  return JsonResponse(buf);
}

// {"resources"|"subjects":[...],"next_page_token","revision"}
HttpResponse NativeResults(const char* key, const engine::LookupPage& page,
                           const std::string& next_token, uint64_t revision) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key(key);
  w.StartArray();
  for (const std::string& r : page.refs) w.String(r);
  w.EndArray();
  w.Key("next_page_token");
  w.String(next_token);
  w.Key("revision");
  w.String(std::to_string(revision));
  w.EndObject();
  return JsonResponse(buf);
}

}  // namespace

HttpResponse AnswerLookup(const Call& call, LookupQuery& query) {
  const bool authzen = query.dialect == LookupQuery::Dialect::kAuthzen;
  query.resources.now = query.subjects.now = NowMicros();
  auto answer = [&](const auto& view, const engine::Evaluator& evaluator) {
    Result<engine::LookupPage> page =
        query.of_subjects
            ? engine::LookupSubjects(evaluator, view, query.subjects)
            : engine::LookupResources(evaluator, view, query.resources);
    if (!page) {
      if (authzen && page.error().code() == StatusCode::kNotFound) {
        return AuthzenResults(nullptr, {});
      }
      if (authzen) return ErrorResponse(page.error());
      return ErrorResponse(
          WithField(page.error(), query.of_subjects ? "resource" : "type"));
    }
    const std::string next = NextToken(call, query, &*page);
    if (authzen) return AuthzenResults(&*page, next);
    return NativeResults(query.of_subjects ? "subjects" : "resources", *page,
                         next, view.revision());
  };
  // Resources stream a page in order from the decision index's ordered
  // sets (a cost that grows with the page); subjects are gathered from
  // LMDB, without holding the index's lock for as long.
  if (query.of_subjects) return WithStoreView(call, answer);
  return WithReadView(call, answer);
}

namespace handlers {

HttpResponse LookupResources(Call& call) {
  rapidjson::Document doc;
  Status s = ParseJsonObject(call.request.body, &doc);
  if (!s.ok()) return ErrorResponse(s);
  auto subject_text = RequiredString(doc, "subject", "subject");
  if (!subject_text) return ErrorResponse(subject_text.error());
  auto subject = ParseRef(*subject_text, "subject");
  if (!subject) return ErrorResponse(subject.error());
  auto action = RequiredString(doc, "action", "action");
  if (!action) return ErrorResponse(action.error());
  auto type = RequiredString(doc, "type", "type");
  if (!type) return ErrorResponse(type.error());
  auto under_text = OptionalString(doc, "under", "under");
  if (!under_text) return ErrorResponse(under_text.error());
  LookupQuery query;
  engine::LookupResourcesRequest& req = query.resources;
  if (!under_text->empty()) {
    auto u = ParseRef(*under_text, "under");
    if (!u) return ErrorResponse(u.error());
    req.under = *u;
  }
  AttributeArena arena;
  LookupPaging paging;
  s = ParseLookupPaging(call, doc, kLookupResources, &arena, &paging);
  if (!s.ok()) return ErrorResponse(s);
  auto at_least =
      OptionalUint(doc, "at_least_revision", "at_least_revision", 0);
  if (!at_least) return ErrorResponse(at_least.error());
  if (auto behind = RequireRevision(call, *at_least, "at_least_revision")) {
    return std::move(*behind);
  }
  req.subject = *subject;
  req.action = *action;
  req.type = *type;
  req.limit = paging.limit;
  req.page_token = paging.cursor;
  req.context = paging.context;
  query.endpoint = kLookupResources;
  query.query_text = std::move(paging.query_text);
  return AnswerLookup(call, query);
}

HttpResponse LookupSubjects(Call& call) {
  rapidjson::Document doc;
  Status s = ParseJsonObject(call.request.body, &doc);
  if (!s.ok()) return ErrorResponse(s);
  auto action = RequiredString(doc, "action", "action");
  if (!action) return ErrorResponse(action.error());
  auto resource_text = RequiredString(doc, "resource", "resource");
  if (!resource_text) return ErrorResponse(resource_text.error());
  auto resource = ParseRef(*resource_text, "resource");
  if (!resource) return ErrorResponse(resource.error());
  auto type = OptionalString(doc, "type", "type");  // subject type filter
  if (!type) return ErrorResponse(type.error());
  AttributeArena arena;
  LookupPaging paging;
  s = ParseLookupPaging(call, doc, kLookupSubjects, &arena, &paging);
  if (!s.ok()) return ErrorResponse(s);
  auto at_least =
      OptionalUint(doc, "at_least_revision", "at_least_revision", 0);
  if (!at_least) return ErrorResponse(at_least.error());
  if (auto behind = RequireRevision(call, *at_least, "at_least_revision")) {
    return std::move(*behind);
  }
  LookupQuery query;
  query.of_subjects = true;
  engine::LookupSubjectsRequest& req = query.subjects;
  req.action = *action;
  req.resource = *resource;
  req.subject_type = *type;
  req.limit = paging.limit;
  req.page_token = paging.cursor;
  req.context = paging.context;
  query.endpoint = kLookupSubjects;
  query.query_text = std::move(paging.query_text);
  return AnswerLookup(call, query);
}

}  // namespace handlers
}  // namespace portcullis::server
