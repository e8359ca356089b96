// The contents of a DecisionIndex (decision_index.h): nodes with dense ids,
// the tables from "type:id" to id, interned name lists. PRIVATE to index/:
// DecisionIndex changes it, IndexView reads it.
//
// Thread safety: none of its own. DecisionIndex guards it with its lock:
// written with the lock held exclusively, read with it held shared.
//
// Invariants:
//   1. A node owns its "type:id" (`ref`), which the id tables compare
//      against; EntityRefs made from it are valid while the data is not
//      changed (the index's lock held shared); a freed node has an empty
//      ref and is in no table.
//   2. ResourceNode::refs counts the live children whose parent it is plus
//      the access entries on it. A node is freed only when !live and
//      refs == 0 (resources) or !live and access is empty (subjects).
//   3. SubjectNode::access is sorted by resource id, one entry per resource.
//   4. Descendants: a resource X is in below[A]'s set for X's type exactly
//      when X is live and A is one of its ancestors by parent links (live
//      or not, the first kMaxChain); X is in of_type[its type] exactly when it
//      is live. So "the resources of type T under A, in key order" is one
//      ordered set, and a lookup reads a page of it in order.
#ifndef PORTCULLIS_INDEX_INDEX_DATA_H_
#define PORTCULLIS_INDEX_INDEX_DATA_H_

#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "engine/data_view.h"
#include "engine/entity.h"
#include "index/decision_index.h"
#include "index/ordered_ids.h"

namespace portcullis::index {

inline constexpr uint32_t kNone = UINT32_MAX;
// How far up the ordered sets follow parent links. The store refuses
// cycles and the policy bounds the depth; the cap only keeps a corrupt
// chain from looping.
inline constexpr int kMaxChain = 4096;

// Hashes "type:id" whether it comes as one string or as an EntityRef, so
// that a lookup by EntityRef builds no string (FNV-1a, 64 bits).
struct RefHash {
  static uint64_t Mix(uint64_t h, std::string_view s) {
    for (const char c : s) {
      h ^= static_cast<unsigned char>(c);
      h *= 1099511628211ull;
    }
    return h;
  }
  static uint64_t Of(std::string_view ref) {
    return Mix(14695981039346656037ull, ref);
  }
  static uint64_t Of(engine::EntityRef r) {
    return Mix(Mix(Mix(14695981039346656037ull, r.type), ":"), r.id);
  }
};

inline bool RefEquals(std::string_view ref, engine::EntityRef r) {
  return ref.size() == r.type.size() + 1 + r.id.size() &&
         ref.compare(0, r.type.size(), r.type) == 0 &&
         ref[r.type.size()] == ':' &&
         ref.compare(r.type.size() + 1, r.id.size(), r.id) == 0;
}

// Memory for the index's large arrays: blocks of 2 MiB or more are aligned
// to 2 MiB and offered to the kernel as transparent huge pages
// (madvise(MADV_HUGEPAGE)), so that random reads over hundreds of MiB miss
// the TLB less; where the kernel does not allow it, ordinary pages serve.
template <typename T>
struct HugePageAllocator {
  using value_type = T;
  static constexpr size_t kHuge = size_t{2} << 20;
  HugePageAllocator() = default;
  template <typename U>
  HugePageAllocator(const HugePageAllocator<U>&) {}
  static size_t Rounded(size_t bytes) { return (bytes + kHuge - 1) / kHuge * kHuge; }
  T* allocate(size_t n) {
    const size_t bytes = n * sizeof(T);
    if (bytes < kHuge) return std::allocator<T>().allocate(n);
    void* p = std::aligned_alloc(kHuge, Rounded(bytes));
    if (p == nullptr) throw std::bad_alloc();
    ::madvise(p, Rounded(bytes), MADV_HUGEPAGE);  // a hint: may be refused
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t n) {
    if (n * sizeof(T) < kHuge) {
      std::allocator<T>().deallocate(p, n);
    } else {
      std::free(p);
    }
  }
  template <typename U>
  bool operator==(const HugePageAllocator<U>&) const { return true; }
};
template <typename T>
using HugeVector = std::vector<T, HugePageAllocator<T>>;

// "type:id" -> dense id, open addressing with linear probing over one
// array of 8-byte slots (the high half of the key's hash, and id + 1), so a
// lookup reads one slot's cache line and then the node it names, whose key
// it compares. Keys live in the nodes: `key_of(id)` gives them back.
//
// Invariants: a slot is empty (0), a tombstone (kTombstone) or (hash high
// 32 bits << 32 | id + 1); at most half the slots are filled (live or
// tombstones); every live id is in exactly one slot.
class IdTable {
 public:
  template <typename KeyOf>
  uint32_t Find(engine::EntityRef r, KeyOf&& key_of) const {
    if (slots_.empty()) return kNone;
    const uint64_t h = RefHash::Of(r);
    const uint64_t tag = h >> 32;
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const uint64_t slot = slots_[i];
      if (slot == 0) return kNone;
      if (slot != kTombstone && (slot >> 32) == tag) {
        const uint32_t id = static_cast<uint32_t>(slot) - 1;
        if (RefEquals(key_of(id), r)) return id;
      }
    }
  }
  // Starts loading the slot where a search for `r` begins.
  void PrefetchSlot(engine::EntityRef r) const {
    if (slots_.empty()) return;
    __builtin_prefetch(&slots_[RefHash::Of(r) & mask_], 0, 1);
  }
  // The first id whose slot's hash tag matches `r`'s, without comparing
  // keys (so without reading a node): a guess for prefetching, kNone if
  // none.
  uint32_t Guess(engine::EntityRef r) const {
    if (slots_.empty()) return kNone;
    const uint64_t h = RefHash::Of(r);
    const uint64_t tag = h >> 32;
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const uint64_t slot = slots_[i];
      if (slot == 0) return kNone;
      if (slot != kTombstone && (slot >> 32) == tag) {
        return static_cast<uint32_t>(slot) - 1;
      }
    }
  }
  // Adds `id` under `key` (not present). May rehash through key_of.
  template <typename KeyOf>
  void Insert(std::string_view key, uint32_t id, KeyOf&& key_of) {
    if ((filled_ + 1) * 2 > slots_.size()) Rehash(key_of);
    const uint64_t h = RefHash::Of(key);
    size_t i = h & mask_;
    while (slots_[i] != 0 && slots_[i] != kTombstone) i = (i + 1) & mask_;
    if (slots_[i] == 0) ++filled_;
    slots_[i] = (h >> 32) << 32 | (uint64_t{id} + 1);
    ++size_;
  }
  // Removes `id`, stored under `key`.
  void Erase(std::string_view key, uint32_t id) {
    const uint64_t h = RefHash::Of(key);
    const uint64_t want = (h >> 32) << 32 | (uint64_t{id} + 1);
    for (size_t i = h & mask_; slots_[i] != 0; i = (i + 1) & mask_) {
      if (slots_[i] == want) {
        slots_[i] = kTombstone;
        --size_;
        return;
      }
    }
  }
  size_t size() const { return size_; }
  size_t bytes() const { return slots_.capacity() * sizeof(uint64_t); }

 private:
  static constexpr uint64_t kTombstone = ~uint64_t{0};
  template <typename KeyOf>
  void Rehash(KeyOf&& key_of) {
    HugeVector<uint64_t> old = std::move(slots_);
    size_t n = 64;
    while (n < (size_ + 1) * 4) n *= 2;
    slots_.assign(n, 0);
    mask_ = n - 1;
    filled_ = size_ = 0;
    for (const uint64_t slot : old) {
      if (slot == 0 || slot == kTombstone) continue;
      const uint32_t id = static_cast<uint32_t>(slot) - 1;
      Insert(key_of(id), id, key_of);
    }
  }
  HugeVector<uint64_t> slots_;
  size_t mask_ = 0;
  size_t filled_ = 0;
  size_t size_ = 0;
};

// 48 bytes: the key (short ones inline, std::string's own buffer), the
// parent, how many refer to it.
struct ResourceNode {
  std::string ref;  // "type:id"; empty once freed
  uint32_t parent = kNone;
  uint32_t refs = 0;
  uint16_t type_len = 0;
  uint16_t type = 0;  // interned type name (Data::type_names)
  bool live = false;  // its record exists

  bool used() const { return !ref.empty(); }
  engine::EntityRef Ref() const {
    const std::string_view s(ref);
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
  std::string ref;  // empty once freed
  uint16_t type_len = 0;
  bool live = false;
  std::vector<AccessEntry> access;  // sorted by resource

  bool used() const { return !ref.empty(); }
};

// The live resources below one resource, one ordered set per type.
struct Descendants {
  std::vector<std::pair<uint16_t, OrderedIds>> by_type;

  const OrderedIds* Find(uint16_t type) const {
    for (const auto& [t, ids] : by_type) {
      if (t == type) return &ids;
    }
    return nullptr;
  }
};

struct DecisionIndex::Data {
  storage::Revision revision = 0;
  IdTable resource_ids, subject_ids;
  HugeVector<ResourceNode> resources;
  HugeVector<SubjectNode> subjects;
  // Each node's attributes, as stored (layout.h's attribute blob), by id:
  // conditions read them without a B-tree descent.
  HugeVector<std::string> resource_attrs, subject_attrs;
  std::vector<uint32_t> free_resources, free_subjects;
  // Resource type names, interned (ResourceNode::type).
  std::vector<std::string> type_names;
  // Invariant 4: the live resources below each resource (null: none), and
  // every live resource of each type.
  std::vector<std::unique_ptr<Descendants>> below;
  std::vector<OrderedIds> of_type;
  uint64_t ordered_entries = 0;  // ids in all of those sets
  uint64_t ordered_sets = 0;     // sets in `below`
  // Packed name lists ("a\0b"), each stored once.
  std::unordered_map<std::string, uint32_t> name_ids;
  std::vector<const std::string*> names;
  uint64_t live_resources = 0, live_subjects = 0, access_entries = 0;
  // Heap bytes of the keys and attribute blobs too long for std::string's
  // own buffer, kept as they change so that stats() reads no node.
  uint64_t string_bytes = 0;
  // By size, not capacity, so that an index built at once and one kept up
  // to date count the same contents alike.
  static uint64_t HeapBytes(const std::string& s) {
    return s.size() > 15 ? s.size() + 1 : 0;
  }
  // Replaces *blob with `value` (released when empty), keeping string_bytes.
  void SetBlob(std::string* blob, std::string_view value) {
    string_bytes -= HeapBytes(*blob);
    if (value.empty()) {
      std::string().swap(*blob);
    } else {
      blob->assign(value);
    }
    string_bytes += HeapBytes(*blob);
  }

  std::string_view ResourceKey(uint32_t id) const { return resources[id].ref; }
  // The interned id of a resource type name, or UINT16_MAX if none has it.
  uint16_t FindType(std::string_view name) const {
    for (size_t i = 0; i < type_names.size(); ++i) {
      if (type_names[i] == name) return static_cast<uint16_t>(i);
    }
    return UINT16_MAX;
  }
  // The set of live resources of `type` below `resource`, or null.
  const OrderedIds* Below(uint32_t resource, uint16_t type) const {
    const Descendants* d = below[resource].get();
    return d == nullptr ? nullptr : d->Find(type);
  }
  std::string_view SubjectKey(uint32_t id) const { return subjects[id].ref; }
  uint32_t FindResource(engine::EntityRef r) const {
    return resource_ids.Find(
        r, [this](uint32_t id) { return ResourceKey(id); });
  }
  uint32_t FindSubject(engine::EntityRef r) const {
    return subject_ids.Find(r,
                            [this](uint32_t id) { return SubjectKey(id); });
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
