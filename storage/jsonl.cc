#include "storage/jsonl.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <istream>
#include <ostream>

#include "common/json_keys.h"
#include "storage/attributes_json.h"

namespace portcullis::storage {
namespace {

using engine::OwnedValue;
using engine::ValueKind;
using JsonValue = rapidjson::Value;
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

Status FieldError(std::string_view field, std::string_view msg) {
  return Status::InvalidArgument(std::string(field) + ": " + std::string(msg),
                                 std::string(field));
}

// Depth of a parsed value, computed without recursion beyond `limit`.
bool DepthAtMost(const JsonValue& v, int limit) {
  if (limit < 0) return false;
  if (v.IsObject()) {
    for (auto& m : v.GetObject()) {
      if (!DepthAtMost(m.value, limit - 1)) return false;
    }
  } else if (v.IsArray()) {
    for (auto& e : v.GetArray()) {
      if (!DepthAtMost(e, limit - 1)) return false;
    }
  }
  return true;
}

// Reads the fields of one record object, checking types and unknown keys.
class Fields {
 public:
  explicit Fields(const JsonValue& obj) : obj_(obj) {}

  // Fails on a key not in `allowed` or a key given twice.
  Status CheckKeys(std::initializer_list<std::string_view> allowed) {
    for (auto& m : obj_.GetObject()) {
      const std::string_view name(m.name.GetString(),
                                  m.name.GetStringLength());
      bool known = false;
      for (std::string_view a : allowed) known |= a == name;
      if (!known) {
        return Status::InvalidArgument(
            "unknown field '" + std::string(name) + "'", std::string(name));
      }
      int count = 0;
      for (auto& n : obj_.GetObject()) {
        count += std::string_view(n.name.GetString(),
                                  n.name.GetStringLength()) == name;
      }
      if (count > 1) {
        return Status::InvalidArgument(
            "field '" + std::string(name) + "' given twice",
            std::string(name));
      }
    }
    return Status::Ok();
  }

  const JsonValue* Find(std::string_view name) const {
    for (auto& m : obj_.GetObject()) {
      if (std::string_view(m.name.GetString(), m.name.GetStringLength()) ==
          name) {
        return &m.value;
      }
    }
    return nullptr;
  }

  Status String(std::string_view name, bool required, std::string* out) {
    const JsonValue* v = Find(name);
    if (v == nullptr) {
      return required ? FieldError(name, "required") : Status::Ok();
    }
    if (!v->IsString()) return FieldError(name, "must be a string");
    out->assign(v->GetString(), v->GetStringLength());
    if (required && out->empty()) return FieldError(name, "must not be empty");
    return Status::Ok();
  }

  Status Time(std::string_view name, TimestampMicros* out) {
    std::string text;
    if (Status s = String(name, false, &text); !s.ok()) return s;
    if (Find(name) == nullptr) return Status::Ok();
    auto t = ParseRfc3339(text);
    if (!t) return FieldError(name, "must be an RFC 3339 timestamp");
    *out = *t;
    return Status::Ok();
  }

  Status Names(std::string_view name, std::vector<std::string>* out) {
    const JsonValue* v = Find(name);
    if (v == nullptr) return FieldError(name, "required");
    if (!v->IsArray()) return FieldError(name, "must be a list of strings");
    for (auto& e : v->GetArray()) {
      if (!e.IsString()) return FieldError(name, "must be a list of strings");
      out->emplace_back(e.GetString(), e.GetStringLength());
    }
    return Status::Ok();
  }

  Status Attrs(Attributes* out) {
    const JsonValue* v = Find("attributes");
    if (v == nullptr) return Status::Ok();
    return ParseAttributesJson(*v, "attributes", out);
  }

 private:
  const JsonValue& obj_;
};

#define RETURN_IF_ERROR(expr)        \
  do {                               \
    Status _s = (expr);              \
    if (!_s.ok()) return Fail(_s);   \
  } while (0)

// Writing.

void Key(JsonWriter& w, std::string_view k) {
  w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
}
void Str(JsonWriter& w, std::string_view k, std::string_view v) {
  Key(w, k);
  w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}
void Names(JsonWriter& w, std::string_view k,
           const std::vector<std::string>& names) {
  Key(w, k);
  w.StartArray();
  for (const std::string& n : names) {
    w.String(n.data(), static_cast<rapidjson::SizeType>(n.size()));
  }
  w.EndArray();
}
void Attrs(JsonWriter& w, const Attributes& attrs) {
  if (attrs.empty()) return;
  Key(w, "attributes");
  WriteAttributesJson(w, attrs);
}
void Time(JsonWriter& w, std::string_view k, TimestampMicros t) {
  if (t != 0) Str(w, k, FormatRfc3339(t));
}

// An expiry: absent when there is none (the epoch is an instant like any).
void Expiry(JsonWriter& w, std::string_view k, TimestampMicros t) {
  if (t != kNoExpiry) Str(w, k, FormatRfc3339(t));
}

}  // namespace

Result<JsonlRecord> ParseJsonlRecord(std::string_view line) {
  if (line.size() > kMaxJsonlLine) {
    return Fail(Status(StatusCode::kResourceExhausted,
                       "line longer than " + std::to_string(kMaxJsonlLine) +
                           " bytes"));
  }
  rapidjson::Document doc;
  // Explicit length; iterative parsing keeps deep input off the stack.
  doc.Parse<rapidjson::kParseValidateEncodingFlag |
            rapidjson::kParseIterativeFlag |
            rapidjson::kParseFullPrecisionFlag>(line.data(), line.size());
  if (doc.HasParseError()) {
    return Fail(Status::InvalidArgument(
        std::string("invalid JSON at column ") +
        std::to_string(doc.GetErrorOffset() + 1) + ": " +
        rapidjson::GetParseError_En(doc.GetParseError())));
  }
  if (!doc.IsObject()) {
    return Fail(Status::InvalidArgument("a record must be a JSON object"));
  }
  if (!DepthAtMost(doc, kMaxJsonlDepth)) {
    return Fail(Status::InvalidArgument(
        "nested deeper than " + std::to_string(kMaxJsonlDepth) + " levels"));
  }
  // After the depth bound: the walk is recursive.
  if (std::string path; FindDuplicateKey(doc, &path)) {
    return Fail(Status::InvalidArgument(
        "field '" + path + "' given twice", path));
  }
  Fields f(doc);
  std::string kind;
  RETURN_IF_ERROR(f.String("kind", true, &kind));
  if (kind == "resource") {
    RETURN_IF_ERROR(
        f.CheckKeys({"kind", "type", "id", "parent", "attributes"}));
    ResourceRecord r;
    RETURN_IF_ERROR(f.String("type", true, &r.type));
    RETURN_IF_ERROR(f.String("id", true, &r.id));
    RETURN_IF_ERROR(f.String("parent", false, &r.parent));
    RETURN_IF_ERROR(f.Attrs(&r.attributes));
    return r;
  }
  if (kind == "subject") {
    RETURN_IF_ERROR(f.CheckKeys({"kind", "type", "id", "attributes"}));
    SubjectRecord r;
    RETURN_IF_ERROR(f.String("type", true, &r.type));
    RETURN_IF_ERROR(f.String("id", true, &r.id));
    RETURN_IF_ERROR(f.Attrs(&r.attributes));
    return r;
  }
  if (kind == "binding") {
    RETURN_IF_ERROR(f.CheckKeys({"kind", "subject", "resource", "roles",
                                 "state", "expires_at", "created_by",
                                 "created_at"}));
    BindingRecord b;
    RETURN_IF_ERROR(f.String("subject", true, &b.subject));
    RETURN_IF_ERROR(f.String("resource", true, &b.resource));
    RETURN_IF_ERROR(f.Names("roles", &b.roles));
    if (b.roles.empty()) {
      return Fail(FieldError("roles", "must not be empty"));
    }
    std::string state = "active";
    RETURN_IF_ERROR(f.String("state", false, &state));
    if (state == "active") {
      b.state = engine::BindingState::kActive;
    } else if (state == "pending") {
      b.state = engine::BindingState::kPending;
    } else {
      return Fail(FieldError("state", "must be \"active\" or \"pending\""));
    }
    RETURN_IF_ERROR(f.Time("expires_at", &b.expires_at));
    RETURN_IF_ERROR(f.String("created_by", false, &b.created_by));
    RETURN_IF_ERROR(f.Time("created_at", &b.created_at));
    return b;
  }
  if (kind == "restriction") {
    RETURN_IF_ERROR(f.CheckKeys({"kind", "subject", "resource", "actions"}));
    RestrictionRecord r;
    RETURN_IF_ERROR(f.String("subject", true, &r.subject));
    RETURN_IF_ERROR(f.String("resource", true, &r.resource));
    RETURN_IF_ERROR(f.Names("actions", &r.actions));
    if (r.actions.empty()) {
      return Fail(FieldError("actions", "must not be empty"));
    }
    return r;
  }
  if (kind == "invitation") {
    RETURN_IF_ERROR(f.CheckKeys({"kind", "id", "resource", "invitee", "roles",
                                 "inviter", "message", "created_at",
                                 "expires_at", "state"}));
    Invitation inv;
    RETURN_IF_ERROR(f.String("id", true, &inv.id));
    RETURN_IF_ERROR(f.String("resource", true, &inv.resource));
    RETURN_IF_ERROR(f.String("invitee", true, &inv.invitee));
    RETURN_IF_ERROR(f.Names("roles", &inv.roles));
    RETURN_IF_ERROR(f.String("inviter", false, &inv.inviter));
    RETURN_IF_ERROR(f.String("message", false, &inv.message));
    RETURN_IF_ERROR(f.Time("created_at", &inv.created_at));
    RETURN_IF_ERROR(f.Time("expires_at", &inv.expires_at));
    std::string state = "pending";
    RETURN_IF_ERROR(f.String("state", false, &state));
    auto st = ParseInvitationState(state);
    if (!st) {
      return Fail(FieldError(
          "state",
          "must be pending, accepted, declined, revoked or expired"));
    }
    inv.state = *st;
    return inv;
  }
  return Fail(FieldError("kind",
                         "must be resource, subject, binding, restriction or "
                         "invitation, got \"" + kind.substr(0, 40) + "\""));
}

std::string FormatJsonlRecord(const JsonlRecord& record) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  if (auto* r = std::get_if<ResourceRecord>(&record)) {
    Str(w, "kind", "resource");
    Str(w, "type", r->type);
    Str(w, "id", r->id);
    if (!r->parent.empty()) Str(w, "parent", r->parent);
    Attrs(w, r->attributes);
  } else if (auto* s = std::get_if<SubjectRecord>(&record)) {
    Str(w, "kind", "subject");
    Str(w, "type", s->type);
    Str(w, "id", s->id);
    Attrs(w, s->attributes);
  } else if (auto* b = std::get_if<BindingRecord>(&record)) {
    Str(w, "kind", "binding");
    Str(w, "subject", b->subject);
    Str(w, "resource", b->resource);
    Names(w, "roles", b->roles);
    Str(w, "state",
        b->state == engine::BindingState::kPending ? "pending" : "active");
    Expiry(w, "expires_at", b->expires_at);
    if (!b->created_by.empty()) Str(w, "created_by", b->created_by);
    Time(w, "created_at", b->created_at);
  } else if (auto* x = std::get_if<RestrictionRecord>(&record)) {
    Str(w, "kind", "restriction");
    Str(w, "subject", x->subject);
    Str(w, "resource", x->resource);
    Names(w, "actions", x->actions);
  } else if (auto* inv = std::get_if<Invitation>(&record)) {
    Str(w, "kind", "invitation");
    Str(w, "id", inv->id);
    Str(w, "resource", inv->resource);
    Str(w, "invitee", inv->invitee);
    Names(w, "roles", inv->roles);
    if (!inv->inviter.empty()) Str(w, "inviter", inv->inviter);
    if (!inv->message.empty()) Str(w, "message", inv->message);
    Time(w, "created_at", inv->created_at);
    Expiry(w, "expires_at", inv->expires_at);
    Str(w, "state", InvitationStateName(inv->state));
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

Status ApplyJsonlRecord(WriteTxn& txn, const JsonlRecord& record) {
  if (auto* r = std::get_if<ResourceRecord>(&record)) {
    return txn.PutResource(*r);
  }
  if (auto* s = std::get_if<SubjectRecord>(&record)) {
    return txn.PutSubject(*s);
  }
  if (auto* b = std::get_if<BindingRecord>(&record)) {
    return txn.SetBinding(*b);
  }
  if (auto* x = std::get_if<RestrictionRecord>(&record)) {
    return txn.SetRestriction(*x);
  }
  Invitation inv = std::get<Invitation>(record);
  return txn.CreateInvitation(&inv);
}

Result<ImportStats> ImportJsonl(Store& store, std::istream& in,
                                const ImportOptions& options) {
  ImportStats stats;
  const size_t batch_size = std::max<size_t>(1, options.batch_size);
  std::vector<JsonlRecord> batch;
  std::vector<uint64_t> line_numbers;
  batch.reserve(std::min<size_t>(batch_size, 1 << 16));
  const auto start = std::chrono::steady_clock::now();

  auto where = [&](uint64_t line) {
    return "line " + std::to_string(line) + ": ";
  };
  auto committed = [&]() {
    return " (" + std::to_string(stats.records) + " records before it, in " +
           std::to_string(stats.batches) +
           " batches, were imported; nothing of its batch was)";
  };
  auto flush = [&]() -> Status {
    if (batch.empty()) return Status::Ok();
    size_t failed_at = 0;
    auto rev = store.Write(options.policy, options.actor, [&](WriteTxn& w) {
      for (size_t i = 0; i < batch.size(); ++i) {
        Status s = ApplyJsonlRecord(w, batch[i]);
        if (!s.ok()) {
          failed_at = i;
          return s;
        }
      }
      return Status::Ok();
    });
    if (!rev) {
      const Status& e = rev.error();
      std::string msg = e.message();
      if (e.code() == StatusCode::kNotFound && e.field() == "parent") {
        msg += " (import needs parents before children, as export writes)";
      }
      return Status(e.code(),
                    where(line_numbers[failed_at]) + msg + committed(),
                    e.field());
    }
    stats.records += batch.size();
    stats.batches += 1;
    stats.revision = *rev;
    batch.clear();
    line_numbers.clear();
    if (options.progress) {
      const double secs = std::chrono::duration<double>(
                              std::chrono::steady_clock::now() - start)
                              .count();
      std::fprintf(stderr, "\rimported %llu records (%.0f/s)",
                   static_cast<unsigned long long>(stats.records),
                   secs > 0 ? stats.records / secs : 0.0);
      std::fflush(stderr);
    }
    return Status::Ok();
  };

  std::string line;
  while (std::getline(in, line)) {
    ++stats.lines;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    auto rec = ParseJsonlRecord(line);
    if (!rec) {
      return Fail(Status(rec.error().code(),
                         where(stats.lines) + rec.error().message() +
                             committed(),
                         rec.error().field()));
    }
    batch.push_back(std::move(*rec));
    line_numbers.push_back(stats.lines);
    if (batch.size() >= batch_size) {
      if (Status s = flush(); !s.ok()) return Fail(s);
    }
  }
  if (in.bad()) return Fail(Status::Internal("read error on the input"));
  if (Status s = flush(); !s.ok()) return Fail(s);
  if (options.progress) std::fputc('\n', stderr);
  return stats;
}

Result<ImportStats> ImportJsonlFile(Store& store, const std::string& path,
                                    const ImportOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(Status::NotFound("cannot open " + path));
  return ImportJsonl(store, in, options);
}

Result<ExportStats> ExportJsonl(const ReadView& view, std::ostream& out) {
  ExportStats stats;
  stats.revision = view.revision();
  auto emit = [&](const JsonlRecord& r) {
    out << FormatJsonlRecord(r) << '\n';
    ++stats.records;
    return static_cast<bool>(out);
  };
  // Resources, depth-first from the roots so parents come first.
  std::vector<std::string> roots;
  Status s = view.ForEachResourceRecord([&](const ResourceRecord& r) {
    if (r.parent.empty()) roots.push_back(r.type + ":" + r.id);
    return true;
  });
  if (!s.ok()) return Fail(s);
  std::vector<std::string> stack(roots.rbegin(), roots.rend());
  std::vector<std::string> children;
  while (!stack.empty()) {
    const std::string ref = std::move(stack.back());
    stack.pop_back();
    const auto e = engine::ParseEntityRef(ref);
    if (!e) return Fail(Status::Internal("bad resource key " + ref));
    auto rec = view.GetResourceRecord(*e);
    if (!rec) return Fail(Status::Internal("resource " + ref + " vanished"));
    if (!emit(*rec)) return Fail(Status::Internal("write error on output"));
    children.clear();
    view.ForEachChild(*e, [&](engine::EntityRef c) {
      children.push_back(c.ToString());
      return true;
    });
    for (auto it = children.rbegin(); it != children.rend(); ++it) {
      stack.push_back(std::move(*it));
    }
  }
  if (view.failed()) return Fail(Status::Internal(std::string(view.failure())));
  bool ok = true;
  s = view.ForEachSubjectRecord(
      [&](const SubjectRecord& r) { return ok = emit(r); });
  if (!s.ok()) return Fail(s);
  s = view.ForEachAccessRecord([&](const AccessRecord& a) {
    if (a.binding) ok = ok && emit(*a.binding);
    if (a.restriction) ok = ok && emit(*a.restriction);
    return ok;
  });
  if (!s.ok()) return Fail(s);
  s = view.ForEachInvitation([&](const Invitation& i) { return ok = emit(i); });
  if (!s.ok()) return Fail(s);
  if (!ok || !out.flush()) return Fail(Status::Internal("write error on output"));
  return stats;
}

}  // namespace portcullis::storage
