// The data endpoints of the native API, over the LMDB store: resources,
// subjects, bindings, restrictions, the changelog, import and export.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "server/decision_json.h"
#include "server/export_stream.h"
#include "server/handlers.h"
#include "server/http_status.h"
#include "server/json.h"
#include "storage/attributes_json.h"
#include "storage/jsonl.h"

namespace portcullis::server {
namespace {

Result<std::vector<std::string>> StringList(const rapidjson::Value& obj,
                                            const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd()) {
    return Fail(
        Status::InvalidArgument(std::string(name) + " is required", name));
  }
  if (!it->value.IsArray()) {
    return Fail(Status::InvalidArgument(
        std::string(name) + " must be an array of strings", name));
  }
  std::vector<std::string> out;
  for (const auto& e : it->value.GetArray()) {
    if (!e.IsString()) {
      return Fail(Status::InvalidArgument(
          std::string(name) + " must be an array of strings", name));
    }
    out.emplace_back(e.GetString(), e.GetStringLength());
  }
  return out;
}

Result<storage::BindingRecord> ParseBinding(const rapidjson::Value& obj) {
  storage::BindingRecord b;
  auto subject = RequiredString(obj, "subject", "subject");
  if (!subject) return Fail(subject.error());
  auto resource = RequiredString(obj, "resource", "resource");
  if (!resource) return Fail(resource.error());
  if (auto r = ParseRef(*subject, "subject"); !r) return Fail(r.error());
  if (auto r = ParseRef(*resource, "resource"); !r) return Fail(r.error());
  b.subject = std::string(*subject);
  b.resource = std::string(*resource);
  auto roles = StringList(obj, "roles");
  if (!roles) return Fail(roles.error());
  b.roles = std::move(*roles);
  auto expires = OptionalString(obj, "expires_at", "expires_at");
  if (!expires) return Fail(expires.error());
  if (!expires->empty()) {
    std::optional<TimestampMicros> t = ParseRfc3339(*expires);
    if (!t) {
      return Fail(Status::InvalidArgument(
          "expires_at must be an RFC 3339 timestamp", "expires_at"));
    }
    b.expires_at = *t;
  }
  auto state = OptionalString(obj, "state", "state");
  if (!state) return Fail(state.error());
  if (*state == "pending") {
    b.state = engine::BindingState::kPending;
  } else if (!state->empty() && *state != "active") {
    return Fail(
        Status::InvalidArgument("state must be active or pending", "state"));
  }
  b.created_at = NowMicros();
  return b;
}

Result<storage::RestrictionRecord> ParseRestriction(
    const rapidjson::Value& obj) {
  storage::RestrictionRecord r;
  auto subject = RequiredString(obj, "subject", "subject");
  if (!subject) return Fail(subject.error());
  auto resource = RequiredString(obj, "resource", "resource");
  if (!resource) return Fail(resource.error());
  if (auto e = ParseRef(*subject, "subject"); !e) return Fail(e.error());
  if (auto e = ParseRef(*resource, "resource"); !e) return Fail(e.error());
  r.subject = std::string(*subject);
  r.resource = std::string(*resource);
  auto actions = StringList(obj, "actions");
  if (!actions) return Fail(actions.error());
  r.actions = std::move(*actions);
  return r;
}

// Resource or subject body: {"parent"?, "attributes"?}.
Status ParseEntityBody(std::string_view body, bool resource,
                       std::string* parent, storage::Attributes* attrs) {
  if (body.empty()) return Status::Ok();
  rapidjson::Document doc;
  Status s = ParseJsonObject(body, &doc);
  if (!s.ok()) return s;
  if (resource) {
    auto p = OptionalString(doc, "parent", "parent");
    if (!p) return p.error();
    if (!p->empty()) {
      if (auto r = ParseRef(*p, "parent"); !r) return r.error();
      *parent = std::string(*p);
    }
  }
  if (auto it = doc.FindMember("attributes");
      it != doc.MemberEnd() && !it->value.IsNull()) {
    return storage::ParseAttributesJson(it->value, "attributes", attrs);
  }
  return Status::Ok();
}

void WriteAccess(JsonWriter& w, const storage::AccessRecord& a,
                 bool restriction) {
  w.StartObject();
  w.Key("subject");
  w.String(a.subject);
  w.Key("resource");
  w.String(a.resource);
  if (restriction) {
    w.Key("actions");
    w.StartArray();
    for (const auto& x : a.restriction->actions) w.String(x);
    w.EndArray();
  } else {
    const storage::BindingRecord& b = *a.binding;
    w.Key("roles");
    w.StartArray();
    for (const auto& x : b.roles) w.String(x);
    w.EndArray();
    w.Key("state");
    w.String(b.state == engine::BindingState::kPending ? "pending" : "active");
    if (b.expires_at != kNoExpiry) {
      w.Key("expires_at");
      w.String(FormatRfc3339(b.expires_at));
    }
  }
  w.EndObject();
}

// Runs a write and answers {"revision": "N"} or the error.
HttpResponse WriteAndAnswer(
    const Call& call, const std::function<Status(storage::WriteTxn&)>& fn) {
  if (call.api.store == nullptr) return NoStoreResponse();
  Result<storage::Revision> rev =
      call.api.store->Write(call.policy->policy.get(), "", fn);
  if (!rev) return ErrorResponse(rev.error());
  HttpResponse r;
  r.body = "{\"revision\":\"" + std::to_string(*rev) + "\"}";
  return r;
}

}  // namespace

namespace handlers {

HttpResponse PutResource(Call& call) {
  storage::ResourceRecord rec;
  rec.type = call.params[0];
  rec.id = call.params[1];
  Status s =
      ParseEntityBody(call.request.body, true, &rec.parent, &rec.attributes);
  if (!s.ok()) return ErrorResponse(s);
  return WriteAndAnswer(
      call, [&](storage::WriteTxn& txn) { return txn.PutResource(rec); });
}

HttpResponse GetResource(Call& call) {
  if (call.api.store == nullptr) return NoStoreResponse();
  auto view = call.api.store->Read();
  if (!view) return ErrorResponse(view.error());
  auto rec = view->GetResourceRecord({call.params[0], call.params[1]});
  if (view->failed())
    return ErrorResponse(Status::Internal(std::string(view->failure())));
  if (!rec) {
    return ErrorResponse(Status::NotFound("no resource " + call.params[0] +
                                          ":" + call.params[1]));
  }
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("type");
  w.String(rec->type);
  w.Key("id");
  w.String(rec->id);
  if (!rec->parent.empty()) {
    w.Key("parent");
    w.String(rec->parent);
  }
  w.Key("attributes");
  storage::WriteAttributesJson(w, rec->attributes);
  w.Key("revision");
  w.String(std::to_string(view->revision()));
  w.EndObject();
  return JsonResponse(buf);
}

HttpResponse DeleteResource(Call& call) {
  const engine::EntityRef ref{call.params[0], call.params[1]};
  return WriteAndAnswer(
      call, [&](storage::WriteTxn& txn) { return txn.DeleteResource(ref); });
}

HttpResponse PutSubject(Call& call) {
  storage::SubjectRecord rec;
  rec.type = call.params[0];
  rec.id = call.params[1];
  std::string unused;
  Status s =
      ParseEntityBody(call.request.body, false, &unused, &rec.attributes);
  if (!s.ok()) return ErrorResponse(s);
  return WriteAndAnswer(
      call, [&](storage::WriteTxn& txn) { return txn.PutSubject(rec); });
}

HttpResponse GetSubject(Call& call) {
  if (call.api.store == nullptr) return NoStoreResponse();
  auto view = call.api.store->Read();
  if (!view) return ErrorResponse(view.error());
  auto rec = view->GetSubjectRecord({call.params[0], call.params[1]});
  if (!rec) {
    return ErrorResponse(Status::NotFound("no subject " + call.params[0] + ":" +
                                          call.params[1]));
  }
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("type");
  w.String(rec->type);
  w.Key("id");
  w.String(rec->id);
  w.Key("attributes");
  storage::WriteAttributesJson(w, rec->attributes);
  w.Key("revision");
  w.String(std::to_string(view->revision()));
  w.EndObject();
  return JsonResponse(buf);
}

HttpResponse DeleteSubject(Call& call) {
  const engine::EntityRef ref{call.params[0], call.params[1]};
  return WriteAndAnswer(
      call, [&](storage::WriteTxn& txn) { return txn.DeleteSubject(ref); });
}

HttpResponse PutBinding(Call& call) {
  rapidjson::Document doc;
  Status s = ParseJsonObject(call.request.body, &doc);
  if (!s.ok()) return ErrorResponse(s);
  auto b = ParseBinding(doc);
  if (!b) return ErrorResponse(b.error());
  return WriteAndAnswer(
      call, [&](storage::WriteTxn& txn) { return txn.SetBinding(*b); });
}

HttpResponse PutRestriction(Call& call) {
  rapidjson::Document doc;
  Status s = ParseJsonObject(call.request.body, &doc);
  if (!s.ok()) return ErrorResponse(s);
  auto r = ParseRestriction(doc);
  if (!r) return ErrorResponse(r.error());
  return WriteAndAnswer(
      call, [&](storage::WriteTxn& txn) { return txn.SetRestriction(*r); });
}

}  // namespace handlers

namespace {

// GET /v1/bindings and /v1/restrictions: ?resource= or ?subject=, with
// limit and page_token.
// A page token is bound to the listing (bindings or restrictions) and to
// its resource= or subject= parameter.
HttpResponse ListAccess(storage::Store* store, const HttpRequest& req,
                        bool restrictions, size_t default_page,
                        size_t max_page, const PageTokenKey& tokens) {
  if (store == nullptr) return NoStoreResponse();
  std::optional<std::string> resource = req.QueryParam("resource");
  std::optional<std::string> subject = req.QueryParam("subject");
  if (resource.has_value() == subject.has_value()) {
    return ErrorResponse(Status::InvalidArgument(
        "give exactly one of the query parameters resource and subject",
        "resource"));
  }
  const std::string& text = resource ? *resource : *subject;
  auto ref = ParseRef(text, resource ? "resource" : "subject");
  if (!ref) return ErrorResponse(ref.error());
  size_t limit = default_page;
  if (auto l = req.QueryParam("limit")) {
    char* end = nullptr;
    const unsigned long v = strtoul(l->c_str(), &end, 10);
    if (l->empty() || *end != '\0' || v == 0 || v > max_page) {
      return ErrorResponse(Status::InvalidArgument(
          "limit must be between 1 and " + std::to_string(max_page), "limit"));
    }
    limit = v;
  }
  const std::string_view endpoint =
      restrictions ? "v1/restrictions" : "v1/bindings";
  const std::string query =
      (resource ? "resource=" : "subject=") + ref->ToString();
  std::string after;
  if (auto t = req.QueryParam("page_token"); t && !t->empty()) {
    auto opened = tokens.Open(*t, endpoint, query, "page_token");
    if (!opened) return ErrorResponse(opened.error());
    after = std::move(*opened);
  }
  auto view = store->Read();
  if (!view) return ErrorResponse(view.error());
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key(restrictions ? "restrictions" : "bindings");
  w.StartArray();
  // Pages of the store hold both kinds; keep reading until `limit` of the
  // wanted kind are found or the listing ends.
  size_t found = 0;
  std::string cursor = after;
  std::string last;   // the key of the last item written: the next cursor
  bool more = false;  // another wanted item exists after `last`
  while (!more) {
    auto page = resource ? view->ListAccessOn(*ref, cursor, limit)
                         : view->ListAccessOf(*ref, cursor, limit);
    if (!page) return ErrorResponse(page.error());
    for (const storage::AccessRecord& a : page->items) {
      const bool wanted =
          restrictions ? a.restriction.has_value() : a.binding.has_value();
      if (!wanted) continue;
      if (found == limit) {
        more = true;
        break;
      }
      WriteAccess(w, a, restrictions);
      ++found;
      last = resource ? a.subject : a.resource;
    }
    if (page->next_cursor.empty()) break;
    cursor = page->next_cursor;
  }
  w.EndArray();
  w.Key("next_page_token");
  w.String(more ? tokens.Seal(endpoint, query, last) : std::string());
  w.Key("revision");
  w.String(std::to_string(view->revision()));
  w.EndObject();
  return JsonResponse(buf);
}

}  // namespace

namespace handlers {

HttpResponse GetBindings(Call& call) {
  return ListAccess(call.api.store, call.request, false,
                    call.api.options.default_page, call.api.options.max_page,
                    call.api.options.page_token_key);
}

HttpResponse GetRestrictions(Call& call) {
  return ListAccess(call.api.store, call.request, true,
                    call.api.options.default_page, call.api.options.max_page,
                    call.api.options.page_token_key);
}

HttpResponse Changes(Call& call) {
  if (call.api.store == nullptr) return NoStoreResponse();
  uint64_t since = 0;
  if (auto s = call.request.QueryParam("since")) {
    char* end = nullptr;
    since = strtoull(s->c_str(), &end, 10);
    if (s->empty() || *end != '\0') {
      return ErrorResponse(
          Status::InvalidArgument("since must be a revision number", "since"));
    }
  }
  double wait_seconds = 0;
  if (auto s = call.request.QueryParam("wait")) {
    // A finite number of seconds from 0 to the configured bound (strtod
    // took "inf", "nan" and 1e308, whose conversion to milliseconds is
    // undefined behaviour).
    const double max_seconds =
        std::chrono::duration<double>(call.api.options.max_wait).count();
    const auto [end, ec] =
        std::from_chars(s->data(), s->data() + s->size(), wait_seconds);
    if (s->empty() || ec != std::errc() || end != s->data() + s->size() ||
        !std::isfinite(wait_seconds) || wait_seconds < 0 ||
        wait_seconds > max_seconds) {
      char bound[32];
      std::snprintf(bound, sizeof(bound), "%g", max_seconds);
      return ErrorResponse(Status::InvalidArgument(
          std::string("wait must be a number of seconds from 0 to ") + bound,
          "wait"));
    }
  }
  size_t limit = call.api.options.default_page;
  if (auto l = call.request.QueryParam("limit")) {
    char* end = nullptr;
    const unsigned long v = strtoul(l->c_str(), &end, 10);
    if (l->empty() || *end != '\0' || v == 0 || v > call.api.options.max_page) {
      return ErrorResponse(
          Status::InvalidArgument("limit must be between 1 and " +
                                      std::to_string(call.api.options.max_page),
                                  "limit"));
    }
    limit = v;
  }
  storage::Store* store = call.api.store;
  // An invitation's id accepts it (for an address, the id alone does): only
  // the admin scope sees them; for others the entity is null.
  const bool show_invitation_ids = call.scope >= Scope::kAdmin;
  // Reads the changes after `since` in a fresh snapshot (never held across
  // the wait). nullopt: nothing yet and the caller may keep waiting.
  auto answer = [store, since, limit, show_invitation_ids](
                    bool final) -> std::optional<HttpResponse> {
    auto view = store->Read();
    if (!view) return ErrorResponse(view.error());
    if (view->revision() <= since && !final) return std::nullopt;
    auto changes = view->Changes(since, limit);
    if (!changes) return ErrorResponse(changes.error());
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    w.Key("changes");
    w.StartArray();
    for (const storage::ChangelogEntry& e : *changes) {
      w.StartObject();
      w.Key("revision");
      w.String(std::to_string(e.revision));
      w.Key("time");
      w.String(FormatRfc3339(e.time));
      w.Key("actor");
      w.String(e.actor);
      w.Key("changes");
      w.StartArray();
      for (const storage::Change& c : e.changes) {
        w.StartObject();
        w.Key("op");
        w.String(c.op);
        w.Key("entity");
        if (!show_invitation_ids && c.op.starts_with("invitation.")) {
          w.Null();
        } else {
          w.String(c.entity);
        }
        if (!c.related.empty()) {
          w.Key("related");
          w.String(c.related);
        }
        w.EndObject();
      }
      w.EndArray();
      if (e.truncated) {
        w.Key("truncated");
        w.Bool(true);
        w.Key("change_count");
        w.Uint64(e.change_count);
      }
      w.EndObject();
    }
    w.EndArray();
    w.Key("revision");
    w.String(std::to_string(view->revision()));
    w.EndObject();
    return JsonResponse(buf);
  };
  if (wait_seconds <= 0) return *answer(true);
  if (std::optional<HttpResponse> now = answer(false)) return std::move(*now);
  const auto wait = std::min<std::chrono::milliseconds>(
      std::chrono::milliseconds(static_cast<int64_t>(wait_seconds * 1000)),
      call.api.options.max_wait);
  HttpResponse r;
  r.long_poll = std::make_shared<LongPoll>();
  r.long_poll->poll = answer;
  r.long_poll->deadline = std::chrono::steady_clock::now() + wait;
  return r;
}

HttpResponse Import(Call& call) {
  if (call.api.store == nullptr) return NoStoreResponse();
  // Parse every line first (the same JSON Lines format and parser as
  // `portcullis import`), so that a bad line fails before any write; then
  // apply the whole body in one transaction.
  struct Item {
    storage::JsonlRecord record;
    size_t line;
  };
  std::vector<Item> items;
  std::string_view body = call.request.body;
  size_t line_no = 0;
  auto at_line = [](size_t line, const Status& e) {
    return Status(e.code(), "line " + std::to_string(line) + ": " + e.message(),
                  "line " + std::to_string(line) +
                      (e.field().empty() ? "" : "." + e.field()));
  };
  while (!body.empty()) {
    ++line_no;
    const size_t nl = body.find('\n');
    std::string_view line = body.substr(0, nl);
    body =
        nl == std::string_view::npos ? std::string_view() : body.substr(nl + 1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
      line.remove_suffix(1);
    }
    if (line.empty()) continue;
    Result<storage::JsonlRecord> rec = storage::ParseJsonlRecord(line);
    if (!rec) return ErrorResponse(at_line(line_no, rec.error()));
    items.push_back(Item{std::move(*rec), line_no});
  }
  HttpResponse r = WriteAndAnswer(call, [&](storage::WriteTxn& txn) {
    for (const Item& item : items) {
      Status st = storage::ApplyJsonlRecord(txn, item.record);
      if (!st.ok()) return at_line(item.line, st);
    }
    return Status::Ok();
  });
  if (r.status == 200) {
    r.body.insert(r.body.size() - 1,
                  ",\"imported\":" + std::to_string(items.size()));
  }
  return r;
}

HttpResponse Export(Call& call) {
  if (call.api.store == nullptr) return NoStoreResponse();
  auto view = call.api.store->Read();
  if (!view) return ErrorResponse(view.error());
  // The same format and order as `portcullis export`: parents before
  // children, every record kind, byte-identical across export and import.
  // Streamed: see server/export_stream.h for why through a spill file.
  const storage::Revision revision = view->revision();
  std::error_code ec;
  std::filesystem::path temp = std::filesystem::temp_directory_path(ec);
  if (ec) temp = "/tmp";
  auto stream = ExportStream::Start(std::move(*view), temp.string());
  if (!stream) return ErrorResponse(stream.error());
  HttpResponse r;
  r.content_type = "application/x-ndjson";
  r.headers.emplace_back("X-Portcullis-Revision", std::to_string(revision));
  r.stream = std::move(*stream);
  return r;
}

}  // namespace handlers
}  // namespace portcullis::server
