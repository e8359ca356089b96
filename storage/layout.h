// The on-disk layout of a Store (format version 1), and the codecs for its
// records. Internal to storage/, with one reader outside it: index/ decodes
// the record images of change sets (storage/change_set.h) and of
// ReadView::ScanTable. Tests use it to inspect or corrupt a store.
//
// Named LMDB databases (keys and values are bytes; "ref" is "type:id"):
//   meta                 "format_version" -> u32 LE, "revision" -> u64 LE
//   resources            ref -> ResourceValue
//   subjects             ref -> Attributes blob
//   access               subject ref \0 resource ref -> AccessValue
//                        (also the index "bindings of a subject": prefix scan)
//   access_by_resource   DUPSORT resource ref -> subject ref
//   children             DUPSORT parent ref -> child ref
//   resources_by_type    DUPSORT type -> id
//   subjects_by_type     DUPSORT type -> id
//   invitations          id -> InvitationValue
//   invitations_by_resource  DUPSORT resource ref -> id
//   invitations_by_invitee   DUPSORT invitee ref -> id
//   changelog            revision u64 big-endian -> ChangelogValue
//
// Records (integers little-endian, strings length-prefixed):
//   ResourceValue   u16 parent_len, parent, Attributes blob
//   Attributes blob u16 count, then per attribute (sorted by key):
//                   u16 key_len, key, Value
//   Value           u8 kind, then: null -; bool u8; int i64; double f64;
//                   string u32 len, bytes; timestamp i64;
//                   list u32 count, Value...
//   AccessValue     u8 flags (1 binding, 2 restriction), u8 state,
//                   i64 expires_at, i64 created_at, u16 created_by_len,
//                   u32 roles_len, u32 actions_len, created_by,
//                   roles (packed "a\0b"), actions (packed)
//                   An expires_at of 0 on disk means "never" (kNoExpiry in
//                   memory); the instant 0 itself, the epoch, is stored as
//                   INT64_MIN, which no RFC 3339 time can be. Stores written
//                   before this distinction read as they did.
//   InvitationValue u8 state, i64 created_at, i64 expires_at (as above),
//                   then u32-length
//                   strings: resource, invitee, roles (packed), inviter,
//                   message
//   ChangelogValue  i64 time, u8 truncated, u64 change_count, u32-length
//                   actor, u32 n, then n times three u32-length strings
//                   (op, entity, related)
//
// Thread safety: every function here is pure (no state, no locks) and safe
// from any thread; a Writer or Reader belongs to the thread using it.
//
// Invariants:
//   1. The encoding is the on-disk format version 1 (kFormatVersion): a change
//      to any codec here is a format change and needs a new version.
//   2. For every record type, Decode(Encode(x)) == x; a Decode* function
//      returns nullopt (or false) on a short or malformed value, never reads
//      past its input, and its string_views point into that input.
//   3. Keys sort as the listings need: refs are "type:id" (checked by
//      CheckRef before any write), access keys "subject\0resource", changelog
//      keys big-endian so that revisions sort numerically.
//   4. A Reader's ok() turns false on the first out-of-bounds read and stays
//      false; reads after that return empty values.
#ifndef PORTCULLIS_STORAGE_LAYOUT_H_
#define PORTCULLIS_STORAGE_LAYOUT_H_

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/entity.h"
#include "storage/store.h"

namespace portcullis::storage {

namespace layout {

inline constexpr uint8_t kHasBinding = 1;
inline constexpr uint8_t kHasRestriction = 2;
inline constexpr size_t kAccessHeader = 1 + 1 + 8 + 8 + 2 + 4 + 4;

// Appends fixed-size little-endian integers and length-prefixed strings.
class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}
  template <typename T>
  void Put(T v) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    out_->append(b, sizeof(T));
  }
  void Str32(std::string_view s) {
    Put<uint32_t>(static_cast<uint32_t>(s.size()));
    out_->append(s);
  }
  void Str16(std::string_view s) {
    Put<uint16_t>(static_cast<uint16_t>(s.size()));
    out_->append(s);
  }
  void Raw(std::string_view s) { out_->append(s); }

 private:
  std::string* out_;
};

// Reads what Writer wrote. Every read checks bounds; ok() turns false on a
// short or malformed record and stays false.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  template <typename T>
  T Get() {
    T v{};
    if (in_.size() - pos_ < sizeof(T) || pos_ > in_.size()) {
      ok_ = false;
      pos_ = in_.size();
      return v;
    }
    std::memcpy(&v, in_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string_view Bytes(size_t n) {
    if (in_.size() - pos_ < n) {
      ok_ = false;
      pos_ = in_.size();
      return {};
    }
    std::string_view s = in_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  std::string_view Str32() { return Bytes(Get<uint32_t>()); }
  std::string_view Str16() { return Bytes(Get<uint16_t>()); }
  std::string_view Rest() {
    std::string_view s = in_.substr(pos_);
    pos_ = in_.size();
    return s;
  }
  bool ok() const { return ok_; }
  bool done() const { return pos_ == in_.size(); }

 private:
  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

inline std::string Ref(std::string_view type, std::string_view id) {
  std::string s;
  s.reserve(type.size() + 1 + id.size());
  s.append(type).append(":").append(id);
  return s;
}
inline void AppendRef(std::string* out, engine::EntityRef r) {
  out->append(r.type).append(":").append(r.id);
}
// Splits "type:id"; the caller knows it is well-formed.
inline engine::EntityRef SplitRef(std::string_view ref) {
  const size_t colon = ref.find(':');
  if (colon == std::string_view::npos) return engine::EntityRef{ref, {}};
  return engine::EntityRef{ref.substr(0, colon), ref.substr(colon + 1)};
}

std::string Pack(const std::vector<std::string>& names);
std::vector<std::string> Unpack(std::string_view packed);

void EncodeAttributes(const Attributes& attrs, std::string* out);
// Returns false on a malformed blob.
bool DecodeAttributes(std::string_view blob, Attributes* out);
// Finds `key` in a blob; returns the encoded Value bytes (up to the blob's
// end) or nullopt.
std::optional<std::string_view> FindAttribute(std::string_view blob,
                                              std::string_view key);

struct ResourceValue {
  std::string_view parent;
  std::string_view attributes;
};
void EncodeResource(std::string_view parent, const Attributes& attrs,
                    std::string* out);
void EncodeResourceRaw(std::string_view parent, std::string_view attrs_blob,
                       std::string* out);
std::optional<ResourceValue> DecodeResource(std::string_view value);

struct AccessValue {
  uint8_t flags = 0;
  engine::BindingState state = engine::BindingState::kActive;
  TimestampMicros expires_at = kNoExpiry;
  TimestampMicros created_at = 0;
  std::string_view created_by;
  std::string_view roles;
  std::string_view actions;
};
void EncodeAccess(const AccessValue& a, std::string* out);
std::optional<AccessValue> DecodeAccess(std::string_view value);

void EncodeInvitation(const Invitation& inv, std::string* out);
std::optional<Invitation> DecodeInvitation(std::string_view id,
                                           std::string_view value);

void EncodeChangelog(const ChangelogEntry& e, std::string* out);
std::optional<ChangelogEntry> DecodeChangelog(Revision rev,
                                              std::string_view value);

inline std::string RevisionKey(Revision r) {
  std::string k(8, '\0');
  for (int i = 0; i < 8; ++i) k[i] = static_cast<char>(r >> (56 - 8 * i));
  return k;
}
inline Revision RevisionFromKey(std::string_view k) {
  Revision r = 0;
  for (size_t i = 0; i < 8 && i < k.size(); ++i) {
    r = (r << 8) | static_cast<uint8_t>(k[i]);
  }
  return r;
}

// "type:id" well-formedness: a non-empty type of at most kMaxTypeLength
// bytes without ':', a non-empty id of at most kMaxIdLength bytes, both
// following engine::EntityNameProblem's rule (UTF-8; no '/', control
// characters or spaces). Every write checks its refs with these. Returns an
// error naming `field`.
Status CheckRef(std::string_view ref, std::string_view field);
Status CheckName(std::string_view name, std::string_view what);

}  // namespace layout
}  // namespace portcullis::storage

#endif  // PORTCULLIS_STORAGE_LAYOUT_H_
