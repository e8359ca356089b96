// The contents of a DecisionIndex (decision_index.h): nodes with dense ids,
// the tables from "type:id" to id, interned name lists. PRIVATE to index/:
// DecisionIndex changes it, IndexView reads it.
//
// Thread safety: none of its own. DecisionIndex guards it with its lock:
// written with the lock held exclusively, read with it held shared.
//
// Invariants:
//   1. ResourceNode::ref and SubjectNode::ref point at the key of their
//      entry in `resource_ids` / `subject_ids` (unordered_map keys do not
//      move), so EntityRefs made from them stay valid until the node is
//      freed; a freed node has ref == nullptr.
//   2. ResourceNode::refs counts the live children whose parent it is plus
//      the access entries on it. A node is freed only when !live and
//      refs == 0 (resources) or !live and access is empty (subjects).
//   3. SubjectNode::access is sorted by resource id, one entry per resource.
#ifndef PORTCULLIS_INDEX_INDEX_DATA_H_
#define PORTCULLIS_INDEX_INDEX_DATA_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "engine/data_view.h"
#include "engine/entity.h"
#include "index/decision_index.h"

namespace portcullis::index {

inline constexpr uint32_t kNone = UINT32_MAX;

// Hashes "type:id" whether it comes as one string or as an EntityRef, so
// that a lookup by EntityRef builds no string (FNV-1a, 64 bits).
struct RefHash {
  using is_transparent = void;
  static uint64_t Mix(uint64_t h, std::string_view s) {
    for (const char c : s) {
      h ^= static_cast<unsigned char>(c);
      h *= 1099511628211ull;
    }
    return h;
  }
  size_t operator()(std::string_view ref) const {
    return Mix(14695981039346656037ull, ref);
  }
  size_t operator()(const std::string& ref) const {
    return (*this)(std::string_view(ref));
  }
  size_t operator()(engine::EntityRef r) const {
    return Mix(Mix(Mix(14695981039346656037ull, r.type), ":"), r.id);
  }
};

inline bool RefEquals(std::string_view ref, engine::EntityRef r) {
  return ref.size() == r.type.size() + 1 + r.id.size() &&
         ref.compare(0, r.type.size(), r.type) == 0 &&
         ref[r.type.size()] == ':' &&
         ref.compare(r.type.size() + 1, r.id.size(), r.id) == 0;
}

struct RefEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const {
    return a == b;
  }
  bool operator()(const std::string& a, engine::EntityRef b) const {
    return RefEquals(a, b);
  }
  bool operator()(engine::EntityRef a, const std::string& b) const {
    return RefEquals(b, a);
  }
};

using IdTable = std::unordered_map<std::string, uint32_t, RefHash, RefEq>;

// 48 bytes. A short "type:id" is copied into the node itself, so that a
// check walking up the tree touches one cache line per ancestor rather than
// the node and then its key in the table.
struct ResourceNode {
  static constexpr size_t kInline = 22;
  const std::string* ref = nullptr;  // "type:id"; null once freed
  uint32_t parent = kNone;
  uint32_t refs = 0;
  uint16_t type_len = 0;
  uint8_t inline_len = 0;  // > 0: `text` holds the ref
  bool live = false;       // its record exists
  char text[kInline];

  std::string_view Text() const {
    return inline_len > 0 ? std::string_view(text, inline_len)
                          : std::string_view(*ref);
  }
  engine::EntityRef Ref() const {
    const std::string_view s = Text();
    return {s.substr(0, type_len), s.substr(type_len + 1)};
  }
};

// What one subject holds directly on one resource.
struct AccessEntry {
  uint32_t resource = kNone;
  uint32_t roles = kNone;    // interned packed role names; kNone: no binding
  uint32_t actions = kNone;  // interned packed actions; kNone: no restriction
  engine::BindingState state = engine::BindingState::kActive;
  TimestampMicros expires_at = kNoExpiry;
};

struct SubjectNode {
  const std::string* ref = nullptr;
  uint16_t type_len = 0;
  bool live = false;
  std::vector<AccessEntry> access;  // sorted by resource
};

struct DecisionIndex::Data {
  storage::Revision revision = 0;
  IdTable resource_ids, subject_ids;
  std::vector<ResourceNode> resources;
  std::vector<SubjectNode> subjects;
  std::vector<uint32_t> free_resources, free_subjects;
  // Packed name lists ("a\0b"), each stored once.
  std::unordered_map<std::string, uint32_t> name_ids;
  std::vector<const std::string*> names;
  uint64_t live_resources = 0, live_subjects = 0, access_entries = 0;

  uint32_t FindResource(engine::EntityRef r) const {
    auto it = resource_ids.find(r);
    return it == resource_ids.end() ? kNone : it->second;
  }
  uint32_t FindSubject(engine::EntityRef r) const {
    auto it = subject_ids.find(r);
    return it == subject_ids.end() ? kNone : it->second;
  }
  // The entry of `subject` on `resource`, or null.
  const AccessEntry* FindAccess(uint32_t subject, uint32_t resource) const {
    const std::vector<AccessEntry>& a = subjects[subject].access;
    size_t lo = 0, hi = a.size();
    while (lo < hi) {
      const size_t mid = (lo + hi) / 2;
      if (a[mid].resource < resource) lo = mid + 1;
      else hi = mid;
    }
    return lo < a.size() && a[lo].resource == resource ? &a[lo] : nullptr;
  }
  engine::PackedNames Names(uint32_t id) const {
    return id == kNone ? engine::PackedNames()
                       : engine::PackedNames(*names[id]);
  }
};

}  // namespace portcullis::index

#endif  // PORTCULLIS_INDEX_INDEX_DATA_H_
