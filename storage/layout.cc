#include "storage/layout.h"

#include <limits>

namespace portcullis::storage::layout {
namespace {

using engine::OwnedValue;
using engine::ValueKind;

constexpr int kMaxValueDepth = 16;

void EncodeValue(const OwnedValue& v, Writer* w) {
  w->Put<uint8_t>(static_cast<uint8_t>(v.kind));
  switch (v.kind) {
    case ValueKind::kNull: break;
    case ValueKind::kBool: w->Put<uint8_t>(v.b ? 1 : 0); break;
    case ValueKind::kInt:
    case ValueKind::kTimestamp: w->Put<int64_t>(v.i); break;
    case ValueKind::kDouble: w->Put<double>(v.d); break;
    case ValueKind::kString: w->Str32(v.s); break;
    case ValueKind::kList:
      w->Put<uint32_t>(static_cast<uint32_t>(v.list.size()));
      for (const OwnedValue& e : v.list) EncodeValue(e, w);
      break;
  }
}

bool DecodeValue(Reader* r, OwnedValue* v, int depth) {
  if (depth > kMaxValueDepth) return false;
  const uint8_t kind = r->Get<uint8_t>();
  if (kind > static_cast<uint8_t>(ValueKind::kList)) return false;
  v->kind = static_cast<ValueKind>(kind);
  switch (v->kind) {
    case ValueKind::kNull: break;
    case ValueKind::kBool: v->b = r->Get<uint8_t>() != 0; break;
    case ValueKind::kInt:
    case ValueKind::kTimestamp: v->i = r->Get<int64_t>(); break;
    case ValueKind::kDouble: v->d = r->Get<double>(); break;
    case ValueKind::kString: v->s = std::string(r->Str32()); break;
    case ValueKind::kList: {
      const uint32_t n = r->Get<uint32_t>();
      for (uint32_t i = 0; i < n && r->ok(); ++i) {
        v->list.emplace_back();
        if (!DecodeValue(r, &v->list.back(), depth + 1)) return false;
      }
      break;
    }
  }
  return r->ok();
}

// Skips one encoded value.
bool SkipValue(Reader* r, int depth) {
  if (depth > kMaxValueDepth) return false;
  const uint8_t kind = r->Get<uint8_t>();
  switch (static_cast<ValueKind>(kind)) {
    case ValueKind::kNull: break;
    case ValueKind::kBool: r->Get<uint8_t>(); break;
    case ValueKind::kInt:
    case ValueKind::kTimestamp:
    case ValueKind::kDouble: r->Get<int64_t>(); break;
    case ValueKind::kString: r->Str32(); break;
    case ValueKind::kList: {
      const uint32_t n = r->Get<uint32_t>();
      for (uint32_t i = 0; i < n && r->ok(); ++i) {
        if (!SkipValue(r, depth + 1)) return false;
      }
      break;
    }
    default: return false;
  }
  return r->ok();
}

// Expiries on disk: 0 is "never" (as every store has written it), so the
// epoch instant is written as INT64_MIN (before any RFC 3339 time).
int64_t EncodeExpiry(TimestampMicros t) {
  if (t == kNoExpiry) return 0;
  if (t == 0) return std::numeric_limits<int64_t>::min();
  return t;
}

TimestampMicros DecodeExpiry(int64_t disk) {
  if (disk == 0) return kNoExpiry;
  if (disk == std::numeric_limits<int64_t>::min()) return 0;
  return disk;
}

}  // namespace

std::string Pack(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) out.push_back('\0');
    out += names[i];
  }
  return out;
}

std::vector<std::string> Unpack(std::string_view packed) {
  std::vector<std::string> out;
  engine::PackedNames(packed).ForEach(
      [&](std::string_view n) { out.emplace_back(n); });
  return out;
}

void EncodeAttributes(const Attributes& attrs, std::string* out) {
  Writer w(out);
  w.Put<uint16_t>(static_cast<uint16_t>(attrs.size()));
  for (const auto& [k, v] : attrs) {
    w.Str16(k);
    EncodeValue(v, &w);
  }
}

bool DecodeAttributes(std::string_view blob, Attributes* out) {
  out->clear();
  if (blob.empty()) return true;
  Reader r(blob);
  const uint16_t n = r.Get<uint16_t>();
  for (uint16_t i = 0; i < n && r.ok(); ++i) {
    std::string key(r.Str16());
    OwnedValue v;
    if (!DecodeValue(&r, &v, 0)) return false;
    (*out)[std::move(key)] = std::move(v);
  }
  return r.ok() && r.done();
}

std::optional<std::string_view> FindAttribute(std::string_view blob,
                                              std::string_view key) {
  if (blob.empty()) return std::nullopt;
  Reader r(blob);
  const uint16_t n = r.Get<uint16_t>();
  for (uint16_t i = 0; i < n && r.ok(); ++i) {
    const std::string_view k = r.Str16();
    if (k == key) return r.Rest();
    if (!SkipValue(&r, 0)) return std::nullopt;
  }
  return std::nullopt;
}

void EncodeResource(std::string_view parent, const Attributes& attrs,
                    std::string* out) {
  Writer w(out);
  w.Str16(parent);
  EncodeAttributes(attrs, out);
}

void EncodeResourceRaw(std::string_view parent, std::string_view attrs_blob,
                       std::string* out) {
  Writer w(out);
  w.Str16(parent);
  w.Raw(attrs_blob);
}

std::optional<ResourceValue> DecodeResource(std::string_view value) {
  Reader r(value);
  ResourceValue v;
  v.parent = r.Str16();
  if (!r.ok()) return std::nullopt;
  v.attributes = r.Rest();
  return v;
}

void EncodeAccess(const AccessValue& a, std::string* out) {
  Writer w(out);
  w.Put<uint8_t>(a.flags);
  w.Put<uint8_t>(static_cast<uint8_t>(a.state));
  w.Put<int64_t>(EncodeExpiry(a.expires_at));
  w.Put<int64_t>(a.created_at);
  w.Put<uint16_t>(static_cast<uint16_t>(a.created_by.size()));
  w.Put<uint32_t>(static_cast<uint32_t>(a.roles.size()));
  w.Put<uint32_t>(static_cast<uint32_t>(a.actions.size()));
  w.Raw(a.created_by);
  w.Raw(a.roles);
  w.Raw(a.actions);
}

std::optional<AccessValue> DecodeAccess(std::string_view value) {
  Reader r(value);
  AccessValue a;
  a.flags = r.Get<uint8_t>();
  const uint8_t state = r.Get<uint8_t>();
  a.expires_at = DecodeExpiry(r.Get<int64_t>());
  a.created_at = r.Get<int64_t>();
  const uint16_t cb = r.Get<uint16_t>();
  const uint32_t rl = r.Get<uint32_t>();
  const uint32_t al = r.Get<uint32_t>();
  a.created_by = r.Bytes(cb);
  a.roles = r.Bytes(rl);
  a.actions = r.Bytes(al);
  if (!r.ok() || !r.done() || state > 1 || (a.flags & ~3) != 0 ||
      a.flags == 0) {
    return std::nullopt;
  }
  a.state = static_cast<engine::BindingState>(state);
  return a;
}

void EncodeInvitation(const Invitation& inv, std::string* out) {
  Writer w(out);
  w.Put<uint8_t>(static_cast<uint8_t>(inv.state));
  w.Put<int64_t>(inv.created_at);
  w.Put<int64_t>(EncodeExpiry(inv.expires_at));
  w.Str32(inv.resource);
  w.Str32(inv.invitee);
  w.Str32(Pack(inv.roles));
  w.Str32(inv.inviter);
  w.Str32(inv.message);
}

std::optional<Invitation> DecodeInvitation(std::string_view id,
                                           std::string_view value) {
  Reader r(value);
  Invitation inv;
  inv.id = std::string(id);
  const uint8_t state = r.Get<uint8_t>();
  inv.created_at = r.Get<int64_t>();
  inv.expires_at = DecodeExpiry(r.Get<int64_t>());
  inv.resource = std::string(r.Str32());
  inv.invitee = std::string(r.Str32());
  inv.roles = Unpack(r.Str32());
  inv.inviter = std::string(r.Str32());
  inv.message = std::string(r.Str32());
  if (!r.ok() || !r.done() ||
      state > static_cast<uint8_t>(InvitationState::kExpired)) {
    return std::nullopt;
  }
  inv.state = static_cast<InvitationState>(state);
  return inv;
}

void EncodeChangelog(const ChangelogEntry& e, std::string* out) {
  Writer w(out);
  w.Put<int64_t>(e.time);
  w.Put<uint8_t>(e.truncated ? 1 : 0);
  w.Put<uint64_t>(e.change_count);
  w.Str32(e.actor);
  w.Put<uint32_t>(static_cast<uint32_t>(e.changes.size()));
  for (const Change& c : e.changes) {
    w.Str32(c.op);
    w.Str32(c.entity);
    w.Str32(c.related);
  }
}

std::optional<ChangelogEntry> DecodeChangelog(Revision rev,
                                              std::string_view value) {
  Reader r(value);
  ChangelogEntry e;
  e.revision = rev;
  e.time = r.Get<int64_t>();
  e.truncated = r.Get<uint8_t>() != 0;
  e.change_count = r.Get<uint64_t>();
  e.actor = std::string(r.Str32());
  const uint32_t n = r.Get<uint32_t>();
  for (uint32_t i = 0; i < n && r.ok(); ++i) {
    Change c;
    c.op = std::string(r.Str32());
    c.entity = std::string(r.Str32());
    c.related = std::string(r.Str32());
    e.changes.push_back(std::move(c));
  }
  if (!r.ok() || !r.done()) return std::nullopt;
  return e;
}

Status CheckName(std::string_view name, std::string_view what) {
  if (name.empty()) {
    return Status::InvalidArgument(std::string(what) + " is empty",
                                   std::string(what));
  }
  if (name.size() > kMaxTypeLength) {
    return Status::InvalidArgument(
        std::string(what) + " is longer than " +
            std::to_string(kMaxTypeLength) + " bytes",
        std::string(what));
  }
  if (name.find(':') != std::string_view::npos) {
    return Status::InvalidArgument(
        std::string(what) + " must not contain ':'", std::string(what));
  }
  if (std::string_view p = engine::EntityNameProblem(name); !p.empty()) {
    return Status::InvalidArgument(std::string(what) + " " + std::string(p),
                                   std::string(what));
  }
  return Status::Ok();
}

Status CheckRef(std::string_view ref, std::string_view field) {
  const std::string f(field);
  const size_t colon = ref.find(':');
  if (colon == std::string_view::npos || colon == 0 ||
      colon + 1 == ref.size()) {
    return Status::InvalidArgument(
        f + " must be a \"type:id\" reference, got \"" +
            std::string(ref.substr(0, 100)) + "\"",
        f);
  }
  if (colon > kMaxTypeLength) {
    return Status::InvalidArgument(
        f + ": type is longer than " + std::to_string(kMaxTypeLength) +
            " bytes",
        f);
  }
  if (ref.size() - colon - 1 > kMaxIdLength) {
    return Status::InvalidArgument(
        f + ": id is longer than " + std::to_string(kMaxIdLength) + " bytes",
        f);
  }
  if (std::string_view p = engine::EntityNameProblem(ref.substr(0, colon));
      !p.empty()) {
    return Status::InvalidArgument(f + ": type " + std::string(p), f);
  }
  if (std::string_view p = engine::EntityNameProblem(ref.substr(colon + 1));
      !p.empty()) {
    return Status::InvalidArgument(f + ": id " + std::string(p), f);
  }
  return Status::Ok();
}

}  // namespace portcullis::storage::layout
